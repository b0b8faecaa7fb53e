/**
 * A phone's view of one CTL or ITL: parsed once, with the signer candidates a phone draws from it — SAST records
 * (they authenticate the next .tlv, spec §1.5) and TFTP / CCM+TFTP records (they authenticate configs, §2.1) —
 * and whether it is the empty "rollback" ITL (§1.7). Thousands of simulated phones hold the same few lists, so
 * views are shared through a small cache keyed by the file's SHA-256.
 */
import { createHash } from 'node:crypto';
import { parseTrustFile } from '../trust/codec.js';
import { allRecordFields, headerFields, type HeaderFields, type RecordFields } from '../trust/fields.js';
import { candidatesFromRecords, configSignerRoles, listSignerRoles } from '../trust/candidates.js';
import { signedBytes, verifyDigestInfo } from '../trust/signature.js';
import { Role } from '../trust/tags.js';
import { sastCandidates, type SignerCandidate } from '../trust/verify.js';

export interface TrustListView {
  bytes: Buffer;
  sha256Hex: string;
  header: HeaderFields;
  records: RecordFields[];
  /** SAST records: who may sign the next CTL/ITL. */
  sast: SignerCandidate[];
  /** TFTP and CCM+TFTP records with a key: who may sign configs. */
  configSigners: SignerCandidate[];
  /** Prepare Cluster for Rollback: TFTP/TVS records present but with empty certificate sections. */
  rollback: boolean;
  /** The file's signature verifies with its own SAST record named in the header (self-consistency). */
  selfSigned: boolean;
}

const emptied = new Set<number>([Role.TFTP, Role.CCM_TFTP, Role.TVS]);

/** Rollback ITL: every TFTP/CCM+TFTP/TVS record lost its certificate and key, and there is at least one. */
export function isRollbackList(records: readonly RecordFields[]): boolean {
  const affected = records.filter((r) => emptied.has(r.role));
  return affected.length > 0 && affected.every((r) => !r.certificate && !r.publicKey && r.serial.length === 0);
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The candidate among `candidates` whose key verifies the file's signature, if any (spec §1.5). */
export function verifiedBy(bytes: Buffer, header: HeaderFields, candidates: readonly SignerCandidate[]): SignerCandidate | undefined {
  const data = signedBytes(bytes, header.signatureOffset, header.signature.length);
  return candidates.find((c) => verifyDigestInfo(data, header.hashName, c.publicKey, header.signature));
}

/** The DER certificate of the SAST record the header names as signer (what a phone would ask TVS about). */
export function signerCertificate(view: TrustListView): Buffer | undefined {
  return view.records.find((r) => r.role === Role.SAST && r.serial.equals(view.header.signerSerial) && r.certificate)?.certificate;
}

/** The TVS certificates a phone's lists name: the only servers it accepts as its TVS (spec §3.1). */
export function tvsCertificates(views: ReadonlyArray<TrustListView | undefined>): Buffer[] {
  return views.flatMap(
    (v) => v?.records.filter((r) => r.role === Role.TVS && r.certificate && r.certificate.length > 0).map((r) => r.certificate!) ?? [],
  );
}

/** Parses a CTL/ITL; throws TrustError on malformed bytes. */
export function viewTrustList(bytes: Buffer, source: string, sha?: string): TrustListView {
  const file = parseTrustFile(bytes, { kind: 'tlv', maxBytes: 0xffff });
  const header = headerFields(file);
  const records = allRecordFields(file);
  return {
    bytes,
    sha256Hex: sha ?? sha256Hex(bytes),
    header,
    records,
    sast: candidatesFromRecords(records, listSignerRoles, source),
    configSigners: candidatesFromRecords(records, configSignerRoles, source),
    rollback: isRollbackList(records),
    selfSigned: verifiedBy(bytes, header, sastCandidates(header, records)) !== undefined,
  };
}

export interface ViewCacheOptions {
  /** Distinct lists kept (a storm sees a handful). Default 64. */
  maxEntries?: number;
}

/** Parsed views shared by every phone of a process, keyed by SHA-256 + source label. */
export class TrustListViewCache {
  readonly #views = new Map<string, TrustListView>();
  readonly #max: number;

  constructor(options: ViewCacheOptions = {}) {
    this.#max = options.maxEntries ?? 64;
  }

  view(bytes: Buffer, source: string): TrustListView {
    const sha = sha256Hex(bytes);
    const key = `${sha}:${source}`;
    const hit = this.#views.get(key);
    if (hit) return hit;
    const v = viewTrustList(bytes, source, sha);
    if (this.#views.size >= this.#max) this.#views.delete(this.#views.keys().next().value!);
    this.#views.set(key, v);
    return v;
  }
}
