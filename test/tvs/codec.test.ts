import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TvsError } from '../../src/tvs/core/errors.js';
import { decodeElements, decodeHeader, encodeFrame } from '../../src/tvs/core/frame.js';
import { TvsFrameReader } from '../../src/tvs/core/frame-reader.js';
import { buildVerifyRequest, buildVerifyResponse, parseVerifyRequest, parseVerifyResponse, TvsStatus } from '../../src/tvs/core/verify.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const code = (c: string) => (err: unknown) => err instanceof TvsError && err.code === c;

const device = 'CP-8845-SEP001122334455';
const cert = hex('3003020105');
// Hand-assembled from spec §3.1: header 57 01 01 00 | session 1001 | body 35; DEVICE_NAME 01 0018 01 + ASCII; CERTIFICATE 02 0005.
const requestFixture = hex(`57 01 01 00 000003e9 0023  01 0018 01 ${Buffer.from(device).toString('hex')}  02 0005 3003020105`);
const validFixture = hex('57 01 02 00 000003e9 0010  07 0001 00  08 0002 02 00  09 0004 00015180');
const invalidFixture = hex('57 01 02 00 000003e9 0004  07 0001 01');

test('VERIFY_REQUEST: built bytes equal the hand-assembled fixture and parse back', () => {
  assert.deepEqual(buildVerifyRequest({ sessionId: 1001, deviceName: device, certificate: cert }), requestFixture);
  const [frame] = new TvsFrameReader().push(requestFixture);
  const req = parseVerifyRequest(frame!);
  assert.deepEqual(req, { sessionId: 1001, deviceName: device, deviceNameLeadByte: 1, certificate: cert });
});

test('VERIFY_RESPONSE: valid (STATUS, ROLES, TTL in that order) and invalid (STATUS only) fixtures', () => {
  assert.deepEqual(buildVerifyResponse({ sessionId: 1001, status: TvsStatus.valid, roles: [2, 0], ttl: 86400 }), validFixture);
  assert.deepEqual(buildVerifyResponse({ sessionId: 1001, status: TvsStatus.invalid }), invalidFixture);
  assert.deepEqual(parseVerifyResponse(new TvsFrameReader().push(validFixture)[0]!), {
    sessionId: 1001,
    status: 0,
    roles: [2, 0],
    ttl: 86400,
  });
  assert.deepEqual(parseVerifyResponse(new TvsFrameReader().push(invalidFixture)[0]!), { sessionId: 1001, status: 1 });
});

test('frame reader: every split point and 200 random splittings give the same frames', () => {
  const stream = Buffer.concat([requestFixture, validFixture, invalidFixture]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const r = new TvsFrameReader();
    const frames = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))];
    assert.equal(frames.length, 3, `cut at ${cut}`);
    assert.deepEqual(frames[0]!.body, requestFixture.subarray(10));
    assert.equal(r.pendingBytes, 0);
  }
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  for (let round = 0; round < 200; round++) {
    const r = new TvsFrameReader();
    const frames = [];
    for (let i = 0; i < stream.length; ) {
      const n = 1 + rand(12);
      frames.push(...r.push(stream.subarray(i, i + n)));
      i += n;
    }
    assert.deepEqual(
      frames.map((f) => f.header.command),
      [1, 2, 2],
    );
    r.end();
  }
});

test('frame reader: wrong protocol id fails on the first byte, wrong version on the second', () => {
  assert.throws(() => new TvsFrameReader().push(hex('55')), code('ERR_TVS_PROTOCOL_ID'));
  assert.throws(() => new TvsFrameReader().push(hex('5702')), code('ERR_TVS_VERSION'));
  // TLS ClientHello bytes on the TVS port (a client speaking TLS inside TLS) are not TVS either.
  assert.throws(() => new TvsFrameReader().push(hex('160301')), code('ERR_TVS_PROTOCOL_ID'));
});

