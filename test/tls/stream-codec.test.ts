/** The frames between the engine and Node (src/tls/stream-codec.ts): split at every byte, the facts, what is refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeCredit, encodeFrame, FrameKind, FrameReader, parseFacts, parseHandshakeError } from '../../src/tls/stream-codec.js';

const cert = Buffer.from('3082010a0282010100c0ffee', 'hex');
const open = Buffer.concat([Buffer.from('127.0.0.1 40522 TLSv1.3 TLS_AES_256_GCM_SHA384 1 0 1\0'), cert]);
const frames = [
  encodeFrame(7, FrameKind.open, open),
  encodeFrame(7, FrameKind.data, Buffer.from('hello')),
  encodeFrame(0, FrameKind.error, Buffer.from('::1 5060 error:0A000102:SSL routines::unsupported protocol')),
  encodeCredit(7, 70000),
  encodeFrame(7, FrameKind.end),
  encodeFrame(0, FrameKind.ktls, Buffer.from('18 10.0.0.7 1 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 0 1 0\0')),
];

test('frames split at every byte come out whole and in order', () => {
  const bytes = Buffer.concat(frames);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const r = new FrameReader();
    const got = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
    assert.deepEqual(
      got.map((f) => [f.id, f.kind, f.payload.length]),
      [
        [7, FrameKind.open, open.length],
        [7, FrameKind.data, 5],
        [0, FrameKind.error, 58],
        [7, FrameKind.credit, 4],
        [7, FrameKind.end, 0],
        [0, FrameKind.ktls, 56],
      ],
      `cut at ${cut}`,
    );
    assert.equal(got[3]!.payload.readUInt32LE(0), 70000);
  }
});

test('session facts: open with the peer certificate, ktls with its descriptor; a handshake error', () => {
  assert.deepEqual(parseFacts(FrameKind.open, open), {
    fd: undefined,
    address: '127.0.0.1',
    port: 40522,
    version: 'TLSv1.3',
    cipher: 'TLS_AES_256_GCM_SHA384',
    resumed: true,
    ktls: false,
    peerVerified: true,
    peerCertificate: cert,
  });
  const k = parseFacts(FrameKind.ktls, new FrameReader().push(frames[5]!)[0]!.payload);
  assert.deepEqual([k.fd, k.address, k.ktls, k.peerCertificate], [18, '10.0.0.7', true, undefined]);
  assert.deepEqual(parseHandshakeError(Buffer.from('::1 5060 handshake timeout')), {
    address: '::1',
    port: 5060,
    reason: 'handshake timeout',
  });
});

test('malformed facts and an over-long frame are ERR_TLS_ENGINE_CONTROL', () => {
  for (const bad of ['127.0.0.1 1 TLSv1.3 X 0 0 0', '127.0.0.1 x TLSv1.3 X 0 0 0\0', '127.0.0.1 1 TLSv1.3\0'])
    assert.throws(() => parseFacts(FrameKind.open, Buffer.from(bad)), { code: 'ERR_TLS_ENGINE_CONTROL' }, bad);
  assert.throws(() => parseFacts(FrameKind.ktls, Buffer.from('-1 127.0.0.1 1 TLSv1.3 X 0 1 0\0')), { code: 'ERR_TLS_ENGINE_CONTROL' });
  assert.throws(() => new FrameReader({ maxPayloadBytes: 8 }).push(encodeFrame(1, FrameKind.data, Buffer.alloc(9))), {
    code: 'ERR_TLS_ENGINE_CONTROL',
  });
});
