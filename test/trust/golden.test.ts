/**
 * Golden bytes: with fixed keys (test/fixtures/trust) and a fixed clock every signed artifact sbd makes is
 * byte-for-byte reproducible. The expected SHA-256 values were recorded once from this code and checked with the
 * independent checker (../shared/tools/tlv-check.py), which every test here runs again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { headerFields } from '../../src/trust/fields.js';
import { parseTrustFile } from '../../src/trust/codec.js';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTrustList, ctlRecordInputs, itlRecordInputs, type TrustListInputs } from '../../src/trust/lists.js';
import { buildSgn, sgnBody } from '../../src/trust/sgn.js';
import { buildEncryptedConfig, decryptEncryptedConfig } from '../../src/trust/enc-sgn.js';
import { privateKeyOpener } from '../../src/pki/config-key.js';
import { verifyTrustFile } from '../../src/trust/verify.js';
import { candidateFromPem } from '../../src/trust/candidates.js';
import { roleName } from '../../src/trust/tags.js';
import { TrustError, TrustErrorCode } from '../../src/trust/errors.js';
import { fixedTimestamp, fixturePath, keyPem, server, signer, tlvCheck } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'sbd-golden-'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const save = (name: string, b: Buffer) => {
  const p = join(tmp, name);
  writeFileSync(p, b);
  return p;
};

const inputs: TrustListInputs = {
  itlRecovery: server('itlrecovery', 'sbd-test', '127.0.0.1'),
  tftpServers: [{ ...server('callmanager', 'sbd-test', '127.0.0.1'), ccm: true }],
  callManagers: [],
  tvs: [server('tvs', 'sbd-test', '127.0.0.1')],
  capf: [server('capf', 'sbd-test', '127.0.0.1')],
};
const golden = JSON.parse(readFileSync(fixturePath('golden.json'), 'utf8')) as Record<string, string>;

test('ITL: golden bytes, records as DESIGN §2 lists them, accepted by the independent checker', () => {
  const itl = buildTrustList(itlRecordInputs(inputs), {
    signer: signer('itlrecovery'),
    filename: 'ITLFile.tlv',
    timestamp: fixedTimestamp,
  });
  assert.equal(sha(itl), golden.itl);
  const r = verifyTrustFile(itl);
  assert.equal(r.valid, true);
  assert.deepEqual(
    r.records.map((x) => roleName(x.role)),
    ['SAST', 'CCM+TFTP', 'SAST', 'TVS', 'CAPF'],
  );
  const check = tlvCheck(save('ITLFile.tlv', itl));
  assert.equal(check.status, 0, check.out);
  assert.match(check.out, /signature valid \(signer: record 0\)/);
});

test('CTL (tokenless, mixed mode): golden bytes, signed by CallManager, carries ITLRecovery', () => {
  const ctl = buildTrustList(ctlRecordInputs(inputs, inputs.tftpServers[0]!), {
    signer: signer('callmanager'),
    filename: 'CTLFile.tlv',
    timestamp: fixedTimestamp,
  });
  assert.equal(sha(ctl), golden.ctl);
  const r = verifyTrustFile(ctl);
  assert.equal(r.valid, true);
  assert.deepEqual(
    r.records.map((x) => roleName(x.role)),
    ['SAST', 'CCM+TFTP', 'CAPF', 'SAST'],
  );
  const check = tlvCheck(save('CTLFile.tlv', ctl));
  assert.equal(check.status, 0, check.out);
});

test('rollback ITL: golden bytes, empty TVS and TFTP sections, still signed by ITLRecovery', () => {
  const itl = buildTrustList(itlRecordInputs(inputs), {
    signer: signer('itlrecovery'),
    filename: 'ITLFile.tlv',
    timestamp: fixedTimestamp,
    rollback: true,
  });
  assert.equal(sha(itl), golden.rollback);
  const r = verifyTrustFile(itl);
  assert.equal(r.valid, true);
  const emptied = r.records.filter((x) => x.certificate === undefined).map((x) => roleName(x.role));
  assert.deepEqual(emptied, ['CCM+TFTP', 'TVS']);
  assert.ok(r.records.filter((x) => roleName(x.role) === 'SAST').every((x) => x.certificate));
  const check = tlvCheck(save('ITLFile-rollback.tlv', itl));
  assert.equal(check.status, 0, check.out);
});

test('.sgn: golden bytes, body unchanged after the header, verified with the TFTP certificate', () => {
  const body = Buffer.from('<device><fullConfig>true</fullConfig></device>\n');
  const sgn = buildSgn({ body, filename: 'SEP001122334455.cnf.xml.sgn', signer: signer('callmanager'), timestamp: fixedTimestamp });
  assert.equal(sha(sgn), golden.sgn);
  assert.ok(sgnBody(sgn).equals(body));
  const pem = fixturePath('callmanager.pem');
  assert.equal(verifyTrustFile(sgn, { candidates: [candidateFromPem(readFileSync(pem, 'utf8'), 'cm')] }).valid, true);
  assert.equal(
    verifyTrustFile(sgn, { candidates: [candidateFromPem(readFileSync(fixturePath('tvs.pem'), 'utf8'), 'tvs')] }).valid,
    false,
    'wrong signer',
  );
  const check = tlvCheck(save('SEP001122334455.cnf.xml.sgn', sgn), pem);
  assert.equal(check.status, 0, check.out);
});

test('.enc.sgn: golden bytes with a fixed key and IV; only the phone key opens it', () => {
  const plaintext = Buffer.from('<device><fullConfig>true</fullConfig><encrConfig>true</encrConfig></device>\n');
  let n = 0;
  const random = (len: number) => Buffer.alloc(len, ++n); // 01… for the AES key, 02… for the IV
  const phonePub = new X509Certificate(readFileSync(fixturePath('phone.pem'))).publicKey;
  const wrappedKey = Buffer.from(golden.encWrappedKey!, 'hex');
  const enc = buildEncryptedConfig({
    plaintext,
    filename: 'SEP001122334455.cnf.xml.enc.sgn',
    signer: signer('callmanager'),
    timestamp: fixedTimestamp,
    key: { kind: 'public-key', publicKey: phonePub },
    random,
    wrappedKey,
  });
  assert.equal(sha(enc), golden.enc);
  assert.ok(decryptEncryptedConfig(enc, privateKeyOpener(keyPem('phone'))).equals(plaintext));
  assert.throws(() => decryptEncryptedConfig(enc, privateKeyOpener(keyPem('phone2'))), {
    code: TrustErrorCode.decrypt,
  });
  const check = tlvCheck(save('SEP001122334455.cnf.xml.enc.sgn', enc), fixturePath('callmanager.pem'));
  assert.equal(check.status, 0, check.out);
  // The openssl command opens it independently: unwrap tag 25 with pkeyutl, decrypt the body with enc.
  const enc2 = headerFields(parseTrustFile(enc)).encryption!;
  const aesKey = execFileSync('openssl', [
    'pkeyutl',
    '-decrypt',
    '-inkey',
    fixturePath('phone.key'),
    '-pkeyopt',
    'rsa_padding_mode:pkcs1',
    '-in',
    save('wrapped.bin', enc2.encryptedKey),
  ]);
  const body = parseTrustFile(enc).body;
  const padded = execFileSync('openssl', [
    'enc',
    '-d',
    '-aes-128-cbc',
    '-nopad',
    '-K',
    aesKey.toString('hex'),
    '-iv',
    enc2.iv.toString('hex'),
    '-in',
    save('body.bin', body),
  ]);
  assert.ok(padded.subarray(0, plaintext.length).equals(plaintext));
  assert.equal(padded.length - plaintext.length, enc2.paddingLength);
  // A fresh build (random key, randomly padded RSA) opens too, and decrypts with the openssl command as well.
  const fresh = buildEncryptedConfig({
    plaintext,
    filename: 'SEP001122334455.cnf.xml.enc.sgn',
    signer: signer('callmanager'),
    timestamp: fixedTimestamp,
    key: { kind: 'public-key', publicKey: phonePub },
  });
  assert.ok(decryptEncryptedConfig(fresh, privateKeyOpener(keyPem('phone'))).equals(plaintext));
});

test('.enc.sgn with a manually configured symmetric key', () => {
  const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const plaintext = Buffer.from('x'.repeat(32)); // a whole number of blocks still gets 16 pad bytes
  const enc = buildEncryptedConfig({
    plaintext,
    filename: 'SEP001122334455.cnf.xml.enc.sgn',
    signer: signer('callmanager'),
    timestamp: fixedTimestamp,
    key: { kind: 'symmetric', key },
  });
  assert.ok(decryptEncryptedConfig(enc, { kind: 'symmetric', key }).equals(plaintext));
  assert.throws(() => decryptEncryptedConfig(enc, { kind: 'symmetric', key: Buffer.alloc(16) }), { code: TrustErrorCode.decrypt });
});

test('an ITL past 64 KiB is refused with the reason and what to remove', () => {
  const many: TrustListInputs = { ...inputs, tvs: Array.from({ length: 60 }, () => server('tvs', 'sbd-test', '127.0.0.1')) };
  assert.throws(
    () => buildTrustList(itlRecordInputs(many), { signer: signer('itlrecovery'), filename: 'ITLFile.tlv', timestamp: fixedTimestamp }),
    (e: unknown) =>
      e instanceof TrustError && e.code === 'ERR_TRUST_FILE_TOO_LARGE' && /39 certificates/.test(e.message) && /Remove \d+/.test(e.message),
  );
});

test('a signer whose key tag 11 cannot describe is refused', async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  assert.throws(
    () => buildSgn({ body: Buffer.from('x'), filename: 'a.sgn', signer: { ...signer('callmanager'), privateKey }, timestamp: 0 }),
    (e: unknown) => e instanceof TrustError && e.code === 'ERR_SIGNER_UNSUPPORTED',
  );
});
