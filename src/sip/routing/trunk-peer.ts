/**
 * Is this TLS peer the TLS trunk it claims to be by its address (issue 16 row 11)? A source address can be
 * spoofed over UDP and borrowed over TCP; a TLS trunk is that trunk only over TLS, with a certificate that the
 * transport verified (MessageSource.peerCertificate is set only then) and that was issued by a certificate of
 * the trunk's own CA bundle (`sbd trunk add --ca`, `sbd trunk ca`). Distinguished names are compared in the
 * transport's form ("C=…, O=…, CN=…").
 * Limit: the transport verifies inbound client certificates against the CAs of its TLS context; a trunk whose CA
 * is not among them is recognised on the connections sbd opened to it (verified against the trunk's CA), not on
 * connections the trunk opens.
 */
import { X509Certificate } from 'node:crypto';
import type { TrunkRow } from '../../store/index.js';
import type { MessageSource } from '../transports/types.js';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
/** CA bundles parsed once per text (a bundle is re-read when `sbd trunk ca` changes it). */
const subjectsByBundle = new Map<string, Set<string>>();
const MAX_CACHED_BUNDLES = 64;

function dn(x509Subject: string): string {
  return x509Subject
    .split('\n')
    .filter((l) => l.length > 0)
    .join(', ');
}

function subjectsOf(pem: string): Set<string> {
  let s = subjectsByBundle.get(pem);
  if (s) return s;
  s = new Set();
  for (const block of pem.match(PEM_BLOCK) ?? []) {
    try {
      s.add(dn(new X509Certificate(block).subject));
    } catch {
      // the store checked the bundle; a block that does not parse names no issuer
    }
  }
  if (subjectsByBundle.size >= MAX_CACHED_BUNDLES) subjectsByBundle.clear();
  subjectsByBundle.set(pem, s);
  return s;
}

/** `caPem`: the trunk's CA bundle; default the one the store holds for it. */
export function trunkPeerByIssuer(
  trunk: TrunkRow,
  source: MessageSource,
  caPem: string | Buffer | null | undefined = trunk.tlsCaPem,
): boolean {
  const cert = source.peerCertificate;
  if (source.transport !== 'tls' || !cert || caPem === null || caPem === undefined) return false;
  return subjectsOf(caPem.toString()).has(cert.issuer);
}
