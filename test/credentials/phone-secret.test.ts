/**
 * The phone digest password cipher (src/credentials/phone-secret.ts): golden bytes made with an independent
 * implementation (Python `cryptography` AESGCM, fixed key and IV), and every way a blob must fail with a typed
 * error: wrong key, moved to another row, tampered, unknown format, missing or malformed key file.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  PHONE_SECRET_KEY_FILE,
  PHONE_SECRET_LIMITS,
  checkPhonePassword,
  decryptPhonePassword,
  encryptPhonePassword,
  generatePhonePassword,
} from '../../src/credentials/phone-secret.js';

function keysDir(hex?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-phone-secret-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const keys = join(dir, 'keys');
  if (hex !== undefined) {
    mkdirSync(keys, { mode: 0o700 });
    writeFileSync(join(keys, PHONE_SECRET_KEY_FILE), hex + '\n', { mode: 0o600 });
  }
  return keys;
}

const isCode = (code: string) => (err: unknown) => (err as { code?: string }).code === code;

// Key 00 01 … 1f, IV a0 … ab, AAD "sbd-phone-digest\0SEP001122334455\0ccmsipline", password "Tr0ub4dor&3-phone";
// computed with Python's cryptography AESGCM as version ‖ IV ‖ tag ‖ ciphertext.
const GOLDEN_KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const GOLDEN = Buffer.from('01a0a1a2a3a4a5a6a7a8a9aaaba7d60fcb3d0eb42e581a5ca80d826267b26a4c5827ff66d01043b4fe7712afb015', 'hex');

test('golden: a blob made by an independent AES-256-GCM implementation decrypts to its password', () => {
  const keys = keysDir(GOLDEN_KEY);
  assert.equal(decryptPhonePassword(keys, 'SEP001122334455', 'ccmsipline', GOLDEN), 'Tr0ub4dor&3-phone');
});

test('round trip; the key file is made on first use, 0600, 64 hex digits; each blob has its own IV', () => {
  const keys = keysDir();
  const a = encryptPhonePassword(keys, 'alice', 'ccmsipline', 'correct horse');
  const b = encryptPhonePassword(keys, 'alice', 'ccmsipline', 'correct horse');
  assert.equal(statSync(join(keys, PHONE_SECRET_KEY_FILE)).mode & 0o777, 0o600);
  assert.match(readFileSync(join(keys, PHONE_SECRET_KEY_FILE), 'utf8'), /^[0-9a-f]{64}\n$/);
  assert.equal(a.length, 29 + Buffer.byteLength('correct horse'));
  assert.notDeepEqual(a, b);
  assert.equal(decryptPhonePassword(keys, 'alice', 'ccmsipline', a), 'correct horse');
  assert.equal(decryptPhonePassword(keys, 'alice', 'ccmsipline', b), 'correct horse');
  assert.ok(!a.includes(Buffer.from('correct horse')), 'no clear text in the blob');
});

test('another key, another row (user or realm), any altered byte: ERR_PHONE_SECRET_AUTH', () => {
  const keys = keysDir(GOLDEN_KEY);
  assert.throws(
    () => decryptPhonePassword(keysDir('ff'.repeat(32)), 'SEP001122334455', 'ccmsipline', GOLDEN),
    isCode('ERR_PHONE_SECRET_AUTH'),
  );
  assert.throws(() => decryptPhonePassword(keys, 'SEP001122334456', 'ccmsipline', GOLDEN), isCode('ERR_PHONE_SECRET_AUTH'));
  assert.throws(() => decryptPhonePassword(keys, 'SEP001122334455', 'other', GOLDEN), isCode('ERR_PHONE_SECRET_AUTH'));
  // The separator keeps ("a\0b", "c") and ("a", "b\0c") apart.
  const split = encryptPhonePassword(keys, 'ab', 'cdefgh', 'password1');
  assert.throws(() => decryptPhonePassword(keys, 'a', 'bcdefgh', split), isCode('ERR_PHONE_SECRET_AUTH'));
  for (let i = 1; i < GOLDEN.length; i++) {
    const bad = Buffer.from(GOLDEN);
    bad[i] = bad[i]! ^ 0x01;
    assert.throws(() => decryptPhonePassword(keys, 'SEP001122334455', 'ccmsipline', bad), isCode('ERR_PHONE_SECRET_AUTH'), `byte ${i}`);
  }
  assert.throws(
    () => decryptPhonePassword(keys, 'SEP001122334455', 'ccmsipline', Buffer.concat([GOLDEN, Buffer.from([0])])),
    isCode('ERR_PHONE_SECRET_AUTH'),
  );
});

test('unknown version, truncated blob: ERR_PHONE_SECRET_FORMAT; missing or malformed key: ERR_PHONE_SECRET_KEY', () => {
  const keys = keysDir(GOLDEN_KEY);
  const v2 = Buffer.from(GOLDEN);
  v2[0] = 2;
  assert.throws(() => decryptPhonePassword(keys, 'SEP001122334455', 'ccmsipline', v2), isCode('ERR_PHONE_SECRET_FORMAT'));
  assert.throws(
    () => decryptPhonePassword(keys, 'SEP001122334455', 'ccmsipline', GOLDEN.subarray(0, 29)),
    isCode('ERR_PHONE_SECRET_FORMAT'),
  );
  assert.throws(() => decryptPhonePassword(keysDir(), 'SEP001122334455', 'ccmsipline', GOLDEN), isCode('ERR_PHONE_SECRET_KEY'));
  assert.throws(
    () => decryptPhonePassword(keysDir('zz'.repeat(32)), 'SEP001122334455', 'ccmsipline', GOLDEN),
    isCode('ERR_PHONE_SECRET_KEY'),
  );
  assert.throws(() => encryptPhonePassword(keysDir('abcd'), 'u', 'r', 'password1'), isCode('ERR_PHONE_SECRET_KEY'));
});

test('generated passwords: 20 characters of the unambiguous alphabet, all different; input bounds', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const p = generatePhonePassword();
    assert.equal(p.length, PHONE_SECRET_LIMITS.generatedChars);
    for (const ch of p) assert.ok(PHONE_SECRET_LIMITS.alphabet.includes(ch), ch);
    assert.doesNotMatch(p, /[0O1lI]/);
    seen.add(p);
  }
  assert.equal(seen.size, 200);
  assert.equal(checkPhonePassword('12345678'), '12345678');
  assert.throws(() => checkPhonePassword('1234567'), isCode('ERR_PHONE_SECRET_INPUT'));
  assert.throws(() => checkPhonePassword('x'.repeat(129)), isCode('ERR_PHONE_SECRET_INPUT'));
  assert.throws(() => checkPhonePassword('password\r\nX: y'), isCode('ERR_PHONE_SECRET_INPUT'));
  assert.equal(checkPhonePassword('é'.repeat(64)).length, 64, '128 bytes of UTF-8 fit');
});
