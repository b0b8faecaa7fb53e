/**
 * Passwords sbd answers a trunk's 401/407 challenges with (outgoing digest, RFC 3261 §22.2): stored encrypted
 * in the store with AES-256-GCM under a key file `<state>/keys/sip-trunk.key` (0600, made on first use), so a
 * copy of the database alone reveals none of them. Blob: version (1) ‖ IV (12) ‖ tag (16) ‖ ciphertext; the
 * trunk name and realm are the additional data, so a blob moved to another row does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StateLayout } from '../../store/state.js';
import { SbdError } from '../../lib/errors.js';

export const TrunkSecretCode = {
  /** The key file is missing (when decrypting) or not 64 hex digits. */
  key: 'ERR_SIP_TRUNK_KEY',
  /** A stored password in an unknown format, or one that does not decrypt with this key and row. */
  secret: 'ERR_SIP_TRUNK_SECRET',
} as const;
export type TrunkSecretCode = (typeof TrunkSecretCode)[keyof typeof TrunkSecretCode];

export class TrunkSecretError extends SbdError {
  declare readonly code: TrunkSecretCode;

  constructor(code: TrunkSecretCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export const TRUNK_SECRET_KEY_FILE = 'sip-trunk.key';

function writeKey(path: string, key: Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, key.toString('hex') + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

/** The key (made on first use when `create`): a cluster's publisher hands it to subscribers (cluster/membership-keys.ts). */
export function trunkSecretKey(keysDir: string, create: boolean): Buffer {
  const path = join(keysDir, TRUNK_SECRET_KEY_FILE);
  if (!existsSync(path)) {
    if (!create) throw new TrunkSecretError(TrunkSecretCode.key, `${path} is missing: the stored trunk passwords cannot be decrypted`);
    writeKey(path, randomBytes(32));
  }
  const hex = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new TrunkSecretError(TrunkSecretCode.key, `${path} is not 64 hex digits`);
  return Buffer.from(hex, 'hex');
}

/**
 * Installs a key received from the publisher (replaced in one rename: a subscriber's sipd reads the file at each
 * challenge, so it answers with the new key without a restart). The caller gives the file to its group.
 */
export function installTrunkSecretKey(keysDir: string, key: Buffer): void {
  if (key.length !== 32) throw new TrunkSecretError(TrunkSecretCode.key, 'a trunk-password key is 32 bytes');
  writeKey(join(keysDir, TRUNK_SECRET_KEY_FILE), key);
}

function key(layout: StateLayout, create: boolean): Buffer {
  return trunkSecretKey(layout.keysDir, create);
}

export function encryptTrunkPassword(layout: StateLayout, trunk: string, realm: string, password: string): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key(layout, true), iv);
  c.setAAD(Buffer.from(`${trunk}\u0000${realm}`, 'utf8'));
  const ct = Buffer.concat([c.update(password, 'utf8'), c.final()]);
  return Buffer.concat([Buffer.from([1]), iv, c.getAuthTag(), ct]);
}

export function decryptTrunkPassword(layout: StateLayout, trunk: string, realm: string, blob: Buffer): string {
  if (blob.length < 29 || blob[0] !== 1) throw new TrunkSecretError(TrunkSecretCode.secret, 'stored trunk password has an unknown format');
  const d = createDecipheriv('aes-256-gcm', key(layout, false), blob.subarray(1, 13));
  d.setAAD(Buffer.from(`${trunk}\u0000${realm}`, 'utf8'));
  d.setAuthTag(blob.subarray(13, 29));
  try {
    return Buffer.concat([d.update(blob.subarray(29)), d.final()]).toString('utf8');
  } catch (cause) {
    throw new TrunkSecretError(
      TrunkSecretCode.secret,
      `stored password of trunk ${trunk} (realm ${realm}) does not decrypt with this appliance's key`,
      { cause },
    );
  }
}
