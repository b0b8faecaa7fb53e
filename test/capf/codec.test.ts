import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CapfError } from '../../src/capf/core/errors.js';
import { CapfFrameReader } from '../../src/capf/core/frame-reader.js';
import { CapfCommand, decodeHeader } from '../../src/capf/core/frame.js';
import { checkPublicKey, keySpecElements, keySpecFromElements, parseKeySpecText } from '../../src/capf/core/key-spec.js';
import { decodeMessage, encodeMessage } from '../../src/capf/core/messages.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { concatBytes } from '../security/fuzz-bytes.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const code = (c: string) => (err: unknown) => err instanceof CapfError && err.code === c;
const msg = (bytes: Buffer) => decodeMessage(new CapfFrameReader().push(bytes)[0]!);

// Hand-assembled from spec §3.2 (header 55 | command | session u32 | body length u16; elements tag u8 len u16).
const fixtures: Array<[string, Parameters<typeof encodeMessage>[0], string]> = [
  [
    'AUTH_REQUEST{VERSION 3, AUTH_TYPE 0}',
    { command: 1, sessionId: 7, version: 3, authType: 0 },
    '55 01 00000007 0008  07 0001 03  08 0001 00',
  ],
  [
    'AUTH_RESPONSE{REASON 1, VERSION 3, DEVICE_NAME, PASSWORD}',
    { command: 2, sessionId: 7, reason: 1, version: 3, deviceName: 'SEP001122334455', password: '1234' },
    `55 02 00000007 0023  01 0001 01  07 0001 03  0d 0010 ${Buffer.from('SEP001122334455\0').toString('hex')}  0b 0005 3132333400`,
  ],
  [
    'KEY_GENERATE_REQUEST RSA 2048',
    { command: 3, sessionId: 7, ...keySpecElements({ type: 'rsa', bits: 2048 }) },
    '55 03 00000007 0009  11 0001 00  0a 0002 0800',
  ],
  [
    'KEY_GENERATE_REQUEST EC P-384',
    { command: 3, sessionId: 7, ...keySpecElements({ type: 'ec', curve: 'P-384' }) },
    '55 03 00000007 0008  11 0001 01  12 0001 01',
  ],
  [
    'STORE_CERTIFICATE_REQUEST (wrapper u8 1, u16 len+2, u8 0, u8 type)',
    { command: 9, sessionId: 7, certificateType: 1, certificate: { type: 1, der: hex('300302010a') } },
    '55 09 00000007 0011  03 0001 01  04 000a 01 0007 00 01 300302010a',
  ],
  ['END_SESSION{REASON 9}', { command: 15, sessionId: 0xfffffffe, reason: 9 }, '55 0f fffffffe 0004  01 0001 09'],
  [
    'AUTH_RESPONSE with SIGNED_DATA and SHA2_SIGNED_DATA',
    { command: 2, sessionId: 1, signedData: hex('aabb'), sha2SignedData: { hash: 3, signature: hex('ccdd') } },
    '55 02 00000001 000d  06 0002 aabb  14 0005 03 0002 ccdd',
  ],
];

for (const [label, message, bytes] of fixtures) {
  test(`fixture: ${label}`, () => {
    const b = encodeMessage(message);
    assert.deepEqual(b, hex(bytes));
    assert.deepEqual(msg(b), message);
  });
}

test('frame reader: every split point and random splittings of a whole session', () => {
  const stream = Buffer.concat(fixtures.map(([, , h]) => hex(h)));
  for (let cut = 0; cut <= stream.length; cut++) {
    const r = new CapfFrameReader();
    const frames = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))];
    assert.deepEqual(
      frames.map((f) => f.header.command),
      [1, 2, 3, 3, 9, 15, 2],
      `cut ${cut}`,
    );
  }
  let seed = 11;
  for (let round = 0; round < 200; round++) {
    const r = new CapfFrameReader();
    const got = [];
    for (let i = 0; i < stream.length; ) {
      const n = 1 + ((seed = (seed * 1103515245 + 12345) >>> 0) % 9);
      got.push(...r.push(stream.subarray(i, i + n)));
      i += n;
    }
    assert.equal(got.length, 7);
    r.end();
  }
});

