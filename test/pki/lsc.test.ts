import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { cuCmDnString } from '../../src/pki/dn.js';
import { PkiError } from '../../src/pki/errors.js';
import { generateKeyPair, type KeySpec } from '../../src/pki/keys.js';
import { issueLsc, type LscOptions } from '../../src/pki/lsc.js';
import { generateIdentity } from '../../src/pki/profiles.js';
import { randomSerial } from '../../src/pki/certificate.js';
import { extensionText, tempDir, verify, x509Text } from './openssl.js';

const isPkiError = (code: string) => (err: unknown) => err instanceof PkiError && err.code === code;
const now = new Date('2026-11-25T12:00:00Z');
const capf = generateIdentity({ name: 'CAPF', hostname: 'cucm-pub', now, capfId: '0badcafe' });
const deviceName = 'SEP001122AABBCC';

const phoneKeys: [string, KeySpec, RegExp][] = [
  ['RSA 2048', { type: 'rsa', bits: 2048 }, /Public-Key: \(2048 bit\)/],
  ['EC P-256', { type: 'ec', curve: 'P-256' }, /NIST CURVE: P-256/],
  ['EC P-384', { type: 'ec', curve: 'P-384' }, /NIST CURVE: P-384/],
  ['EC P-521', { type: 'ec', curve: 'P-521' }, /NIST CURVE: P-521/],
];

for (const [label, spec, keyLine] of phoneKeys) {
  test(`LSC for a ${label} phone key: the §3.2 profile, signed by CAPF, openssl verify -CAfile CAPF`, (t) => {
    const dir = tempDir(t);
    const phone = generateKeyPair(spec);
    const lsc = issueLsc({
      capfCertPem: capf.certPem,
      capfKeyPem: capf.privateKeyPem,
      deviceName,
      subjectPublicKey: phone.spkiDer,
      serial: randomSerial(),
      now,
    });
    const text = x509Text(lsc.pem);
    assert.match(text, keyLine);
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    assert.match(text, /Subject: CN = SEP001122AABBCC\n/);
    assert.match(text, /Issuer: C = US, O = sbd, OU = VOICE, CN = CAPF-0badcafe, ST = CA, L = San Jose\n/);
    assert.match(text, /Not After : Nov 25 12:00:00 2031 GMT/);
    assert.deepEqual(extensionText(text, 'X509v3 Basic Constraints'), { critical: true, value: 'CA:FALSE' });
    assert.deepEqual(extensionText(text, 'X509v3 Key Usage'), { critical: true, value: 'Digital Signature, Key Encipherment' });
    assert.deepEqual(extensionText(text, 'X509v3 Extended Key Usage'), {
      critical: false,
      value: 'TLS Web Server Authentication, TLS Web Client Authentication, IPSec End System',
    });
    assert.deepEqual(extensionText(text, 'X509v3 Subject Alternative Name'), { critical: false, value: 'URI:SEP001122AABBCC' });
    assert.ok(text.includes('X509v3 Authority Key Identifier'));
    // The issuer string the ITL/TVS would show for this LSC is CAPF's subject string.
    assert.equal(cuCmDnString(lsc.der, 'issuer'), cuCmDnString(capf.certDer));
    assert.ok(new crypto.X509Certificate(lsc.pem).verify(new crypto.X509Certificate(capf.certPem).publicKey));
    for (const purpose of [[], ['-purpose', 'sslclient'], ['-purpose', 'sslserver']]) {
      const v = verify(dir, capf.certPem, lsc.pem, purpose);
      assert.ok(v.ok, `${purpose.join(' ')}: ${v.output}`);
    }
    // And not against some other CA.
    const other = generateIdentity({ name: 'CAPF', hostname: 'cucm-pub', now, capfId: '0badcafe' });
    assert.equal(verify(dir, other.certPem, lsc.pem).ok, false);
  });
}

test('LSC validity years and PEM public key input', () => {
  const phone = generateKeyPair({ type: 'ec', curve: 'P-256' });
  const lsc = issueLsc({
    capfCertPem: capf.certPem,
    capfKeyPem: capf.privateKeyPem,
    deviceName,
    subjectPublicKey: phone.publicKeyPem,
    serial: Buffer.of(7),
    now,
    validityYears: 2,
  });
  assert.match(x509Text(lsc.pem), /Not After : Nov 25 12:00:00 2028 GMT/);
});

test('issueLsc: bad input gives typed errors', () => {
  const phone = generateKeyPair({ type: 'ec', curve: 'P-256' });
  const other = generateKeyPair({ type: 'rsa', bits: 2048 });
  const base: LscOptions = {
    capfCertPem: capf.certPem,
    capfKeyPem: capf.privateKeyPem,
    deviceName,
    subjectPublicKey: phone.spkiDer,
    serial: randomSerial(),
    now,
  };
  const cases: [Record<string, unknown>, string][] = [
    [{ deviceName: 'SEP0011' }, 'ERR_PKI_DN'],
    [{ deviceName: 'sep001122aabbcc' }, 'ERR_PKI_DN'],
    [{ deviceName: 'SEP001122AABBCC\u0000' }, 'ERR_PKI_DN'],
    [{ validityYears: 0 }, 'ERR_PKI_VALIDITY'],
    [{ validityYears: 21 }, 'ERR_PKI_VALIDITY'],
    [{ now: new Date(Number.NaN) }, 'ERR_PKI_VALIDITY'],
    [{ subjectPublicKey: Buffer.from('3003020100', 'hex') }, 'ERR_PKI_KEY_PARSE'],
    [{ capfKeyPem: other.privateKeyPem }, 'ERR_PKI_ISSUER_MISMATCH'],
    [{ capfCertPem: 'x' }, 'ERR_PKI_CERT_PARSE'],
    [{ serial: Buffer.alloc(0) }, 'ERR_PKI_SERIAL'],
  ];
  for (const [patch, code] of cases) {
    assert.throws(() => issueLsc({ ...base, ...patch } as LscOptions), isPkiError(code), JSON.stringify(patch));
  }
});
