/**
 * A config that does not open with a phone's key must not leave an OpenSSL error behind: the next node:crypto
 * call (reading another key) failed with the stale "rsa routines::pkcs decoding error" before native/rsa-pkcs1.ts
 * cleared node's own error queue as well.
 */
import { strict as assert } from 'node:assert';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { rsaPkcs1Decrypt } from '../../native/rsa-pkcs1.js';

test('a failed RSA PKCS#1 decryption leaves node:crypto working', () => {
  const a = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const b = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pemA = a.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const pemB = b.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const wrapped = crypto.publicEncrypt({ key: a.publicKey, padding: crypto.constants.RSA_PKCS1_PADDING }, Buffer.alloc(16, 7));
  for (let i = 0; i < 3; i++) {
    assert.equal(rsaPkcs1Decrypt(pemB, wrapped), undefined, 'the wrong key does not open it');
    assert.equal(crypto.createPrivateKey(pemA).asymmetricKeyType, 'rsa');
  }
  assert.deepEqual(rsaPkcs1Decrypt(pemA, wrapped), Buffer.alloc(16, 7));
});