test('frame reader: wrong protocol id on byte 0, oversized body at the length field, truncation at the end', () => {
  assert.throws(() => new CapfFrameReader().push(hex('57')), code('ERR_CAPF_PROTOCOL_ID'));
  assert.throws(() => new CapfFrameReader().push(hex('55 02 00000001 ffff')), code('ERR_CAPF_FRAME_TOO_LARGE'));
  const r = new CapfFrameReader();
  r.push(hex('55 02 00000001 0010 01'));
  assert.throws(() => r.end(), code('ERR_CAPF_TRUNCATED'));
  assert.deepEqual(decodeHeader(hex('55 11 00000005 0000')), { command: CapfCommand.requestInProgress, sessionId: 5, bodyLength: 0 });
});

test('elements: wrong sizes, repeats, bad wrappers and texts are ERR_CAPF_ELEMENT; unknown tags are skipped', () => {
  assert.throws(() => msg(hex('55 02 00000001 0005 01 0002 0101')), code('ERR_CAPF_ELEMENT'));
  assert.throws(() => msg(hex('55 02 00000001 0008 01 0001 01 01 0001 01')), code('ERR_CAPF_ELEMENT'));
  assert.throws(() => msg(hex('55 02 00000001 0006 04 0003 010000')), code('ERR_CAPF_ELEMENT'));
  assert.throws(() => msg(hex('55 02 00000001 0007 14 0004 03 0009 aa')), code('ERR_CAPF_ELEMENT'));
  assert.throws(() => msg(hex('55 02 00000001 0006 0d 0003 41 00 42')), code('ERR_CAPF_ELEMENT'));
  assert.throws(() => msg(hex('55 02 00000001 0004 01 0009 00')), code('ERR_CAPF_TRUNCATED'));
  assert.deepEqual(msg(hex('55 02 00000001 000a 63 0003 abcdef 01 0001 00')), { command: 2, sessionId: 1, reason: 0 });
  // A device name without its NUL is read as well.
  assert.equal(msg(hex(`55 02 00000001 0012 0d 000f ${Buffer.from('SEP001122334455').toString('hex')}`)).deviceName, 'SEP001122334455');
});

test('key specs: text forms, KEY_GENERATE_REQUEST elements both ways, and the PUBLIC_KEY check', () => {
  assert.deepEqual(parseKeySpecText('ec-p-521'), { type: 'ec', curve: 'P-521' });
  assert.equal(parseKeySpecText('rsa-1024'), undefined);
  assert.deepEqual(keySpecFromElements({ keyType: 1, curve: 0 }), { type: 'ec', curve: 'P-256' });
  assert.deepEqual(keySpecFromElements({ keySize: 4096 }), { type: 'rsa', bits: 4096 });
  assert.throws(() => keySpecFromElements({ keyType: 0, keySize: 1024 }), code('ERR_CAPF_KEY_SPEC'));
  assert.throws(() => keySpecFromElements({ keyType: 1, curve: 3 }), code('ERR_CAPF_KEY_SPEC'));
  const ec = generateKeyPair({ type: 'ec', curve: 'P-256' });
  checkPublicKey(ec.spkiDer, { type: 'ec', curve: 'P-256' });
  assert.throws(() => checkPublicKey(ec.spkiDer, { type: 'ec', curve: 'P-384' }), code('ERR_CAPF_KEY_SPEC'));
  assert.throws(() => checkPublicKey(ec.spkiDer, { type: 'rsa', bits: 2048 }), code('ERR_CAPF_KEY_SPEC'));
  assert.throws(() => checkPublicKey(hex('3000'), { type: 'rsa', bits: 2048 }), code('ERR_CAPF_KEY_SPEC'));
});

test('frame reader: a frame trickled one byte at a time costs linear copying, not a copy of all held bytes per byte', () => {
  const frame = encodeMessage({ command: 2, sessionId: 1, deviceName: 'SEP001122334455', sudiData: Buffer.alloc(16000, 7) });
  // Count the bytes Buffer.concat produces while the reader works (the copying that grew with the square before).
  const copied = concatBytes(() => {
    const r = new CapfFrameReader();
    const frames = [];
    for (let i = 0; i < frame.length; i++) frames.push(...r.push(frame.subarray(i, i + 1)));
    assert.equal(frames.length, 1);
    assert.equal(r.pendingBytes, 0);
  });
  assert.ok(copied <= 3 * frame.length, `${copied} bytes copied for a ${frame.length}-byte frame`);
});
