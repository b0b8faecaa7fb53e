/**
 * Hashing and checking one secret (a password or a PIN).
 *
 * Current form: scrypt (RFC 7914) from node:crypto, salted, with its parameters inside the stored record as a PHC
 * string — `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64 without padding) — so a record made under an older
 * policy still verifies and is recognised as out of date.
 * Legacy forms, imported from older systems and accepted only until the next successful login re-hashes them:
 * unsalted SHA-1, SHA-256 or SHA-512 of the UTF-8 secret, as lower-case hex.
 * Every comparison is constant-time (crypto.timingSafeEqual) over equal-length buffers.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { CredentialError, CredentialErrorCode } from './errors.js';

export interface ScryptPolicy {
  /** log2 of the CPU/memory cost N. Default 15 (N = 32768: 32 MiB with r = 8, about 0.1 s on one core). */
  log2N: number;
  /** Block size r. Default 8. */
  r: number;
  /** Parallelisation p. Default 1. */
  p: number;
  /** Derived key length in bytes. Default 32. */
  keyLength: number;
  /** Salt length in bytes. Default 16. */
  saltBytes: number;
}

export const SCRYPT_POLICY: Readonly<ScryptPolicy> = { log2N: 15, r: 8, p: 1, keyLength: 32, saltBytes: 16 };

/** Bounds on records read back, so a damaged or hostile record cannot ask for gigabytes of memory. */
export const SCRYPT_LIMITS = {
  minLog2N: 10,
  maxLog2N: 20,
  maxR: 32,
  maxP: 16,
  minKeyLength: 16,
  maxKeyLength: 64,
  minSaltBytes: 8,
  maxSaltBytes: 64,
} as const;

export const LEGACY_ALGORITHMS = { sha1: 40, sha256: 64, sha512: 128 } as const;
export type LegacyAlgorithm = keyof typeof LEGACY_ALGORITHMS;
export const CURRENT_ALGORITHM = 'scrypt';

export interface StoredSecret {
  algorithm: string;
  hash: string;
}

export interface HashedSecret extends StoredSecret {
  /** The cost parameters in readable form (also inside `hash`), for listings and reports. */
  params: string;
}

export interface ScryptRecord {
  log2N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function scrypt(secret: Buffer, salt: Buffer, keyLength: number, o: { log2N: number; r: number; p: number }): Promise<Buffer> {
  const N = 2 ** o.log2N;
  // maxmem must exceed 128·N·r (RFC 7914 §6: V is N blocks of 128·r bytes); leave room for B as well.
  const options: ScryptOptions = { N, r: o.r, p: o.p, maxmem: 128 * N * o.r + 128 * o.r * o.p + 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCb(secret, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))));
}

function secretBytes(secret: string): Buffer {
  // NFC so the same password typed on two keyboards (composed or decomposed accents) gives the same bytes.
  return Buffer.from(secret.normalize('NFC'), 'utf8');
}

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

export function formatScryptRecord(r: ScryptRecord): string {
  return `$scrypt$ln=${r.log2N},r=${r.r},p=${r.p}$${b64(r.salt)}$${b64(r.key)}`;
}

export function scryptParamsText(r: { log2N: number; r: number; p: number }): string {
  return `ln=${r.log2N},r=${r.r},p=${r.p}`;
}

