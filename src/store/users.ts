import { nowIso, type StoreContext } from './context.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { hex, oneOf, optionalText, text } from './fields.js';
import { getIntParam } from './params.js';

/**
 * End, application and admin users: a credential hash with its algorithm and parameters (the admin issue picks
 * the algorithms; legacy ones are listed by algorithm until the next successful login re-hashes them), an
 * optional PIN hash, lockout state, and SIP digest credentials (HA1 per realm, RFC 3261 §22.4, RFC 8760).
 */

export const USER_KINDS = ['end', 'application', 'admin'] as const;
export type UserKind = (typeof USER_KINDS)[number];

export interface UserRow {
  id: number;
  userid: string;
  kind: UserKind;
  credentialHash: string;
  algorithm: string;
  params: string | null;
  pinHash: string | null;
  pinAlgorithm: string | null;
  failedAttempts: number;
  lockedUntil: string | null;
  lastLogin: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface UserInput {
  userid: string;
  credentialHash: string;
  algorithm: string;
  params?: string | null;
  pinHash?: string | null;
  pinAlgorithm?: string | null;
  kind?: UserKind;
}

export interface DigestCredentialRow {
  userid: string;
  realm: string;
  ha1Md5: string;
  ha1Sha256: string | null;
  /** The password itself, encrypted (src/credentials/phone-secret.ts), for delivery in a phone's config; null: not kept. */
  passwordEnc: Buffer | null;
  updatedAt: string;
}

/** Bounds on user fields. */
export const USER_LIMITS = {
  maxUseridChars: 128,
  maxHashChars: 1024,
  maxParamsChars: 1024,
  maxRealmChars: 128,
  /** Encrypted digest password: 29 bytes of header and 1 to 128 bytes of password (schema 7's CHECK). */
  minPasswordEncBytes: 30,
  maxPasswordEncBytes: 157,
} as const;

const E = StoreErrorCode.userInvalid;
const ALGORITHM = /^[A-Za-z0-9_-]{1,32}$/;

interface Raw {
  id: number;
  userid: string;
  kind: UserKind;
  credential_hash: string;
  algorithm: string;
  params: string | null;
  pin_hash: string | null;
  pin_algorithm: string | null;
  failed_attempts: number;
  locked_until: string | null;
  last_login: string | null;
  created_at: string;
  updated_at: string;
}

const SELECT = `SELECT id, userid, kind, credential_hash, algorithm, params, pin_hash, pin_algorithm, failed_attempts, locked_until,
  last_login, created_at, updated_at FROM users`;

function row(r: Raw): UserRow {
  return {
    id: r.id,
    userid: r.userid,
    kind: r.kind,
    credentialHash: r.credential_hash,
    algorithm: r.algorithm,
    params: r.params,
    pinHash: r.pin_hash,
    pinAlgorithm: r.pin_algorithm,
    failedAttempts: r.failed_attempts,
    lockedUntil: r.locked_until,
    lastLogin: r.last_login,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function algorithm(field: string, value: unknown): string {
  const a = text(E, field, value, 32);
  if (!ALGORITHM.test(a)) throw new StoreError(E, `${field} '${a}' must be letters, digits, '_' or '-'`);
  return a;
}

/** Creates the user or replaces its credentials and kind; lockout state and last login are kept. */
export function putUser(ctx: StoreContext, u: UserInput): UserRow {
  const userid = text(E, 'userid', u.userid, USER_LIMITS.maxUseridChars);
  const hash = text(E, 'credentialHash', u.credentialHash, USER_LIMITS.maxHashChars);
  const alg = algorithm('algorithm', u.algorithm);
  const params = optionalText(E, 'params', u.params, USER_LIMITS.maxParamsChars);
  const pinHash = optionalText(E, 'pinHash', u.pinHash, USER_LIMITS.maxHashChars);
  const pinAlg = u.pinAlgorithm === null || u.pinAlgorithm === undefined ? null : algorithm('pinAlgorithm', u.pinAlgorithm);
  if ((pinHash === null) !== (pinAlg === null)) throw new StoreError(E, 'pinHash and pinAlgorithm go together: give both or neither');
  const kind = oneOf(E, 'kind', u.kind ?? 'end', USER_KINDS);
  return ctx.write(() => {
    const now = nowIso(ctx.clock);
    ctx
      .stmt(
        `INSERT INTO users (userid, kind, credential_hash, algorithm, params, pin_hash, pin_algorithm, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (userid) DO UPDATE SET kind = excluded.kind, credential_hash = excluded.credential_hash,
           algorithm = excluded.algorithm, params = excluded.params, pin_hash = excluded.pin_hash,
           pin_algorithm = excluded.pin_algorithm, updated_at = excluded.updated_at`,
      )
      .run(userid, kind, hash, alg, params, pinHash, pinAlg, now, now);
    return getUser(ctx, userid)!;
  });
}

export function getUser(ctx: StoreContext, userid: string): UserRow | undefined {
  const r = ctx.stmt(`${SELECT} WHERE userid = ?`).get(userid) as Raw | undefined;
  return r && row(r);
}

export function listUsers(ctx: StoreContext): UserRow[] {
  return (ctx.stmt(`${SELECT} ORDER BY userid`).all() as Raw[]).map(row);
}

function userId(ctx: StoreContext, userid: string): number {
  const r = ctx.stmt('SELECT id FROM users WHERE userid = ?').get(userid) as { id: number } | undefined;
  if (!r) throw new StoreError(StoreErrorCode.userUnknown, `no user '${userid}'`);
  return r.id;
}

export function removeUser(ctx: StoreContext, userid: string): void {
  ctx.write(() => {
    ctx.stmt('DELETE FROM users WHERE id = ?').run(userId(ctx, userid));
  });
}

/**
 * Success clears the failure count and any lock and stamps lastLogin. Failure counts up; reaching
 * CredentialLockoutThreshold (0 = never) locks the account for CredentialLockoutMinutes.
 */
export function recordLoginResult(ctx: StoreContext, userid: string, ok: boolean): UserRow {
  return ctx.write(() => {
    const id = userId(ctx, userid);
    const now = ctx.clock.now();
    if (ok) {
      ctx
        .stmt('UPDATE users SET failed_attempts = 0, locked_until = NULL, last_login = ? WHERE id = ?')
        .run(new Date(now).toISOString(), id);
    } else {
      const threshold = getIntParam(ctx, 'CredentialLockoutThreshold');
      const minutes = getIntParam(ctx, 'CredentialLockoutMinutes');
      const failed = (ctx.stmt('SELECT failed_attempts AS n FROM users WHERE id = ?').get(id) as { n: number }).n + 1;
      const lockedUntil = threshold > 0 && failed >= threshold ? new Date(now + minutes * 60_000).toISOString() : null;
      ctx.stmt('UPDATE users SET failed_attempts = ?, locked_until = coalesce(?, locked_until) WHERE id = ?').run(failed, lockedUntil, id);
    }
    return getUser(ctx, userid)!;
  });
}

export function isUserLocked(ctx: StoreContext, userid: string): boolean {
  const u = getUser(ctx, userid);
  if (!u) throw new StoreError(StoreErrorCode.userUnknown, `no user '${userid}'`);
  return u.lockedUntil !== null && Date.parse(u.lockedUntil) > ctx.clock.now();
}

export function unlockUser(ctx: StoreContext, userid: string): void {
  ctx.write(() => {
    ctx.stmt('UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = ?').run(userId(ctx, userid));
  });
}

/**
 * HA1 = H(username ":" realm ":" password): MD5 (RFC 2617 §3.2.2.2) and SHA-256 (RFC 7616 §3.4.2), lower-case hex.
 * `passwordEnc` is the encrypted password for delivery to phones; a new HA1 without one clears the old blob (it
 * would be a password that no longer verifies).
 */
export function putDigestCredential(
  ctx: StoreContext,
  userid: string,
  realm: string,
  ha1Md5: string,
  ha1Sha256: string | null,
  passwordEnc: Buffer | null = null,
): void {
  const r = text(E, 'realm', realm, USER_LIMITS.maxRealmChars);
  const md5 = hex(E, 'ha1Md5', ha1Md5, [32]);
  const sha256 = ha1Sha256 === null ? null : hex(E, 'ha1Sha256', ha1Sha256, [64]);
  if (
    passwordEnc !== null &&
    (!Buffer.isBuffer(passwordEnc) ||
      passwordEnc.length < USER_LIMITS.minPasswordEncBytes ||
      passwordEnc.length > USER_LIMITS.maxPasswordEncBytes)
  ) {
    throw new StoreError(E, `passwordEnc must be ${USER_LIMITS.minPasswordEncBytes} to ${USER_LIMITS.maxPasswordEncBytes} bytes`);
  }
  ctx.write(() => {
    ctx
      .stmt(
        `INSERT INTO digest_credentials (user_id, realm, ha1_md5, ha1_sha256, password_enc, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (user_id, realm) DO UPDATE SET ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256,
           password_enc = excluded.password_enc, updated_at = excluded.updated_at`,
      )
      .run(userId(ctx, userid), r, md5, sha256, passwordEnc, nowIso(ctx.clock));
  });
}

export function getDigestCredential(ctx: StoreContext, userid: string, realm: string): DigestCredentialRow | undefined {
  return ctx
    .stmt(
      `SELECT u.userid, d.realm, d.ha1_md5 AS ha1Md5, d.ha1_sha256 AS ha1Sha256, d.password_enc AS passwordEnc, d.updated_at AS updatedAt
       FROM digest_credentials d JOIN users u ON u.id = d.user_id WHERE u.userid = ? AND d.realm = ?`,
    )
    .get(userid, realm) as DigestCredentialRow | undefined;
}

export function listDigestCredentials(ctx: StoreContext): DigestCredentialRow[] {
  return ctx
    .stmt(
      `SELECT u.userid, d.realm, d.ha1_md5 AS ha1Md5, d.ha1_sha256 AS ha1Sha256, d.password_enc AS passwordEnc, d.updated_at AS updatedAt
       FROM digest_credentials d JOIN users u ON u.id = d.user_id ORDER BY u.userid, d.realm`,
    )
    .all() as DigestCredentialRow[];
}