test('frame reader: an announced body over maxBodyBytes fails at the length field, before the body', () => {
  const r = new TvsFrameReader({ maxBodyBytes: 16384 });
  assert.throws(() => r.push(hex('57 01 01 00 00000001 ffff')), code('ERR_TVS_FRAME_TOO_LARGE'));
  // The reader stays failed.
  assert.throws(() => r.push(hex('00')), code('ERR_TVS_FRAME_TOO_LARGE'));
  assert.throws(() => new TvsFrameReader({ maxBodyBytes: 70000 }), code('ERR_TVS_ARGUMENT'));
});

test('frame reader: a stream that ends inside a header or a body is truncated', () => {
  const r1 = new TvsFrameReader();
  r1.push(requestFixture.subarray(0, 5));
  assert.throws(() => r1.end(), code('ERR_TVS_TRUNCATED'));
  const r2 = new TvsFrameReader();
  r2.push(requestFixture.subarray(0, 20));
  assert.throws(() => r2.end(), code('ERR_TVS_TRUNCATED'));
  new TvsFrameReader().end(); // nothing sent: not an error
});

test('elements: an element running past the body, a missing or repeated element, a bad device name', () => {
  assert.throws(() => decodeElements(hex('0100')), code('ERR_TVS_TRUNCATED'));
  assert.throws(() => decodeElements(hex('010005 0102')), code('ERR_TVS_TRUNCATED'));
  const frame = (command: number, body: string) => ({
    header: { command, reserved: 0, sessionId: 1, bodyLength: hex(body).length },
    body: hex(body),
  });
  const dn = `01 0018 01 ${Buffer.from(device).toString('hex')}`;
  assert.throws(() => parseVerifyRequest(frame(1, '02 0005 3003020105')), code('ERR_TVS_DEVICE_NAME'));
  assert.throws(() => parseVerifyRequest(frame(1, dn)), code('ERR_TVS_CERTIFICATE'));
  assert.throws(() => parseVerifyRequest(frame(1, `${dn} 02 0000`)), code('ERR_TVS_CERTIFICATE'));
  assert.throws(() => parseVerifyRequest(frame(1, `${dn} ${dn} 02 0001 30`)), code('ERR_TVS_ELEMENT'));
  assert.throws(() => parseVerifyRequest(frame(3, `${dn} 02 0001 30`)), code('ERR_TVS_COMMAND'));
  const bad = Buffer.from('CP-8845-XXX001122334455').toString('hex');
  assert.throws(() => parseVerifyRequest(frame(1, `01 0018 01 ${bad} 02 0001 30`)), code('ERR_TVS_DEVICE_NAME'));
  // Unknown elements are skipped; a model with letters and lower-case MAC digits are accepted.
  const ok = Buffer.from('CP-7975G-SEP00112233aabb').toString('hex');
  assert.equal(parseVerifyRequest(frame(1, `63 0002 abcd 01 0019 01 ${ok} 02 0001 30`)).deviceName, 'CP-7975G-SEP00112233aabb');
});

test('header decode and builder bounds', () => {
  assert.deepEqual(decodeHeader(hex('57 01 01 f5 ffffffff 0000')), { command: 1, reserved: 245, sessionId: 0xffffffff, bodyLength: 0 });
  assert.throws(() => encodeFrame(1, 2 ** 32, []), code('ERR_TVS_ARGUMENT'));
  assert.throws(() => buildVerifyResponse({ sessionId: 1, status: 0, roles: [21], ttl: 0 }), code('ERR_TVS_ARGUMENT'));
  assert.throws(() => buildVerifyResponse({ sessionId: 1, status: 0, roles: [21], ttl: 2592001 }), code('ERR_TVS_ARGUMENT'));
  assert.throws(() => buildVerifyResponse({ sessionId: 1, status: 0, roles: [], ttl: 60 }), code('ERR_TVS_ARGUMENT'));
  assert.throws(() => buildVerifyRequest({ sessionId: 1, deviceName: 'SEP001122334455', certificate: cert }), code('ERR_TVS_DEVICE_NAME'));
  assert.throws(
    () => parseVerifyResponse(new TvsFrameReader().push(hex('57 01 02 00 00000001 0004 07 0001 00'))[0]!),
    code('ERR_TVS_ELEMENT'),
  );
});
