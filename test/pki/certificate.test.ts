import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { buildCertificate, type CertificateOptions, encodeSerial, randomSerial } from '../../src/pki/certificate.js';
import { serialBytes } from '../../src/pki/cert-fields.js';
import { PkiError } from '../../src/pki/errors.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { extensionText, openssl, tempDir, verify, x509Text } from './openssl.js';

const isPkiError = (code: string) => (err: unknown) => err instanceof PkiError && err.code === code;
const rsa = generateKeyPair({ type: 'rsa', bits: 2048 });
const ec = generateKeyPair({ type: 'ec', curve: 'P-256' });
const base: CertificateOptions = {
  subject: [{ type: 'CN', value: 'unit' }],
  subjectPublicKey: rsa.spkiDer,
  signingKeyPem: rsa.privateKeyPem,
  serial: Buffer.from('0102', 'hex'),
  notBefore: new Date('2026-11-25T10:00:00.789Z'),
  notAfter: new Date('2031-11-25T10:00:00Z'),
  extensions: { keyUsage: ['digitalSignature'] },
};

test('randomSerial: 16 octets, top bit clear, DER keeps all 16 octets; lengths outside 1..20 refused', () => {
  for (let i = 0; i < 200; i++) {
    const s = randomSerial();
    assert.equal(s.length, 16);
    assert.equal(s[0]! & 0xc0, 0x40);
    assert.deepEqual(encodeSerial(s), s);
  }
  assert.equal(randomSerial(8).length, 8);
  for (const bad of [0, 21, 1.5]) assert.throws(() => randomSerial(bad), isPkiError('ERR_PKI_SERIAL'));
});

test('encodeSerial: leading zeros dropped, 00 added before a set top bit, zero and > 20 octets refused', () => {
  assert.equal(encodeSerial(Buffer.from('000001', 'hex')).toString('hex'), '01');
  assert.equal(encodeSerial(Buffer.from('83e9', 'hex')).toString('hex'), '0083e9');
  assert.throws(() => encodeSerial(Buffer.alloc(0)), isPkiError('ERR_PKI_SERIAL'));
  assert.throws(() => encodeSerial(Buffer.alloc(4)), isPkiError('ERR_PKI_SERIAL'));
  assert.equal(encodeSerial(Buffer.alloc(20, 0x7f)).length, 20);
  assert.throws(() => encodeSerial(Buffer.alloc(20, 0xff)), isPkiError('ERR_PKI_SERIAL'));
});

test('buildCertificate: RSA self-signed with every hash; openssl parses and verifies it', (t) => {
  const dir = tempDir(t);
  for (const hash of ['sha1', 'sha256', 'sha384', 'sha512'] as const) {
    const cert = buildCertificate({ ...base, hash, serial: Buffer.from('83e9080000005545af31', 'hex') });
    const x509 = new crypto.X509Certificate(cert.pem);
    assert.deepEqual(x509.raw, cert.der);
    assert.ok(x509.verify(crypto.createPublicKey(rsa.publicKeyPem)));
    const text = x509Text(cert.pem);
    assert.match(text, new RegExp(`Signature Algorithm: ${hash}WithRSAEncryption`));
    // Top bit set: a positive INTEGER with a leading 00 (openssl would print a minus sign otherwise).
    assert.equal(serialBytes(cert.der).toString('hex'), '0083e9080000005545af31');
    assert.match(text, /Serial Number:\s+83:e9:08:00:00:00:55:45:af:31/);
    assert.match(text, /Not Before: Nov 25 10:00:00 2026 GMT/); // milliseconds dropped
    assert.ok(verify(dir, cert.pem, cert.pem).ok);
  }
});

test('buildCertificate: EC subject and EC signer (ECDSA), PEM public key input', (t) => {
  const dir = tempDir(t);
  const cert = buildCertificate({ ...base, subjectPublicKey: ec.publicKeyPem, signingKeyPem: ec.privateKeyPem, hash: 'sha256' });
  const text = x509Text(cert.pem);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, /NIST CURVE: P-256/);
  assert.ok(verify(dir, cert.pem, cert.pem).ok);
});

test('buildCertificate: GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)', () => {
  const cert = buildCertificate({ ...base, notAfter: new Date('2051-01-01T00:00:00Z') });
  assert.match(openssl(['asn1parse', '-inform', 'DER'], cert.der), /GENERALIZEDTIME\s+:20510101000000Z/);
  assert.match(openssl(['asn1parse', '-inform', 'DER'], cert.der), /UTCTIME\s+:261125100000Z/);
});

