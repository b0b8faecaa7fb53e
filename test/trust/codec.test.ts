import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { encodeTrustFile, parseTrustFile } from '../../src/trust/codec.js';
import { TrustError, TrustErrorCode } from '../../src/trust/errors.js';
import { allRecordFields, headerFields } from '../../src/trust/fields.js';
import { roleName } from '../../src/trust/tags.js';
import { verifyTrustFile } from '../../src/trust/verify.js';

const vectors = new URL('../../../shared/vectors/', import.meta.url);
const cucm = readFileSync(new URL('cucm10-CTLFile.tlv', vectors));
const corrupt = readFileSync(new URL('cucm10-CTLFile-corrupt.tlv', vectors));
const certutils = readFileSync(new URL('certutils-ITLFile.tlv', vectors));

test('vectors are the files the README names', () => {
  assert.equal(createHash('sha256').update(cucm).digest('hex'), '1e8d2ea5b034b1f1367b0d50f8a16cf70964c21ef06872308a42606cc2450813');
  assert.equal(createHash('sha256').update(certutils).digest('hex'), '17156172182b66cbb4f8a4c51463702c8fa62ebea47ffe86ad66543c20d744eb');
});

test('CUCM 10 CTL: header fields and offsets as in the spec', () => {
  const file = parseTrustFile(cucm);
  const h = headerFields(file);
  assert.equal(file.kind, 'tlv');
  assert.deepEqual(h.version, [1, 2]);
  assert.equal(h.headerLength, 312);
  assert.equal(h.hashName, 'sha1');
  assert.equal(h.signatureOffset, 158);
  assert.equal(h.signature.length, 128);
  assert.equal(h.filename, 'CTLFile.tlv');
  assert.equal(h.timestamp, 0x554ad7b7);
  assert.equal(h.signerName, 'CN=gigantic-6.cisco.com;OU=VTG;O=Alpha;L=SJ;ST=CA;C=US');
  assert.equal(h.signerSerial.toString('hex'), '24491f10703fea9b');
  assert.deepEqual(
    file.records.map((r) => r.offset),
    [312, 1459, 2606, 3777, 4862, 6023],
  );
  assert.deepEqual(
    allRecordFields(file).map((r) => roleName(r.role)),
    ['SAST', 'CCM+TFTP', 'CCM+TFTP', 'CAPF', 'SAST', 'CCM+TFTP'],
  );
  const r0 = allRecordFields(file)[0]!;
  assert.equal(r0.dnsName, 'gigantic-6');
  assert.equal(r0.ipAddress, '10.35.48.106');
  assert.equal(r0.publicKey?.length, 140);
});

test('parse → encode gives identical bytes (CUCM CTL and certutils ITL)', () => {
  assert.ok(encodeTrustFile(parseTrustFile(cucm)).bytes.equals(cucm));
  assert.ok(encodeTrustFile(parseTrustFile(certutils)).bytes.equals(certutils));
});

test('signatures of both vectors verify with their SAST record', () => {
  const a = verifyTrustFile(cucm);
  assert.equal(a.valid, true);
  assert.match(a.signer!, /^record 0 /);
  const b = verifyTrustFile(certutils);
  assert.equal(b.valid, true);
  assert.deepEqual(
    b.records.map((r) => roleName(r.role)),
    ['SAST', 'CCM', 'CCM', 'APP-SERVER', 'APP-SERVER'],
  );
});

test('one flipped byte anywhere signed makes the signature invalid', () => {
  for (const at of [20, 300, 2000, cucm.length - 1]) {
    const copy = Buffer.from(cucm);
    copy[at] = copy[at]! ^ 0x01;
    let valid: boolean;
    try {
      valid = verifyTrustFile(copy).valid;
    } catch (err) {
      assert.ok(err instanceof TrustError);
      continue; // structure broken: also a refusal
    }
    assert.equal(valid, false, `flip at ${at}`);
  }
});

test('the corrupted CTL is refused with the record and offset named', () => {
  assert.throws(
    () => parseTrustFile(corrupt),
    (err: unknown) =>
      err instanceof TrustError && err.code === TrustErrorCode.unknownTag && err.offset !== undefined && /record 4/.test(err.message),
  );
});

test('truncations of a valid file at every header position are typed errors, never crashes', () => {
  for (let n = 0; n < 320; n++) {
    try {
      parseTrustFile(cucm.subarray(0, n));
      assert.fail(`a ${n}-byte prefix parsed`);
    } catch (err) {
      assert.ok(err instanceof TrustError, `prefix ${n}: ${String(err)}`);
    }
  }
  for (let n = 320; n < cucm.length; n += 97) {
    assert.throws(() => headerFields(parseTrustFile(cucm.subarray(0, n))) && allRecordFields(parseTrustFile(cucm.subarray(0, n))), {
      code: TrustErrorCode.record,
    });
  }
});

test('lengths past the end, unknown tags and garbage are typed errors', () => {
  const longer = Buffer.from(cucm);
  longer.writeUInt16BE(0xffff, 14); // SIGNERNAME length
  assert.throws(
    () => parseTrustFile(longer),
    (e: unknown) => e instanceof TrustError && e.code === 'ERR_TLV_LENGTH',
  );
  const unknown = Buffer.from(cucm);
  unknown[289] = 99; // FILENAME tag → unknown header tag
  assert.throws(
    () => parseTrustFile(unknown),
    (e: unknown) => e instanceof TrustError && e.code === 'ERR_TLV_UNKNOWN_TAG' && e.offset === 289,
  );
  const badRecord = Buffer.from(cucm);
  badRecord[317] = 77; // DNSNAME tag of record 0
  assert.throws(
    () => parseTrustFile(badRecord),
    (e: unknown) => e instanceof TrustError && e.code === 'ERR_TLV_UNKNOWN_TAG' && /record 0/.test(e.message),
  );
  assert.throws(() => parseTrustFile(Buffer.from('hello world, not a trust file')), { code: TrustErrorCode.header });
  assert.throws(() => parseTrustFile(Buffer.alloc(0)), { code: TrustErrorCode.header });
});

test('random mutations never escape as anything but TrustError', () => {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 3000; i++) {
    const copy = Buffer.from(i % 2 ? cucm : certutils);
    const flips = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < flips; k++) copy[Math.floor(rand() * copy.length)] = Math.floor(rand() * 256);
    const cut = rand() < 0.3 ? Math.floor(rand() * copy.length) : copy.length;
    try {
      const r = verifyTrustFile(copy.subarray(0, cut));
      assert.equal(typeof r.valid, 'boolean');
    } catch (err) {
      assert.ok(err instanceof TrustError, `mutation ${i}: ${String(err)}`);
    }
  }
});
