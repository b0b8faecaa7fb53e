/**
 * End-user, application-user and admin accounts over the store: setting a password (and PIN) as a salted scrypt
 * record with the SIP digest HA1s for the realm, importing legacy SHA-1/SHA-2 hashes from an older system,
 * login with lockout (CredentialLockoutThreshold / CredentialLockoutMinutes) and re-hashing a legacy or weaker
 * record to the current policy at the first successful login.
 */
import type { Store, UserKind, UserRow } from '../store/index.js';
import { USER_KINDS } from '../store/index.js';
import { digestHa1 } from './digest-ha1.js';
import { CredentialError, CredentialErrorCode } from './errors.js';
import {
  SCRYPT_POLICY,
  burnVerification,
  hashSecret,
  legacyRecord,
  verifySecret,
  type LegacyAlgorithm,
  type ScryptPolicy,
  type StoredSecret,
} from './secret-hash.js';

/** Bounds on what an administrator may set. */
export const CREDENTIAL_LIMITS = {
  minPasswordChars: 8,
  maxPasswordBytes: 1024,
  minPinDigits: 4,
  maxPinDigits: 16,
  maxUseridChars: 128,
} as const;

export interface CredentialOptions {
  /** The scrypt policy new records are made with and old ones are measured against. Default SCRYPT_POLICY. */
  policy?: ScryptPolicy;
}

// SIP user part and HTTP basic/digest username without quoting trouble (RFC 3261 §25.1 "user" unreserved subset).
const USERID = /^[A-Za-z0-9][A-Za-z0-9._@+-]*$/;

export function checkUserid(userid: unknown): string {
  if (typeof userid !== 'string' || userid.length === 0 || userid.length > CREDENTIAL_LIMITS.maxUseridChars || !USERID.test(userid)) {
    throw new CredentialError(
      CredentialErrorCode.input,
      `user id must be 1 to ${CREDENTIAL_LIMITS.maxUseridChars} characters of letters, digits, ".", "_", "@", "+" or "-", starting with a letter or digit`,
    );
  }
  return userid;
}

