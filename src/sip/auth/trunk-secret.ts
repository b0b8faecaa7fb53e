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

function key(layout: StateLayout, create: boolean): Buffer {
  const path = join(layout.keysDir, 'sip-trunk.key');
  if (!existsSync(path)) {
    if (!create) throw new TrunkSecretError(TrunkSecretCode.key, `${path} is missing: the stored trunk passwords cannot be decrypted`);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    renameSync(tmp, path);
  }
  const hex = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new TrunkSecretError(TrunkSecretCode.key, `${path} is not 64 hex digits`);
  return Buffer.from(hex, 'hex');
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
