import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { cuCmDnString } from '../../src/pki/dn.js';
import { PkiError } from '../../src/pki/errors.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { generateIdentity, type IdentityName, type IdentityOptions } from '../../src/pki/profiles.js';
import { extensionText, tempDir, verify, x509Text } from './openssl.js';

const isPkiError = (code: string) => (err: unknown) => err instanceof PkiError && err.code === code;
const now = new Date('2026-11-25T08:30:00Z');
const hostname = 'cucm-pub.example.com';

interface Expect {
  cn: string | RegExp;
  ou: string;
  ku: string;
  eku: string;
  san?: string;
  basicConstraints?: string;
  years: number;
}
const expectations: Record<IdentityName, Expect> = {
  CallManager: {
    cn: hostname,
    ou: 'VOICE',
    ku: 'Digital Signature, Key Encipherment, Data Encipherment, Key Agreement',
    eku: 'TLS Web Server Authentication, TLS Web Client Authentication, IPSec End System',
    san: `DNS:${hostname}`,
    years: 5,
  },
  TVS: {
    cn: hostname,
    ou: 'TVS',
    ku: 'Digital Signature, Key Encipherment, Data Encipherment, Key Agreement',
    eku: 'TLS Web Server Authentication, TLS Web Client Authentication',
    san: `DNS:${hostname}`,
    years: 5,
  },
  CAPF: {
    cn: /^CAPF-[0-9a-f]{8}$/,
    ou: 'VOICE',
    ku: 'Digital Signature, Certificate Sign, CRL Sign',
    eku: 'TLS Web Server Authentication, TLS Web Client Authentication, IPSec End System',
    basicConstraints: 'CA:TRUE, pathlen:0',
    years: 5,
  },
  ITLRecovery: {
    cn: `ITLRECOVERY_${hostname}`,
    ou: 'VOICE',
    ku: 'Digital Signature, Key Encipherment',
    eku: 'TLS Web Server Authentication, TLS Web Client Authentication',
    years: 20,
  },
  tomcat: {
    cn: hostname,
    ou: 'VOICE',
    ku: 'Digital Signature, Key Encipherment',
    eku: 'TLS Web Server Authentication',
    san: `DNS:${hostname}, IP Address:192.0.2.10`,
    years: 5,
  },
};

for (const [name, want] of Object.entries(expectations) as [IdentityName, Expect][]) {
  test(`${name}: RSA 2048, self-signed, profile extensions and validity as openssl reads them`, (t) => {
    const dir = tempDir(t);
    const id = generateIdentity({ name, hostname, ipv4: '192.0.2.10', now });
    const text = x509Text(id.certPem);
    assert.match(text, /Public-Key: \(2048 bit\)/);
    assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
    const subject = new crypto.X509Certificate(id.certPem).subject.split('\n');
    // CUCM's attribute order inside the certificate.
    assert.deepEqual(
      subject.map((l) => l.split('=')[0]),
      ['C', 'O', 'OU', 'CN', 'ST', 'L'],
    );
    const cn = subject.find((l) => l.startsWith('CN='))!.slice(3);
    if (typeof want.cn === 'string') assert.equal(cn, want.cn);
    else assert.match(cn, want.cn);
    assert.equal(cuCmDnString(id.certDer), `CN=${cn};OU=${want.ou};O=sbd;L=San Jose;ST=CA;C=US`);
    assert.equal(cuCmDnString(id.certDer, 'issuer'), cuCmDnString(id.certDer));
    assert.deepEqual(extensionText(text, 'X509v3 Key Usage'), { critical: true, value: want.ku });
    assert.deepEqual(extensionText(text, 'X509v3 Extended Key Usage'), { critical: false, value: want.eku });
    assert.equal(extensionText(text, 'X509v3 Subject Alternative Name')?.value, want.san);
    assert.deepEqual(
      extensionText(text, 'X509v3 Basic Constraints'),
      want.basicConstraints === undefined ? undefined : { critical: true, value: want.basicConstraints },
    );
    assert.match(text, /Not Before: Nov 25 08:30:00 2026 GMT/);
    assert.match(text, new RegExp(`Not After : Nov 25 08:30:00 ${2026 + want.years} GMT`));
    assert.deepEqual(id.notBefore, now);
    assert.equal(id.notAfter.getUTCFullYear(), 2026 + want.years);
    assert.equal(id.serial.length, 16);
    const v = verify(dir, id.certPem, id.certPem);
    assert.ok(v.ok, v.output);
    // The private key is the certificate's.
    assert.ok(new crypto.X509Certificate(id.certPem).checkPrivateKey(crypto.createPrivateKey(id.privateKeyPem)));
  });
}

test('tomcat without an IPv4 address: SAN has the DNS name only', () => {
  const id = generateIdentity({ name: 'tomcat', hostname: 'web1', now });
  assert.equal(extensionText(x509Text(id.certPem), 'X509v3 Subject Alternative Name')?.value, 'DNS:web1');
});

