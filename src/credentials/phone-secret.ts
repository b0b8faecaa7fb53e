/**
 * A phone's SIP digest password, kept so it can be delivered to the phone in its (encrypted) config. The
 * registrar verifies with the HA1s (digest-ha1.ts); this is the only copy of the clear password, stored in
 * `digest_credentials.password_enc` encrypted with AES-256-GCM (`encryptPhonePassword`) under a key file
 * `<state>/keys/sip-phone.key` (0600, made on first use, carried by backups), so a copy of the database alone
 * reveals none. A key of its own, not the trunk key (sip-trunk.key): the daemon that builds phone configs needs
 * this one and never the trunks'.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SbdError } from '../lib/errors.js';
import { CredentialErrorCode, type PhoneSecretErrorCode } from './errors.js';
import { applyKeyAccess } from '../pki/identity-store.js';

export const PHONE_SECRET_KEY_FILE = 'sip-phone.key';

/** Its codes are CredentialErrorCode.phoneSecret*; the status is 500 (a server-side key or record problem). */
export class PhoneSecretError extends SbdError {
  declare readonly code: PhoneSecretErrorCode;

  constructor(code: PhoneSecretErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { statusHint: 500, ...(options?.cause === undefined ? {} : { cause: options.cause }) });
  }
}

/** Bounds: a generated password's length and alphabet, the largest password stored. */
export const PHONE_SECRET_LIMITS = {
  /** 20 characters from 56 symbols ≈ 116 bits, typed on a phone keypad if it must be. */
  generatedChars: 20,
  /** Letters and digits without the look-alikes 0 O 1 l I (a password may be read aloud or typed by hand). */
  alphabet: 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789',
  /** Phones take up to 128 characters in authPassword; the schema bounds the blob to match. */
  maxPasswordBytes: 128,
  minPasswordChars: 8,
} as const;

const VERSION = 1;
const HEADER = 1 + 12 + 16;

/** A fresh random password (crypto.randomInt: uniform, no modulo bias). */
export function generatePhonePassword(): string {
  const { alphabet, generatedChars } = PHONE_SECRET_LIMITS;
  let s = '';
  for (let i = 0; i < generatedChars; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

export function checkPhonePassword(password: string): string {
  const { minPasswordChars, maxPasswordBytes } = PHONE_SECRET_LIMITS;
  if ([...password].length < minPasswordChars || Buffer.byteLength(password, 'utf8') > maxPasswordBytes) {
    throw new PhoneSecretError(
      CredentialErrorCode.phoneSecretInput,
      `a phone's digest password must be ${minPasswordChars} characters to ${maxPasswordBytes} bytes`,
    );
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(password))
    throw new PhoneSecretError(CredentialErrorCode.phoneSecretInput, "a phone's digest password must not contain control characters");
  return password;
}

function keyPath(keysDir: string): string {
  return join(keysDir, PHONE_SECRET_KEY_FILE);
}

function writeKey(keysDir: string, key: Buffer): void {
  const path = keyPath(keysDir);
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, key.toString('hex') + '\n', { mode: 0o600 });
  renameSync(tmp, path);
  applyKeyAccess(path); // group sbd-key-phone (0640) where it exists: sbd-tftpd writes the passwords into configs
}

/** The key (made on first use when `create`): a cluster's publisher hands it to joining nodes (cluster/membership-keys.ts). */
export function phoneSecretKey(keysDir: string, create: boolean): Buffer {
  return readKey(keysDir, create);
}

/** Installs a key received from the publisher (a subscriber's TFTP then delivers the same stored passwords). */
export function installPhoneSecretKey(keysDir: string, key: Buffer): void {
  if (key.length !== 32) throw new PhoneSecretError(CredentialErrorCode.phoneSecretKey, 'a phone-password key is 32 bytes');
  writeKey(keysDir, key);
}

function readKey(keysDir: string, create: boolean): Buffer {
  const path = keyPath(keysDir);
  if (!existsSync(path)) {
    if (!create)
      throw new PhoneSecretError(
        CredentialErrorCode.phoneSecretKey,
        `${path} is missing: the stored phone digest passwords cannot be decrypted`,
      );
    writeKey(keysDir, randomBytes(32));
  }
  const hex = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new PhoneSecretError(CredentialErrorCode.phoneSecretKey, `${path} is not 64 hex digits`);
  return Buffer.from(hex, 'hex');
}

function aad(userid: string, realm: string): Buffer {
  return Buffer.from(`sbd-phone-digest\u0000${userid}\u0000${realm}`, 'utf8');
}

/**
 * Blob: version (1) ‖ IV (12) ‖ tag (16) ‖ ciphertext. The additional data binds the blob to its row
 * ("sbd-phone-digest" ‖ 0 ‖ userid ‖ 0 ‖ realm), so a blob copied to another user's or realm's row does not
 * decrypt (NIST SP 800-38D §5.2.1.1: AAD is authenticated, not encrypted).
 */
export function encryptPhonePassword(keysDir: string, userid: string, realm: string, password: string): Buffer {
  checkPhonePassword(password);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', readKey(keysDir, true), iv);
  c.setAAD(aad(userid, realm));
  const ct = Buffer.concat([c.update(password, 'utf8'), c.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, c.getAuthTag(), ct]);
}

export function decryptPhonePassword(keysDir: string, userid: string, realm: string, blob: Buffer): string {
  if (blob.length <= HEADER || blob[0] !== VERSION) {
    throw new PhoneSecretError(
      CredentialErrorCode.phoneSecretFormat,
      `stored digest password of ${userid} (realm ${realm}) has an unknown format`,
    );
  }
  const d = createDecipheriv('aes-256-gcm', readKey(keysDir, false), blob.subarray(1, 13));
  d.setAAD(aad(userid, realm));
  d.setAuthTag(blob.subarray(13, HEADER));
  try {
    return Buffer.concat([d.update(blob.subarray(HEADER)), d.final()]).toString('utf8');
  } catch (cause) {
    throw new PhoneSecretError(
      CredentialErrorCode.phoneSecretAuth,
      `stored digest password of ${userid} (realm ${realm}) does not decrypt with this appliance's ${PHONE_SECRET_KEY_FILE}`,
      { cause },
    );
  }
}
