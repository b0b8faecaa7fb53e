/**
 * Keys a subscriber needs that only the publisher makes (issue 21, docs/cluster.md "Secrets"): the phone-password
 * key (`keys/sip-phone.key`: TFTP decrypts the digest passwords it delivers) and the trunk-password key
 * (`keys/sip-trunk.key`: SIP answers a trunk's challenge). The publisher keeps each in `sbd.cluster_keys`, wrapped
 * with AES-256-GCM under a key derived from the cluster secret; replication brings the rows to every standby;
 * `sbd cluster join` unwraps them and a subscriber's sbd-clusterd follows later changes (`followClusterKeys`).
 * Only the state owner's daemon holds the cluster secret; TFTP and SIP read their key file at each use (no restart).
 * A damaged or foreign row fails the GCM tag and the installed key is kept. Private keys never travel. sbd-clusterd
 * writes the rows in the publish transaction of the rows they decrypt; a copy waits for them (store/pg/key-pins.ts).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import type { Sql, TransactionSql } from 'postgres';
import { join } from 'node:path';
import { installPhoneSecretKey, PHONE_SECRET_KEY_FILE, phoneSecretKey } from '../credentials/phone-secret.js';
import { applyKeyAccess } from '../pki/identity-store.js';
import { installTrunkSecretKey, TRUNK_SECRET_KEY_FILE, trunkSecretKey } from '../sip/auth/trunk-secret.js';
import { clusterKeyId } from '../store/pg/key-pins.js';
import { applyMembershipSchema } from '../store/pg/replication-members.js';
import { MembershipError, MembershipErrorCode } from './membership-errors.js';

/** The keys handed to subscribers, by row name. */
export const CLUSTER_KEYS = { phonePassword: 'sip-phone', trunkPassword: 'sip-trunk' } as const;
export type ClusterKeyName = (typeof CLUSTER_KEYS)[keyof typeof CLUSTER_KEYS];

/**
 * Each key's file: read (`create`: made when missing; otherwise undefined when missing or unreadable) and install.
 * The publisher makes the phone key when it has none (configs need it from the first device on); the trunk key
 * only once a trunk credential made it (sbd trunk credential).
 */
const KEY_FILES: Record<
  ClusterKeyName,
  { file: string; create: boolean; read: (dir: string, create: boolean) => Buffer; install: (dir: string, key: Buffer) => void }
> = {
  'sip-phone': { file: PHONE_SECRET_KEY_FILE, create: true, read: phoneSecretKey, install: installPhoneSecretKey },
  'sip-trunk': { file: TRUNK_SECRET_KEY_FILE, create: false, read: trunkSecretKey, install: installTrunkSecretKey },
};

function readKeyFile(keysDir: string, name: ClusterKeyName, create: boolean): Buffer | undefined {
  try {
    return KEY_FILES[name].read(keysDir, create);
  } catch (err) {
    if (create) throw err;
    return undefined;
  }
}

function installKeyFile(keysDir: string, name: ClusterKeyName, key: Buffer): void {
  KEY_FILES[name].install(keysDir, key);
  applyKeyAccess(join(keysDir, KEY_FILES[name].file)); // its daemon's group (sbd-key-phone, sbd-key-sip) where it exists
}

const VERSION = 1;

function wrappingKey(secret: Buffer, name: string): Buffer {
  return createHmac('sha256', secret).update(`key-wrap:${name}`).digest();
}

/** version (1) ‖ IV (12) ‖ tag (16) ‖ ciphertext; the row name is the additional data. */
export function wrapClusterKey(secret: Buffer, name: string, key: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', wrappingKey(secret, name), iv);
  c.setAAD(Buffer.from(name, 'utf8'));
  const ct = Buffer.concat([c.update(key), c.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, c.getAuthTag(), ct]);
}

export function unwrapClusterKey(secret: Buffer, name: string, blob: Buffer): Buffer {
  if (blob.length < 1 + 12 + 16 || blob[0] !== VERSION)
    throw new MembershipError(MembershipErrorCode.key, `the publisher's ${name} key row has an unknown layout`);
  try {
    const d = createDecipheriv('aes-256-gcm', wrappingKey(secret, name), blob.subarray(1, 13));
    d.setAAD(Buffer.from(name, 'utf8'));
    d.setAuthTag(blob.subarray(13, 29));
    return Buffer.concat([d.update(blob.subarray(29)), d.final()]);
  } catch (err) {
    throw new MembershipError(
      MembershipErrorCode.key,
      `the publisher's ${name} key does not unwrap with this node's cluster secret (another cluster's password?)`,
      { cause: err },
    );
  }
}

async function hasKeysTable(sql: Sql): Promise<boolean> {
  const [exists] = await sql`SELECT to_regclass('sbd.cluster_keys') IS NOT NULL AS ok`;
  return exists?.ok === true;
}

/** `sbd.cluster_keys` with its `key_id` column (a primary migrated by an earlier build lacks one or both; the DDL is idempotent). */
export async function ensureClusterKeysTable(sql: Sql): Promise<void> {
  const [c] = await sql`SELECT count(*)::int AS n FROM information_schema.columns
    WHERE table_schema = 'sbd' AND table_name = 'cluster_keys' AND column_name = 'key_id'`;
  if (c?.n !== 1) await applyMembershipSchema(sql);
}

