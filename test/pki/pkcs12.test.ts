import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PkiError } from '../../src/pki/errors.js';
import { exportPkcs12, importPkcs12 } from '../../src/pki/pkcs12.js';
import { generateIdentity } from '../../src/pki/profiles.js';
import { openssl, opensslStatus, tempDir } from './openssl.js';

const isPkiError = (code: string) => (err: unknown) => err instanceof PkiError && err.code === code;
const now = new Date('2026-11-25T12:00:00Z');
const itlRecovery = generateIdentity({ name: 'ITLRecovery', hostname: 'cucm-pub', now });
const password = 'Correct horse 42!';

test('exportPkcs12 → importPkcs12 gives back the same certificate, key and friendly name', () => {
  const der = exportPkcs12({
    certPem: itlRecovery.certPem,
    privateKeyPem: itlRecovery.privateKeyPem,
    password,
    friendlyName: 'ITLRecovery',
  });
  const back = importPkcs12(der, password);
  assert.equal(back.certPem, itlRecovery.certPem);
  assert.equal(back.privateKeyPem, itlRecovery.privateKeyPem);
  assert.equal(back.friendlyName, 'ITLRecovery');
});

test('openssl pkcs12 (OpenSSL 3, no -legacy) reads the export: PBES2/AES-256-CBC, the same key and certificate', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'ITLRecovery.p12');
  fs.writeFileSync(
    file,
    exportPkcs12({ certPem: itlRecovery.certPem, privateKeyPem: itlRecovery.privateKeyPem, password, friendlyName: 'ITLRecovery' }),
  );
  // -info prints the algorithms on stderr and the contents on stdout.
  const r = opensslStatus(['pkcs12', '-info', '-nodes', '-in', file, '-passin', `pass:${password}`]);
  assert.equal(r.status, 0, r.stderr);
  const info = r.stdout + r.stderr;
  assert.match(info, /MAC: sha1/);
  assert.match(info, /-----BEGIN PRIVATE KEY-----/);
  assert.match(info, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
  assert.match(info, /friendlyName: ITLRecovery/);
  const certOut = openssl(['pkcs12', '-nokeys', '-clcerts', '-in', file, '-passin', `pass:${password}`]);
  assert.deepEqual(new crypto.X509Certificate(certOut).raw, itlRecovery.certDer);
  const keyOut = openssl(['pkcs12', '-nocerts', '-nodes', '-in', file, '-passin', `pass:${password}`]);
  const key = crypto.createPrivateKey(keyOut.slice(keyOut.indexOf('-----BEGIN')));
  assert.equal(key.export({ type: 'pkcs8', format: 'pem' }), itlRecovery.privateKeyPem);
  // openssl refuses a wrong password too (the MAC is real).
  assert.notEqual(opensslStatus(['pkcs12', '-info', '-nodes', '-in', file, '-passin', 'pass:wrong']).status, 0);
});

test('importPkcs12 reads what openssl pkcs12 -export makes (RSA and EC, OpenSSL 3 defaults)', (t) => {
  const dir = tempDir(t);
  const ecId = generateIdentity({ name: 'tomcat', hostname: 'web', now, keySpec: { type: 'ec', curve: 'P-256' } });
  for (const id of [itlRecovery, ecId]) {
    fs.writeFileSync(path.join(dir, 'c.pem'), id.certPem);
    fs.writeFileSync(path.join(dir, 'k.pem'), id.privateKeyPem);
    const file = path.join(dir, 'o.p12');
    openssl([
      'pkcs12',
      '-export',
      '-in',
      path.join(dir, 'c.pem'),
      '-inkey',
      path.join(dir, 'k.pem'),
      '-name',
      'imported',
      '-out',
      file,
      '-passout',
      `pass:${password}`,
    ]);
    const back = importPkcs12(fs.readFileSync(file), password);
    assert.equal(back.certPem, id.certPem);
    assert.equal(back.privateKeyPem, id.privateKeyPem);
    assert.equal(back.friendlyName, 'imported');
    assert.throws(() => importPkcs12(fs.readFileSync(file), 'wrong password'), isPkiError('ERR_PKCS12_PASSWORD'));
  }
});

test('importPkcs12: wrong password → ERR_PKCS12_PASSWORD; damaged or foreign input → ERR_PKCS12_FORMAT', () => {
  const der = exportPkcs12({ certPem: itlRecovery.certPem, privateKeyPem: itlRecovery.privateKeyPem, password, friendlyName: 'x' });
  assert.throws(() => importPkcs12(der, 'not the password'), isPkiError('ERR_PKCS12_PASSWORD'));
  assert.throws(() => importPkcs12(Buffer.from('hello'), password), isPkiError('ERR_PKCS12_FORMAT'));
  assert.throws(() => importPkcs12(der.subarray(0, der.length - 10), password), isPkiError('ERR_PKCS12_FORMAT'));
  assert.throws(() => importPkcs12(itlRecovery.certDer, password), isPkiError('ERR_PKCS12_FORMAT'));
  assert.throws(() => importPkcs12(der, password, { maxPkcs12Bytes: 100 }), isPkiError('ERR_PKCS12_FORMAT'));
  // Flipped bits: a typed error, or (forge tolerates a few tag bits the MAC does not cover, e.g. the
  // [0] wrapper of the authSafe) exactly the original certificate and key; never a crash, never other bytes.
  for (let i = 0; i < 60; i++) {
    const copy = Buffer.from(der);
    copy[Math.floor(Math.random() * copy.length)] ^= 1 << Math.floor(Math.random() * 8);
    try {
      const back = importPkcs12(copy, password);
      assert.equal(back.certPem, itlRecovery.certPem);
      assert.equal(back.privateKeyPem, itlRecovery.privateKeyPem);
    } catch (err) {
      assert.ok(err instanceof PkiError, String(err));
    }
  }
});

test('exportPkcs12: EC identity, mismatched key, bad password → typed errors', () => {
  const ecId = generateIdentity({ name: 'tomcat', hostname: 'web', now, keySpec: { type: 'ec', curve: 'P-256' } });
  const other = generateIdentity({ name: 'TVS', hostname: 'web', now });
  const ok = { certPem: itlRecovery.certPem, privateKeyPem: itlRecovery.privateKeyPem, password, friendlyName: 'x' };
  assert.throws(() => exportPkcs12({ ...ok, certPem: ecId.certPem, privateKeyPem: ecId.privateKeyPem }), isPkiError('ERR_PKCS12_KEY_TYPE'));
  assert.throws(() => exportPkcs12({ ...ok, privateKeyPem: other.privateKeyPem }), isPkiError('ERR_PKI_ISSUER_MISMATCH'));
  assert.throws(() => exportPkcs12({ ...ok, certPem: 'nope' }), isPkiError('ERR_PKI_CERT_PARSE'));
  assert.throws(() => exportPkcs12({ ...ok, privateKeyPem: 'nope' }), isPkiError('ERR_PKI_KEY_PARSE'));
  for (const bad of ['', 'naïve', 'tab\there', 'x'.repeat(1025)]) {
    assert.throws(() => exportPkcs12({ ...ok, password: bad }), isPkiError('ERR_PKCS12_PASSWORD'));
  }
  assert.throws(() => exportPkcs12({ ...ok, iterations: 0 }), isPkiError('ERR_PKCS12_FORMAT'));
});
