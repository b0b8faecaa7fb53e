import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PkiError } from '../../src/pki/errors.js';
import { generateKeyPair, type KeySpec, readKeyFile, writeKeyFile } from '../../src/pki/keys.js';
import { openssl, tempDir } from './openssl.js';

const isPkiError = (code: string) => (err: unknown) => err instanceof PkiError && err.code === code;

test('generateKeyPair: RSA and EC keys of every allowed size, read back by openssl', () => {
  const specs: KeySpec[] = [
    { type: 'rsa', bits: 2048 },
    { type: 'rsa', bits: 3072 },
    { type: 'ec', curve: 'P-256' },
    { type: 'ec', curve: 'P-384' },
    { type: 'ec', curve: 'P-521' },
  ];
  for (const spec of specs) {
    const kp = generateKeyPair(spec);
    assert.match(kp.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(kp.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
    const pub = crypto.createPublicKey({ key: kp.spkiDer, format: 'der', type: 'spki' });
    assert.equal(pub.export({ type: 'spki', format: 'pem' }), kp.publicKeyPem);
    const text = openssl(['pkey', '-noout', '-text'], kp.privateKeyPem);
    if (spec.type === 'rsa') {
      assert.match(text, new RegExp(`Private-Key: \\(${spec.bits} bit, 2 primes\\)`));
      assert.match(text, /publicExponent: 65537/);
    } else {
      assert.match(text, new RegExp(`NIST CURVE: ${spec.curve}`));
    }
  }
});

test('generateKeyPair: RSA 4096', () => {
  const kp = generateKeyPair({ type: 'rsa', bits: 4096 });
  assert.equal(crypto.createPublicKey(kp.publicKeyPem).asymmetricKeyDetails?.modulusLength, 4096);
});

test('generateKeyPair: unsupported specs give ERR_PKI_KEY_SPEC', () => {
  for (const bad of [{ type: 'rsa', bits: 1024 }, { type: 'ec', curve: 'secp256k1' }, { type: 'dsa' }]) {
    assert.throws(() => generateKeyPair(bad as unknown as KeySpec), isPkiError('ERR_PKI_KEY_SPEC'));
  }
});

test('writeKeyFile: mode 0600, parent created 0700, no temporary file left, readKeyFile reads it back', (t) => {
  const dir = tempDir(t);
  const keyDir = path.join(dir, 'keys', 'nested');
  const file = path.join(keyDir, 'CallManager.key');
  const kp = generateKeyPair({ type: 'ec', curve: 'P-256' });
  writeKeyFile(file, kp.privateKeyPem);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(keyDir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(dir, 'keys')).mode & 0o777, 0o700);
  assert.deepEqual(fs.readdirSync(keyDir), ['CallManager.key']);
  assert.equal(readKeyFile(file), kp.privateKeyPem);
});

test('writeKeyFile: replaces an existing key atomically (the old key until the rename, the new one after)', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'TVS.key');
  const first = generateKeyPair({ type: 'ec', curve: 'P-256' });
  const second = generateKeyPair({ type: 'ec', curve: 'P-384' });
  writeKeyFile(file, first.privateKeyPem);
  const inodeBefore = fs.statSync(file).ino;
  writeKeyFile(file, second.privateKeyPem);
  assert.equal(readKeyFile(file), second.privateKeyPem);
  // A rename puts a new inode in place: a reader holding the old file still sees the complete old key.
  assert.notEqual(fs.statSync(file).ino, inodeBefore);
  assert.deepEqual(fs.readdirSync(dir), ['TVS.key']);
});

test('writeKeyFile: a failing write leaves nothing behind and throws ERR_PKI_KEY_FILE', (t) => {
  const dir = tempDir(t);
  const target = path.join(dir, 'occupied');
  fs.mkdirSync(path.join(target, 'child'), { recursive: true }); // rename onto a non-empty directory fails
  assert.throws(() => writeKeyFile(target, generateKeyPair({ type: 'ec', curve: 'P-256' }).privateKeyPem), isPkiError('ERR_PKI_KEY_FILE'));
  assert.deepEqual(fs.readdirSync(dir), ['occupied']);
  assert.deepEqual(fs.readdirSync(target), ['child']);
});

test('readKeyFile: refuses other-accessible or group-writable files, symlinks, non-keys, oversize files', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'ITLRecovery.key');
  const kp = generateKeyPair({ type: 'ec', curve: 'P-256' });
  writeKeyFile(file, kp.privateKeyPem);
  for (const mode of [0o660, 0o604, 0o644, 0o620, 0o601, 0o650]) {
    fs.chmodSync(file, mode);
    assert.throws(
      () => readKeyFile(file),
      (err: unknown) => {
        assert.ok(err instanceof PkiError);
        assert.equal(err.code, 'ERR_PKI_KEY_FILE_MODE');
        assert.match(err.message, new RegExp(mode.toString(8)));
        return true;
      },
    );
  }
  fs.chmodSync(file, 0o400);
  assert.equal(readKeyFile(file), kp.privateKeyPem);
  fs.chmodSync(file, 0o640); // the role group's read (identity-store.ts applyKeyAccess)
  assert.equal(readKeyFile(file), kp.privateKeyPem);

  const link = path.join(dir, 'link.key');
  fs.symlinkSync(file, link);
  assert.throws(() => readKeyFile(link), isPkiError('ERR_PKI_KEY_FILE'));

  const notKey = path.join(dir, 'not.key');
  fs.writeFileSync(notKey, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
  assert.throws(() => readKeyFile(notKey), isPkiError('ERR_PKI_KEY_PARSE'));

  assert.throws(() => readKeyFile(file, { maxKeyFileBytes: 16 }), isPkiError('ERR_PKI_KEY_FILE'));
  assert.throws(() => readKeyFile(path.join(dir, 'missing.key')), isPkiError('ERR_PKI_KEY_FILE'));
  assert.throws(() => readKeyFile(dir), isPkiError('ERR_PKI_KEY_FILE'));
});