/** The publisher's keys as its files hold them now (the phone key made if this box has none yet), by row name. */
export function publisherClusterKeys(keysDir: string): Map<ClusterKeyName, Buffer> {
  const keys = new Map<ClusterKeyName, Buffer>();
  for (const name of Object.values(CLUSTER_KEYS)) {
    const key = readKeyFile(keysDir, name, KEY_FILES[name].create);
    if (key) keys.set(name, key);
  }
  return keys;
}

/**
 * On the publisher's primary: each key stored wrapped with its id (the phone key made now if this box has none yet),
 * a row rewritten only when the key differs from what it holds (a restored backup brings its own keys) or when it
 * does not unwrap (another cluster's row). The names written. Inside sbd-clusterd's publish transaction (`tx`, the
 * table ensured before) `readBefore` is what the files held before the store was read: a key replaced since throws
 * (ERR_CLUSTER_KEY, the publish rolled back and made again next round), so rows and key row always match.
 */
export async function publishClusterKeys(
  sql: Sql | TransactionSql,
  keysDir: string,
  secret: Buffer,
  readBefore?: ReadonlyMap<ClusterKeyName, Buffer>,
): Promise<ClusterKeyName[]> {
  if (!readBefore) await ensureClusterKeysTable(sql as Sql);
  const keys = publisherClusterKeys(keysDir);
  const written: ClusterKeyName[] = [];
  for (const name of Object.values(CLUSTER_KEYS)) {
    const key = keys.get(name);
    if (readBefore && !(readBefore.get(name)?.equals(key ?? Buffer.alloc(0)) ?? key === undefined))
      throw new MembershipError(
        MembershipErrorCode.key,
        `the publisher's ${name} key changed while the store was read: published next round`,
      );
    if (!key) continue;
    const id = clusterKeyId(key);
    const [row] = await sql`SELECT wrapped, key_id FROM sbd.cluster_keys WHERE name = ${name}`;
    if (row && row.key_id === id && unwrapsTo(secret, name, row.wrapped as Buffer, key)) continue;
    const wrapped = wrapClusterKey(secret, name, key);
    await sql`INSERT INTO sbd.cluster_keys (name, wrapped, key_id) VALUES (${name}, ${wrapped}, ${id})
      ON CONFLICT (name) DO UPDATE SET wrapped = excluded.wrapped, key_id = excluded.key_id, updated_at = now()`;
    written.push(name);
  }
  return written;
}

function unwrapsTo(secret: Buffer, name: string, blob: Buffer, key: Buffer): boolean {
  try {
    return unwrapClusterKey(secret, name, blob).equals(key);
  } catch {
    return false;
  }
}

/** What following one key did: `refused` keeps the key already installed (`message` says why). */
export interface KeyOutcome {
  name: ClusterKeyName;
  result: 'installed' | 'unchanged' | 'absent' | 'refused';
  /** The row's SHA-256, first 16 hex digits (a refused row is reported once, not at every poll). */
  row?: string;
  message?: string;
}

/**
 * On a subscriber, from its own standby: each wrapped key compared with the node's file and installed when it differs
 * (one rename; the daemons read the file at each use). A row that does not unwrap is `refused` and the file stays as
 * it was; a key with no row (`absent`) stays too.
 */
export async function followClusterKeys(sql: Sql, keysDir: string, secret: Buffer): Promise<KeyOutcome[]> {
  if (!(await hasKeysTable(sql))) return Object.values(CLUSTER_KEYS).map((name) => ({ name, result: 'absent' as const }));
  const rows = new Map((await sql`SELECT name, wrapped FROM sbd.cluster_keys`).map((r) => [r.name as string, r.wrapped as Buffer]));
  return Object.values(CLUSTER_KEYS).map((name): KeyOutcome => {
    const blob = rows.get(name);
    if (!blob) return { name, result: 'absent' };
    const row = createHash('sha256').update(blob).digest('hex').slice(0, 16);
    let key: Buffer;
    try {
      key = unwrapClusterKey(secret, name, blob);
      if (key.length !== 32)
        throw new MembershipError(MembershipErrorCode.key, `the publisher's ${name} key row holds ${key.length} bytes, not 32`);
    } catch (err) {
      if (!(err instanceof MembershipError)) throw err;
      return { name, result: 'refused', row, message: err.message };
    }
    if (readKeyFile(keysDir, name, false)?.equals(key)) return { name, result: 'unchanged', row };
    installKeyFile(keysDir, name, key);
    return { name, result: 'installed', row };
  });
}

/**
 * On a joining node, from its own standby: the keys installed in `keysDir`, their names (none: the publisher has
 * none on record). A row that does not unwrap fails the join (ERR_CLUSTER_KEY: the wrong cluster password).
 */
export async function installClusterKeys(sql: Sql, keysDir: string, secret: Buffer): Promise<ClusterKeyName[]> {
  const outcomes = await followClusterKeys(sql, keysDir, secret);
  const refused = outcomes.find((o) => o.result === 'refused');
  if (refused) throw new MembershipError(MembershipErrorCode.key, refused.message ?? `the ${refused.name} key row was refused`);
  return outcomes.filter((o) => o.result === 'installed' || o.result === 'unchanged').map((o) => o.name);
}