test('buildCertificate: an issued certificate names its issuer byte for byte and carries authorityKeyIdentifier', (t) => {
  const dir = tempDir(t);
  const caKeys = generateKeyPair({ type: 'rsa', bits: 2048 });
  const ca = buildCertificate({
    ...base,
    subject: [
      { type: 'C', value: 'US' },
      { type: 'CN', value: 'Unit CA' },
    ],
    subjectPublicKey: caKeys.spkiDer,
    signingKeyPem: caKeys.privateKeyPem,
    extensions: { basicConstraints: { ca: true, pathLen: 0 }, keyUsage: ['keyCertSign', 'cRLSign'] },
  });
  const leaf = buildCertificate({
    ...base,
    signingKeyPem: undefined,
    issuer: { certPem: ca.pem, privateKeyPem: caKeys.privateKeyPem },
    subjectPublicKey: ec.spkiDer,
    extensions: { basicConstraints: { ca: false }, keyUsage: ['digitalSignature'] },
  });
  const caText = x509Text(ca.pem);
  const leafText = x509Text(leaf.pem);
  const ski = caText.split('X509v3 Subject Key Identifier:')[1]!.trim().split('\n')[0]!.trim();
  assert.match(leafText, new RegExp(`X509v3 Authority Key Identifier:\\s+(keyid:)?${ski}`));
  assert.match(leafText, /Issuer: C = US, CN = Unit CA/);
  assert.deepEqual(extensionText(leafText, 'X509v3 Basic Constraints'), { critical: true, value: 'CA:FALSE' });
  assert.ok(verify(dir, ca.pem, leaf.pem).ok);
  // Signed with a key that is not the issuer's: refused before anything is signed.
  assert.throws(
    () => buildCertificate({ ...base, signingKeyPem: undefined, issuer: { certPem: ca.pem, privateKeyPem: rsa.privateKeyPem } }),
    isPkiError('ERR_PKI_ISSUER_MISMATCH'),
  );
});

test('buildCertificate: bad input gives typed errors', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ serial: Buffer.alloc(2) }, 'ERR_PKI_SERIAL'],
    [{ serial: Buffer.alloc(21, 1) }, 'ERR_PKI_SERIAL'],
    [{ notAfter: base.notBefore }, 'ERR_PKI_VALIDITY'],
    [{ notBefore: new Date('1949-12-31T00:00:00Z') }, 'ERR_PKI_VALIDITY'],
    [{ notBefore: new Date(Number.NaN) }, 'ERR_PKI_VALIDITY'],
    [{ hash: 'md5' }, 'ERR_PKI_HASH'],
    [{ subject: [] }, 'ERR_PKI_DN'],
    [{ subject: [{ type: 'CN', value: '' }] }, 'ERR_PKI_DN'],
    [{ subject: [{ type: 'CN', value: 'a'.repeat(65) }] }, 'ERR_PKI_DN'],
    [{ subject: [{ type: 'CN', value: 'semi;colon' }] }, 'ERR_PKI_DN'],
    [{ subject: [{ type: 'CN', value: 'nul\u0000byte' }] }, 'ERR_PKI_DN'],
    [{ subject: [{ type: 'C', value: 'usa' }] }, 'ERR_PKI_DN'],
    [{ subject: [{ type: 'E', value: 'x' }] }, 'ERR_PKI_DN'],
    [{ subjectPublicKey: Buffer.from('not a key') }, 'ERR_PKI_KEY_PARSE'],
    [{ subjectPublicKey: 'garbage' }, 'ERR_PKI_KEY_PARSE'],
    [{ signingKeyPem: 'garbage' }, 'ERR_PKI_KEY_PARSE'],
    [{ signingKeyPem: undefined }, 'ERR_PKI_KEY_PARSE'],
    [{ signingKeyPem: ec.privateKeyPem }, 'ERR_PKI_ISSUER_MISMATCH'],
    [{ issuer: { certPem: 'nope', privateKeyPem: rsa.privateKeyPem } }, 'ERR_PKI_CERT_PARSE'],
    [{ extensions: { keyUsage: [] } }, 'ERR_PKI_PROFILE'],
    [{ extensions: { basicConstraints: { ca: false, pathLen: 0 } } }, 'ERR_PKI_PROFILE'],
    [{ extensions: { subjectAltName: [{ iPAddress: '::1' }] } }, 'ERR_PKI_PROFILE'],
  ];
  for (const [patch, code] of cases) {
    assert.throws(() => buildCertificate({ ...base, ...patch } as CertificateOptions), isPkiError(code), JSON.stringify(patch));
  }
});