export function checkPassword(password: unknown): string {
  if (typeof password !== 'string') throw new CredentialError(CredentialErrorCode.input, 'password must be a string');
  if ([...password].length < CREDENTIAL_LIMITS.minPasswordChars) {
    throw new CredentialError(CredentialErrorCode.input, `password must be at least ${CREDENTIAL_LIMITS.minPasswordChars} characters`);
  }
  if (Buffer.byteLength(password, 'utf8') > CREDENTIAL_LIMITS.maxPasswordBytes) {
    throw new CredentialError(CredentialErrorCode.input, `password must be at most ${CREDENTIAL_LIMITS.maxPasswordBytes} bytes`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(password))
    throw new CredentialError(CredentialErrorCode.input, 'password must not contain control characters');
  return password;
}

export function checkPin(pin: unknown): string {
  const { minPinDigits: lo, maxPinDigits: hi } = CREDENTIAL_LIMITS;
  if (typeof pin !== 'string' || !new RegExp(`^[0-9]{${lo},${hi}}$`).test(pin)) {
    throw new CredentialError(CredentialErrorCode.input, `PIN must be ${lo} to ${hi} digits`);
  }
  return pin;
}

function checkKind(kind: unknown): UserKind {
  if (!(USER_KINDS as readonly unknown[]).includes(kind))
    throw new CredentialError(CredentialErrorCode.input, `kind must be one of ${USER_KINDS.join(', ')}`);
  return kind as UserKind;
}

export interface SetPasswordInput {
  userid: string;
  password: string;
  /** Set or replace the PIN too; the existing PIN is kept when absent. */
  pin?: string | undefined;
  /** Digest realm for the HA1s. Default: the SipStationRealm parameter. */
  realm?: string | undefined;
  /** Default: the existing user's kind, else 'end'. */
  kind?: UserKind | undefined;
}

/** Creates the user or replaces its password (and PIN when given); stores HA1 (MD5, SHA-256) for the realm. */
export async function setPassword(store: Store, input: SetPasswordInput, options: CredentialOptions = {}): Promise<UserRow> {
  const userid = checkUserid(input.userid);
  const password = checkPassword(input.password);
  const pin = input.pin === undefined ? undefined : checkPin(input.pin);
  const kind = input.kind === undefined ? undefined : checkKind(input.kind);
  const policy = options.policy ?? SCRYPT_POLICY;
  const [pw, pinRecord] = await Promise.all([hashSecret(password, policy), pin === undefined ? undefined : hashSecret(pin, policy)]);
  return store.transaction(() => {
    const realm = input.realm ?? store.getParam('SipStationRealm');
    const old = store.getUser(userid);
    const user = store.putUser({
      userid,
      kind: kind ?? old?.kind ?? 'end',
      credentialHash: pw.hash,
      algorithm: pw.algorithm,
      params: pw.params,
      pinHash: pinRecord ? pinRecord.hash : (old?.pinHash ?? null),
      pinAlgorithm: pinRecord ? pinRecord.algorithm : (old?.pinAlgorithm ?? null),
    });
    const ha1 = digestHa1(userid, realm, password);
    store.putDigestCredential(userid, realm, ha1.ha1Md5, ha1.ha1Sha256);
    return user;
  });
}

/** Sets or replaces the PIN of an existing user. */
export async function setPin(store: Store, userid: string, pin: string, options: CredentialOptions = {}): Promise<UserRow> {
  checkPin(pin);
  const record = await hashSecret(pin, options.policy ?? SCRYPT_POLICY);
  return store.transaction(() => {
    const old = store.getUser(userid);
    if (!old) throw new CredentialError(CredentialErrorCode.input, `no user "${userid}"`);
    return store.putUser({ ...userFields(old), pinHash: record.hash, pinAlgorithm: record.algorithm });
  });
}

export interface ImportLegacyInput {
  userid: string;
  algorithm: LegacyAlgorithm;
  /** The old system's unsalted digest of the password, hex. */
  hexDigest: string;
  kind?: UserKind | undefined;
}

/**
 * Takes over a password hash from an older system as is. It verifies until the next successful login, which
 * replaces it with a scrypt record; until then the out-of-date credentials report lists the user. No digest HA1
 * can be derived from it: the SIP HA1s are written at that first login, when the password is known.
 */
export function importLegacy(store: Store, input: ImportLegacyInput): UserRow {
  const userid = checkUserid(input.userid);
  const record = legacyRecord(input.algorithm, input.hexDigest);
  const kind = input.kind === undefined ? undefined : checkKind(input.kind);
  return store.transaction(() => {
    const old = store.getUser(userid);
    return store.putUser({
      userid,
      kind: kind ?? old?.kind ?? 'end',
      credentialHash: record.hash,
      algorithm: record.algorithm,
      params: null,
      pinHash: old?.pinHash ?? null,
      pinAlgorithm: old?.pinAlgorithm ?? null,
    });
  });
}

function userFields(u: UserRow) {
  return {
    userid: u.userid,
    kind: u.kind,
    credentialHash: u.credentialHash,
    algorithm: u.algorithm,
    params: u.params,
    pinHash: u.pinHash,
    pinAlgorithm: u.pinAlgorithm,
  };
}

export interface LoginResult {
  user: UserRow;
  /** The algorithm the record had before this login re-hashed it; null when it was already current. */
  migratedFrom: string | null;
}

type SecretKind = 'password' | 'pin';

async function check(store: Store, userid: string, secret: string, which: SecretKind, policy: ScryptPolicy): Promise<LoginResult> {
  const user = typeof userid === 'string' ? store.getUser(userid) : undefined;
  if (!user) {
    await burnVerification(secret, policy);
    throw new CredentialError(CredentialErrorCode.invalid, 'unknown user or wrong credentials');
  }
  if (store.isUserLocked(user.userid)) {
    throw new CredentialError(
      CredentialErrorCode.locked,
      `account "${user.userid}" is locked until ${user.lockedUntil} after repeated failures`,
    );
  }
  const stored: StoredSecret | undefined =
    which === 'password'
      ? { algorithm: user.algorithm, hash: user.credentialHash }
      : user.pinHash && user.pinAlgorithm
        ? { algorithm: user.pinAlgorithm, hash: user.pinHash }
        : undefined;
  if (!stored) throw new CredentialError(CredentialErrorCode.noPin, `user "${user.userid}" has no PIN`);
  const result = typeof secret === 'string' ? await verifySecret(secret, stored, policy) : { ok: false, needsRehash: false };
  if (!result.ok) {
    const after = store.recordLoginResult(user.userid, false);
    const locked = store.isUserLocked(user.userid);
    throw new CredentialError(
      CredentialErrorCode.invalid,
      `unknown user or wrong credentials${locked ? `; the account is now locked until ${after.lockedUntil}` : ''}`,
    );
  }
  let migratedFrom: string | null = null;
  if (result.needsRehash) {
    const fresh = await hashSecret(secret, policy);
    // Compare-and-set: replace only the record this login verified (an administrator may have set a new one meanwhile).
    store.transaction(() => {
      const now = store.getUser(user.userid);
      if (!now) return;
      if (which === 'password' && now.credentialHash === stored.hash) {
        store.putUser({ ...userFields(now), credentialHash: fresh.hash, algorithm: fresh.algorithm, params: fresh.params });
        const realm = store.getParam('SipStationRealm');
        if (!store.getDigestCredential(now.userid, realm)) {
          const ha1 = digestHa1(now.userid, realm, secret);
          store.putDigestCredential(now.userid, realm, ha1.ha1Md5, ha1.ha1Sha256);
        }
        migratedFrom = stored.algorithm;
      } else if (which === 'pin' && now.pinHash === stored.hash) {
        store.putUser({ ...userFields(now), pinHash: fresh.hash, pinAlgorithm: fresh.algorithm });
        migratedFrom = stored.algorithm;
      }
    });
  }
  return { user: store.recordLoginResult(user.userid, true), migratedFrom };
}

/** Verifies a password; on success clears the failure count and re-hashes an out-of-date record. */
export function login(store: Store, userid: string, password: string, options: CredentialOptions = {}): Promise<LoginResult> {
  return check(store, userid, password, 'password', options.policy ?? SCRYPT_POLICY);
}

/** Verifies a PIN (extension mobility, conference): the same lockout counter as the password. */
export function verifyPin(store: Store, userid: string, pin: string, options: CredentialOptions = {}): Promise<LoginResult> {
  return check(store, userid, pin, 'pin', options.policy ?? SCRYPT_POLICY);
}
