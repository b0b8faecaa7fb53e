/**
 * Keys a subscriber needs that only the publisher makes (issue 21, docs/cluster.md "Secrets"): the phone-password
 * key (`keys/sip-phone.key`), with which a node's TFTP decrypts the stored digest passwords it delivers in configs.
 * The publisher (migrate, and sbd-clusterd on every publish) puts it in `sbd.cluster_keys` wrapped with AES-256-GCM
 * under a key derived from the cluster secret (HMAC-SHA-256, like the PostgreSQL passwords); replication brings the
 * row to every standby, and `sbd cluster join` unwraps it from its own standby into its keys folder. A node without
 * the cluster security password cannot unwrap it; a row from another cluster or a damaged one fails the GCM tag.
 * The private keys of certificates never travel (each node makes its own); this key is shared data, like the HA1s.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { Sql } from 'postgres';
import { installPhoneSecretKey, phoneSecretKey } from '../credentials/phone-secret.js';
import { applyMembershipSchema } from '../store/pg/replication-members.js';
import { MembershipError, MembershipErrorCode } from './membership-errors.js';

/** The keys handed to subscribers, by row name. */
export const CLUSTER_KEYS = { phonePassword: 'sip-phone' } as const;

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

/**
 * On the publisher's primary: the phone-password key (made now if this box has none yet) stored wrapped, rewritten
 * only when the key differs from what the row holds (a restored backup brings its own key). True when written.
 */
export async function publishClusterKeys(sql: Sql, keysDir: string, secret: Buffer): Promise<boolean> {
  const name = CLUSTER_KEYS.phonePassword;
  const key = phoneSecretKey(keysDir, true);
  // A primary migrated by an earlier build has no sbd.cluster_keys yet (the DDL is idempotent).
  const [exists] = await sql`SELECT to_regclass('sbd.cluster_keys') IS NOT NULL AS ok`;
  if (!exists?.ok) await applyMembershipSchema(sql);
  const [row] = await sql`SELECT wrapped FROM sbd.cluster_keys WHERE name = ${name}`;
  if (row && unwrapClusterKey(secret, name, row.wrapped as Buffer).equals(key)) return false;
  const wrapped = wrapClusterKey(secret, name, key);
  await sql`INSERT INTO sbd.cluster_keys (name, wrapped) VALUES (${name}, ${wrapped})
    ON CONFLICT (name) DO UPDATE SET wrapped = excluded.wrapped, updated_at = now()`;
  return true;
}

/** On a joining node, from its own standby: the keys installed in `keysDir`; their names (none: the publisher has none on record). */
export async function installClusterKeys(sql: Sql, keysDir: string, secret: Buffer): Promise<string[]> {
  const name = CLUSTER_KEYS.phonePassword;
  const [exists] = await sql`SELECT to_regclass('sbd.cluster_keys') IS NOT NULL AS ok`;
  if (!exists?.ok) return [];
  const [row] = await sql`SELECT wrapped FROM sbd.cluster_keys WHERE name = ${name}`;
  if (!row) return [];
  installPhoneSecretKey(keysDir, unwrapClusterKey(secret, name, row.wrapped as Buffer));
  return [name];
}