test('ITLRecovery validity: 5, 10, 15 or 20 years; anything else refused; other identities 5 only', () => {
  const key = generateKeyPair({ type: 'rsa', bits: 2048 }).privateKeyPem;
  for (const years of [5, 10, 15, 20]) {
    const id = generateIdentity({ name: 'ITLRecovery', hostname, now, validityYears: years, privateKeyPem: key });
    assert.match(x509Text(id.certPem), new RegExp(`Not After : Nov 25 08:30:00 ${2026 + years} GMT`));
  }
  for (const years of [0, 1, 7, 25, 10.5, -5]) {
    assert.throws(
      () => generateIdentity({ name: 'ITLRecovery', hostname, now, validityYears: years, privateKeyPem: key }),
      isPkiError('ERR_PKI_VALIDITY'),
    );
  }
  for (const name of ['CallManager', 'TVS', 'CAPF', 'tomcat'] as const) {
    assert.throws(() => generateIdentity({ name, hostname, now, validityYears: 10, privateKeyPem: key }), isPkiError('ERR_PKI_VALIDITY'));
  }
});

test('key specs: RSA 3072/4096 and EC selectable', () => {
  const rsa3072 = generateIdentity({ name: 'CallManager', hostname, now, keySpec: { type: 'rsa', bits: 3072 } });
  assert.match(x509Text(rsa3072.certPem), /Public-Key: \(3072 bit\)/);
  const rsa4096 = generateIdentity({ name: 'ITLRecovery', hostname, now, keySpec: { type: 'rsa', bits: 4096 } });
  assert.match(x509Text(rsa4096.certPem), /Public-Key: \(4096 bit\)/);
  const ecTomcat = generateIdentity({ name: 'tomcat', hostname, now, keySpec: { type: 'ec', curve: 'P-384' } });
  const text = x509Text(ecTomcat.certPem);
  assert.match(text, /NIST CURVE: P-384/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
});

test('organisation attributes, CAPF id rule, reuse of a key', () => {
  const key = generateKeyPair({ type: 'rsa', bits: 2048 });
  const org = { O: 'Example Ltd', OU: 'Telephony', L: 'Wellington', ST: 'Wellington', C: 'NZ' };
  const capf = generateIdentity({ name: 'CAPF', hostname, now, org, privateKeyPem: key.privateKeyPem });
  const id = crypto.createHash('sha256').update(key.spkiDer).digest('hex').slice(0, 8);
  assert.equal(cuCmDnString(capf.certDer), `CN=CAPF-${id};OU=Telephony;O=Example Ltd;L=Wellington;ST=Wellington;C=NZ`);
  const fixed = generateIdentity({ name: 'CAPF', hostname, now, capfId: '2076a1a2', privateKeyPem: key.privateKeyPem });
  assert.match(cuCmDnString(fixed.certDer), /^CN=CAPF-2076a1a2;OU=VOICE;/);
  assert.equal(crypto.createPrivateKey(fixed.privateKeyPem).export({ type: 'pkcs8', format: 'pem' }), key.privateKeyPem);
  const partial = generateIdentity({ name: 'TVS', hostname, now, org: { O: 'Other' }, privateKeyPem: key.privateKeyPem });
  assert.equal(cuCmDnString(partial.certDer), `CN=${hostname};OU=TVS;O=Other;L=San Jose;ST=CA;C=US`);
});

test('generateIdentity: bad input gives typed errors', () => {
  const key = generateKeyPair({ type: 'ec', curve: 'P-256' }).privateKeyPem;
  const base: IdentityOptions = { name: 'CallManager', hostname, now, privateKeyPem: key };
  const cases: [Record<string, unknown>, string][] = [
    [{ name: 'HTTPS' }, 'ERR_PKI_PROFILE'],
    [{ name: 'toString' }, 'ERR_PKI_PROFILE'],
    [{ hostname: '' }, 'ERR_PKI_DN'],
    [{ hostname: 'bad_host' }, 'ERR_PKI_DN'],
    [{ hostname: '-lead.example' }, 'ERR_PKI_DN'],
    [{ hostname: 'a'.repeat(64) }, 'ERR_PKI_DN'],
    [{ name: 'ITLRecovery', hostname: `${'a'.repeat(60)}` }, 'ERR_PKI_DN'], // ITLRECOVERY_ + 60 > 64 (ub-common-name)
    [{ ipv4: '300.1.1.1' }, 'ERR_PKI_PROFILE'],
    [{ ipv4: '::1' }, 'ERR_PKI_PROFILE'],
    [{ capfId: 'XYZ', name: 'CAPF' }, 'ERR_PKI_PROFILE'],
    [{ org: { C: 'USA' } }, 'ERR_PKI_DN'],
    [{ org: { O: '' } }, 'ERR_PKI_DN'],
    [{ org: { OU: 'a;b' } }, 'ERR_PKI_DN'],
    [{ now: new Date('invalid') }, 'ERR_PKI_VALIDITY'],
    [{ privateKeyPem: 'junk' }, 'ERR_PKI_KEY_PARSE'],
    [{ privateKeyPem: undefined, keySpec: { type: 'rsa', bits: 1024 } }, 'ERR_PKI_KEY_SPEC'],
    [{ serial: Buffer.alloc(1) }, 'ERR_PKI_SERIAL'],
    [{ hash: 'md5' }, 'ERR_PKI_HASH'],
  ];
  for (const [patch, code] of cases) {
    assert.throws(() => generateIdentity({ ...base, ...patch } as IdentityOptions), isPkiError(code), JSON.stringify(patch));
  }
});
