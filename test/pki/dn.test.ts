import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { certificateSignatureValue, cuCmDnString, publicKeyPkcs1Der, serialBytes } from '../../src/pki/dn.js';
import { PkiError } from '../../src/pki/errors.js';
import { openssl, tempDir } from './openssl.js';

/** A self-signed certificate made by openssl itself (the independent encoder of the names). */
function opensslCert(dir: string, subj: string, extra: string[] = [], keyAlg = ['-newkey', 'rsa:2048']): crypto.X509Certificate {
  const out = path.join(dir, `c-${Math.random().toString(36).slice(2)}.pem`);
  openssl(['req', '-x509', ...keyAlg, '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', out, '-days', '1', '-subj', subj, ...extra]);
  return new crypto.X509Certificate(fs.readFileSync(out));
}

test('cuCmDnString: CN, OU, O, L, ST, C whatever the certificate order; others after, in order, by short name', (t) => {
  const dir = tempDir(t);
  const cert = opensslCert(
    dir,
    '/emailAddress=pki@example.com/C=NZ/ST=Wellington/L=Te Aro/O=Example Ltd/OU=Voice/OU=Lab/CN=cucm.example.com/serialNumber=1234/DC=example',
  );
  assert.equal(
    cuCmDnString(cert),
    'CN=cucm.example.com;OU=Voice;OU=Lab;O=Example Ltd;L=Te Aro;ST=Wellington;C=NZ;emailAddress=pki@example.com;serialNumber=1234;DC=example',
  );
  assert.equal(cuCmDnString(cert.raw, 'issuer'), cuCmDnString(cert));
});

test('cuCmDnString: absent attributes are skipped; UTF-8 values stay as they are', (t) => {
  const dir = tempDir(t);
  const cert = opensslCert(dir, '/O=Café Zürich/CN=tvs-1', ['-utf8']);
  assert.equal(cuCmDnString(cert), 'CN=tvs-1;O=Café Zürich');
});

test('serialBytes: DER INTEGER content as is, with the leading 00 of a serial whose top bit is set', (t) => {
  const dir = tempDir(t);
  const high = opensslCert(dir, '/CN=high', ['-set_serial', '0x83E9080000005545AF31']);
  assert.equal(serialBytes(high).toString('hex'), '0083e9080000005545af31');
  const low = opensslCert(dir, '/CN=low', ['-set_serial', '0x0123']);
  assert.equal(serialBytes(low).toString('hex'), '0123');
});

test('publicKeyPkcs1Der: RSAPublicKey for RSA, uncompressed point for EC; certificateSignatureValue', (t) => {
  const dir = tempDir(t);
  const rsa = opensslCert(dir, '/CN=rsa');
  const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'der' });
  assert.deepEqual(publicKeyPkcs1Der(rsa), pkcs1);
  assert.equal(pkcs1.length, 270); // spec §1.3: 270 bytes for RSA 2048

  const ec = opensslCert(dir, '/CN=ec', [], ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const jwk = ec.publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  assert.deepEqual(publicKeyPkcs1Der(ec), point);

  // EC point compressed in the certificate: expanded to the uncompressed form.
  const compressedKey = path.join(dir, 'ck.pem');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', compressedKey]);
  const compressedOut = path.join(dir, 'cc.pem');
  openssl(['ec', '-in', compressedKey, '-conv_form', 'compressed', '-out', path.join(dir, 'ckc.pem')]);
  openssl(['req', '-x509', '-key', path.join(dir, 'ckc.pem'), '-out', compressedOut, '-days', '1', '-subj', '/CN=cmp']);
  const cmp = new crypto.X509Certificate(fs.readFileSync(compressedOut));
  const cjwk = cmp.publicKey.export({ format: 'jwk' });
  const full = publicKeyPkcs1Der(cmp);
  assert.equal(full.length, 65);
  assert.deepEqual(full, Buffer.concat([Buffer.of(4), Buffer.from(cjwk.x!, 'base64url'), Buffer.from(cjwk.y!, 'base64url')]));

  // The signature value equals what openssl prints for the certificate.
  const dump = openssl(['x509', '-noout', '-text'], rsa.toString()).split('Signature Value:')[1]!.replace(/[\s:]/g, '');
  assert.equal(certificateSignatureValue(rsa).toString('hex'), dump);
});

test('malformed certificates give ERR_PKI_CERT_PARSE, never a crash', (t) => {
  const dir = tempDir(t);
  const der = opensslCert(dir, '/CN=x').raw;
  const cases: Buffer[] = [
    Buffer.alloc(0),
    Buffer.from([0x30]),
    der.subarray(0, der.length - 1),
    Buffer.concat([der, Buffer.of(0)]),
    Buffer.from([0x30, 0x80, 0, 0]),
    Buffer.from([0x30, 0x85, 1, 2, 3, 4, 5]),
    Buffer.from([0x04, 0x01, 0x00]),
  ];
  // Random truncations and byte flips of a real certificate.
  for (let i = 0; i < 200; i++) {
    const copy = Buffer.from(der.subarray(0, 1 + Math.floor(Math.random() * der.length)));
    if (i % 2 === 0) copy[Math.floor(Math.random() * copy.length)] ^= 0xff;
    cases.push(copy);
  }
  for (const bad of cases) {
    for (const fn of [
      () => cuCmDnString(bad),
      () => serialBytes(bad),
      () => publicKeyPkcs1Der(bad),
      () => certificateSignatureValue(bad),
    ]) {
      try {
        fn();
      } catch (err) {
        assert.ok(err instanceof PkiError, `typed error for ${bad.toString('hex').slice(0, 40)}: ${String(err)}`);
        assert.equal(err.code, 'ERR_PKI_CERT_PARSE');
      }
    }
  }
  assert.throws(
    () => cuCmDnString('not a pem'),
    (e: unknown) => e instanceof PkiError && e.code === 'ERR_PKI_CERT_PARSE',
  );
});
