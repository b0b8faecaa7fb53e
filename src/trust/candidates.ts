/** Signer candidates a verifier can draw on: certificates given by the operator, or the records of a trust list. */
import { X509Certificate } from 'node:crypto';
import type { RecordFields } from './fields.js';
import { publicKeyFromCertificate, publicKeyFromPkcs1 } from './signature.js';
import { Role, roleName } from './tags.js';
import type { SignerCandidate } from './verify.js';

export function candidateFromPem(pem: string, label: string): SignerCandidate {
  return { label, publicKey: new X509Certificate(pem).publicKey };
}

/** Roles that may sign configuration files (.sgn, .enc.sgn): TFTP and CCM+TFTP (spec §2.1). */
export const configSignerRoles: ReadonlySet<number> = new Set([Role.TFTP, Role.CCM_TFTP]);
/** Roles that may sign trust lists (.tlv): SAST (spec §1.4). */
export const listSignerRoles: ReadonlySet<number> = new Set([Role.SAST]);

export function candidatesFromRecords(records: readonly RecordFields[], roles: ReadonlySet<number>, source: string): SignerCandidate[] {
  const out: SignerCandidate[] = [];
  for (const r of records) {
    if (!roles.has(r.role)) continue;
    const key = (r.certificate && publicKeyFromCertificate(r.certificate)) || (r.publicKey && publicKeyFromPkcs1(r.publicKey));
    if (key) out.push({ label: `${source} record ${r.index} (${roleName(r.role)}, ${r.subjectName})`, publicKey: key });
  }
  return out;
}
