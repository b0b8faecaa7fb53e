/**
 * What CAPF asks of the appliance, and nothing more (issue 17 item 4), in CAPF's own words: its identity and TLS
 * parameters, the trust anchors a phone's certificate may chain to, the device whose pending operation it carries
 * out (lookup, status updates, the failure count in one transaction, an audit row), and issuing an LSC. The
 * store-backed implementation is src/daemons/adapters/capf-store.ts; a second store engine implements just this.
 */
import type { AuditInput, CertRow, DevicePatch, DeviceRow, NodeRow } from '../store/index.js';

/** What CAPF changes on a device: the operation's status and outcome, the LSC, the auth string and failure count. */
export type CapfDevicePatch = Pick<DevicePatch, 'capfOperation' | 'capfStatus' | 'lscPem' | 'capfAuthString' | 'capfAuthFailures'>;

/** An LSC for the key a phone generated (spec cisco-trust-formats §3.2), signed by this CAPF identity. */
export interface LscRequest {
  capfCertPem: string;
  capfKeyPem: string;
  /** SEP + MAC. */
  deviceName: string;
  /** The phone's SubjectPublicKeyInfo, DER. */
  subjectPublicKey: Uint8Array;
  now: Date;
  validityYears: number;
}

export interface CapfOperations {
  /** Moves on every store write: the identity and TLS parameters are read again only when it moved. */
  generation(): number;
  listNodes(): NodeRow[];
  /** The node's current CAPF certificate (its key is read by pki/identity-store.ts). */
  currentCertificate(name: 'CAPF', node: string): CertRow | undefined;
  /** A TLS parameter: `TLSCiphers` or `TLSMinVersion` (lib/tls-service.ts storeTlsProtocol). */
  getParam(name: string): string;
  /** Trust anchors for a phone's MIC or LSC: every certificate, current and history. */
  listCertificates(options: { includeHistory: true }): CertRow[];
  /** Operation lookup: the device with its pending operation, authentication mode and counters. */
  getDevice(name: string): DeviceRow | undefined;
  /** Status updates (and the LSC installed, fetched or deleted). */
  updateDevice(name: string, patch: CapfDevicePatch): DeviceRow;
  /** Runs `fn` as one write transaction (a failure counted and the operation cancelled together). */
  transaction<T>(fn: () => T): T;
  /** An audit row (authentication failures, an operation cancelled by them). */
  appendAudit(entry: AuditInput): void;
  /** Issues the LSC (serial chosen by the implementation); DER and PEM. */
  issueLsc(request: LscRequest): { der: Buffer; pem: string };
}