export function parseScryptRecord(text: string): ScryptRecord {
  const bad = (why: string): CredentialError => new CredentialError(CredentialErrorCode.record, `stored scrypt record is damaged: ${why}`);
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(text);
  if (!m) throw bad('not of the form $scrypt$ln=N,r=R,p=P$salt$hash');
  const [log2N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  const L = SCRYPT_LIMITS;
  if (log2N < L.minLog2N || log2N > L.maxLog2N) throw bad(`ln ${log2N} outside ${L.minLog2N}..${L.maxLog2N}`);
  if (r < 1 || r > L.maxR || p < 1 || p > L.maxP) throw bad(`r ${r} or p ${p} outside 1..${L.maxR} / 1..${L.maxP}`);
  if (salt.length < L.minSaltBytes || salt.length > L.maxSaltBytes) throw bad(`salt of ${salt.length} bytes`);
  if (key.length < L.minKeyLength || key.length > L.maxKeyLength) throw bad(`hash of ${key.length} bytes`);
  return { log2N, r, p, salt, key };
}

export function checkPolicy(policy: ScryptPolicy): void {
  const L = SCRYPT_LIMITS;
  const ok =
    Number.isInteger(policy.log2N) &&
    policy.log2N >= L.minLog2N &&
    policy.log2N <= L.maxLog2N &&
    Number.isInteger(policy.r) &&
    policy.r >= 1 &&
    policy.r <= L.maxR &&
    Number.isInteger(policy.p) &&
    policy.p >= 1 &&
    policy.p <= L.maxP &&
    Number.isInteger(policy.keyLength) &&
    policy.keyLength >= L.minKeyLength &&
    policy.keyLength <= L.maxKeyLength &&
    Number.isInteger(policy.saltBytes) &&
    policy.saltBytes >= L.minSaltBytes &&
    policy.saltBytes <= L.maxSaltBytes;
  if (!ok) throw new TypeError(`scrypt policy out of bounds: ${JSON.stringify(policy)} (limits ${JSON.stringify(SCRYPT_LIMITS)})`);
}

/** A new salted scrypt record of `secret` under `policy`. */
export async function hashSecret(secret: string, policy: ScryptPolicy = SCRYPT_POLICY): Promise<HashedSecret> {
  checkPolicy(policy);
  const salt = randomBytes(policy.saltBytes);
  const key = await scrypt(secretBytes(secret), salt, policy.keyLength, policy);
  return {
    algorithm: CURRENT_ALGORITHM,
    hash: formatScryptRecord({ log2N: policy.log2N, r: policy.r, p: policy.p, salt, key }),
    params: scryptParamsText(policy),
  };
}

export function isLegacyAlgorithm(algorithm: string): algorithm is LegacyAlgorithm {
  return Object.hasOwn(LEGACY_ALGORITHMS, algorithm);
}

/** Validates an imported legacy hash: the algorithm's digest length in hex; returns it lower-cased. */
export function legacyRecord(algorithm: LegacyAlgorithm, hexDigest: string): StoredSecret {
  const want = LEGACY_ALGORITHMS[algorithm];
  if (typeof hexDigest !== 'string' || !new RegExp(`^[0-9a-fA-F]{${want}}$`).test(hexDigest)) {
    throw new CredentialError(
      CredentialErrorCode.input,
      `a ${algorithm} hash is ${want} hex digits, got ${typeof hexDigest === 'string' ? hexDigest.length + ' characters' : typeof hexDigest}`,
    );
  }
  return { algorithm, hash: hexDigest.toLowerCase() };
}

/** Out of date: a legacy algorithm, or scrypt weaker than the policy (a smaller N, r, p or key). */
export function isOutdated(stored: StoredSecret, policy: ScryptPolicy = SCRYPT_POLICY): boolean {
  if (stored.algorithm !== CURRENT_ALGORITHM) return true;
  let r: ScryptRecord;
  try {
    r = parseScryptRecord(stored.hash);
  } catch {
    return true;
  }
  return r.log2N < policy.log2N || r.r < policy.r || r.p < policy.p || r.key.length < policy.keyLength || r.salt.length < policy.saltBytes;
}

export interface VerifyResult {
  ok: boolean;
  /** True when ok and the record should be replaced by a current one (legacy algorithm or weaker parameters). */
  needsRehash: boolean;
}

export async function verifySecret(secret: string, stored: StoredSecret, policy: ScryptPolicy = SCRYPT_POLICY): Promise<VerifyResult> {
  let ok: boolean;
  if (stored.algorithm === CURRENT_ALGORITHM) {
    const r = parseScryptRecord(stored.hash);
    const key = await scrypt(secretBytes(secret), r.salt, r.key.length, r);
    ok = timingSafeEqual(key, r.key);
  } else if (isLegacyAlgorithm(stored.algorithm)) {
    const want = legacyRecord(stored.algorithm, stored.hash);
    const got = createHash(stored.algorithm).update(secretBytes(secret)).digest();
    ok = timingSafeEqual(got, Buffer.from(want.hash, 'hex'));
  } else {
    throw new CredentialError(CredentialErrorCode.record, `stored credential uses an unknown algorithm "${stored.algorithm}"`);
  }
  return { ok, needsRehash: ok && isOutdated(stored, policy) };
}

let dummy: Promise<StoredSecret> | undefined;

/**
 * The same scrypt work as a real check, against a throw-away record: an unknown user costs as much time as a
 * known one, so response time does not tell which user ids exist.
 */
export async function burnVerification(secret: string, policy: ScryptPolicy = SCRYPT_POLICY): Promise<void> {
  dummy ??= hashSecret(randomBytes(16).toString('hex'), policy);
  await verifySecret(secret, await dummy, policy);
}
