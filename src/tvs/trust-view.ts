/**
 * What TVS reads from the store, and nothing more (issue 17 item 4): the nodes and certificates it vouches for
 * (current and history, in one consistent read), its own identity, the TLS parameters (`TLSCiphers`,
 * `TLSMinVersion`), and the generation that says when to read them again. Declared here, in TVS's own words; the
 * store-backed implementation is src/daemons/adapters/tvs-store.ts (the SQLite `Store` also fits it as it is, which
 * tests use). A second store engine implements just this.
 */
import type { CertRow, NodeRow } from '../store/index.js';

export interface TvsTrustView {
  /** Moves on every store write; TVS reads the rest again only when it moved (one cheap call per request). */
  generation(): number;
  /** Runs `read` on one consistent state of the store (the trust map never mixes two states). */
  snapshot<T>(read: () => T): T;
  listNodes(): NodeRow[];
  /** Every certificate, current and history (TVS vouches for history too: phones may still hold it). */
  listCertificates(options: { includeHistory: true }): CertRow[];
  /** The node's current TVS certificate (its key is read by pki/identity-store.ts). */
  currentCertificate(name: 'TVS', node: string): CertRow | undefined;
  /** A TLS parameter: `TLSCiphers` or `TLSMinVersion` (lib/tls-service.ts storeTlsProtocol). */
  getParam(name: string): string;
}
