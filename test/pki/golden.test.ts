/**
 * Golden bytes: with fixed keys, serials and clock, every identity and an LSC come out byte for byte as
 * committed under test/fixtures/pki/ (RSA PKCS#1 v1.5 signatures are deterministic). A profile change that
 * alters them must be deliberate: regenerate with SBD_UPDATE_GOLDEN=1 and review the openssl text diff.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { issueLsc } from '../../src/pki/lsc.js';
import { generateIdentity, type IdentityName } from '../../src/pki/profiles.js';
import { tempDir, verify, x509Text } from './openssl.js';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/pki');
const key = (name: string) => fs.readFileSync(path.join(fixtures, name), 'utf8');
const update = process.env.SBD_UPDATE_GOLDEN === '1';
const now = new Date('2026-11-25T00:00:00Z');

function golden(file: string, pem: string): void {
  const full = path.join(fixtures, file);
  if (update) fs.writeFileSync(full, pem);
  assert.equal(pem, fs.readFileSync(full, 'utf8'), `${file} differs from the committed golden certificate`);
}

const identities: [IdentityName, string, string][] = [
  ['CallManager', 'test-signer-rsa2048.key', '11'],
  ['TVS', 'test-signer-rsa2048.key', '12'],
  ['CAPF', 'test-capf-rsa2048.key', '13'],
  ['ITLRecovery', 'test-signer-rsa2048.key', '14'],
  ['tomcat', 'test-signer-rsa2048.key', '15'],
];

function make(name: IdentityName, keyFile: string, serialByte: string) {
  return generateIdentity({
    name,
    hostname: 'sbd-pub.example.net',
    ipv4: '192.0.2.1',
    now,
    privateKeyPem: key(keyFile),
    serial: Buffer.from(`${serialByte}`.repeat(16), 'hex'),
  });
}

for (const [name, keyFile, serialByte] of identities) {
  test(`golden ${name} certificate`, () => {
    const a = make(name, keyFile, serialByte);
    const b = make(name, keyFile, serialByte);
    assert.deepEqual(a.certDer, b.certDer); // deterministic within a run
    golden(`golden-${name}.pem`, a.certPem);
    assert.match(x509Text(a.certPem), new RegExp(`Serial Number:\\s+${`${serialByte}:`.repeat(15)}${serialByte}`));
  });
}

test('golden LSC (RSA 2048 phone key, fixed serial and clock), verifies against the golden CAPF', (t) => {
  const dir = tempDir(t);
  const capf = make('CAPF', 'test-capf-rsa2048.key', '13');
  const phoneSpki = crypto.createPublicKey(key('test-phone-rsa2048.key')).export({ type: 'spki', format: 'der' });
  const lsc = issueLsc({
    capfCertPem: capf.certPem,
    capfKeyPem: capf.privateKeyPem,
    deviceName: 'SEP0123456789AB',
    subjectPublicKey: phoneSpki,
    serial: Buffer.from('2a'.repeat(16), 'hex'),
    now,
  });
  golden('golden-LSC-SEP0123456789AB.pem', lsc.pem);
  const v = verify(dir, fs.readFileSync(path.join(fixtures, 'golden-CAPF.pem'), 'utf8'), lsc.pem);
  assert.ok(v.ok, v.output);
});
