/**
 * Verify a trust file's signature. A .tlv names its signer in header tags 4-6; the verifier tries the SAST records
 * whose serial equals header tag 5 (spec §1.5), then any candidates the caller knows (a phone's trust store, a
 * `--signer` certificate). A .sgn / .enc.sgn carries no records: its signer must come from the caller, usually
 * the TFTP / CCM+TFTP records of an ITL or CTL.
 */
import type { KeyObject } from 'node:crypto';
import { parseTrustFile, type TrustFile, type TrustFileKind } from './codec.js';
import { allRecordFields, headerFields, type HeaderFields, type RecordFields } from './fields.js';
import { publicKeyFromCertificate, publicKeyFromPkcs1, signedBytes, verifyDigestInfo } from './signature.js';
import { Role } from './tags.js';

export interface SignerCandidate {
  label: string;
  publicKey: KeyObject;
}

export interface VerifyResult {
  valid: boolean;
  /** Which candidate verified the signature. */
  signer: string | undefined;
  file: TrustFile;
  header: HeaderFields;
  records: RecordFields[];
}

export function sastCandidates(header: HeaderFields, records: readonly RecordFields[]): SignerCandidate[] {
  const out: SignerCandidate[] = [];
  for (const r of records) {
    if (r.role !== Role.SAST || !r.serial.equals(header.signerSerial)) continue;
    const key = (r.certificate && publicKeyFromCertificate(r.certificate)) || (r.publicKey && publicKeyFromPkcs1(r.publicKey));
    if (key) out.push({ label: `record ${r.index} (${r.subjectName})`, publicKey: key });
  }
  return out;
}

export function verifyParsed(bytes: Buffer, file: TrustFile, candidates: readonly SignerCandidate[] = []): VerifyResult {
  const header = headerFields(file);
  const records = allRecordFields(file);
  const data = signedBytes(bytes, header.signatureOffset, header.signature.length);
  const all = [...(file.kind === 'tlv' ? sastCandidates(header, records) : []), ...candidates];
  const hit = all.find((c) => verifyDigestInfo(data, header.hashName, c.publicKey, header.signature));
  return { valid: hit !== undefined, signer: hit?.label, file, header, records };
}

export function verifyTrustFile(
  bytes: Buffer,
  options: { kind?: TrustFileKind; candidates?: readonly SignerCandidate[] } = {},
): VerifyResult {
  const file = parseTrustFile(bytes, options.kind ? { kind: options.kind } : {});
  return verifyParsed(bytes, file, options.candidates);
}
