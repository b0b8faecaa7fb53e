/** The frames between the engine and Node (src/tls/stream-codec.ts): split at every byte, the facts, what is refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  encodeCredit,
  encodeDial,
  encodeFrame,
  FrameKind,
  FrameReader,
  parseDialError,
  parseFacts,
  parseHandshakeError,
} from '../../src/tls/stream-codec.js';

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

test('the dial-out frames: dial encoded as the engine reads it, dialed facts with the tag, dialError with and without a certificate', () => {
  const dial = encodeDial({ tag: 9, address: '::1', port: 5061, name: 'trunk.example', sni: 'trunk.example', trust: 3, timeoutMs: 2500 });
  assert.deepEqual(new FrameReader().push(dial), [
    { id: 0, kind: FrameKind.dial, payload: Buffer.from('9 ::1 5061 trunk.example trunk.example 3 2500') },
  ]);
  const noSni = encodeDial({ tag: 1, address: '127.0.0.1', port: 1, name: '127.0.0.1', sni: undefined, trust: 1, timeoutMs: 1 });
  assert.equal(noSni.subarray(9).toString(), '1 127.0.0.1 1 127.0.0.1 - 1 1');
  for (const name of ['a b', '', 'x\ty'])
    assert.throws(() => encodeDial({ tag: 1, address: '127.0.0.1', port: 1, name, sni: undefined, trust: 1, timeoutMs: 1 }), {
      code: 'ERR_TLS_ENGINE_CONTROL',
    });
  const facts = parseFacts(
    FrameKind.dialed,
    Buffer.concat([Buffer.from('42 127.0.0.1 5061 TLSv1.3 TLS_AES_256_GCM_SHA384 0 0 1\0'), cert]),
  );
  assert.equal(facts.tag, 42);
  assert.equal(facts.fd, undefined);
  assert.equal(facts.port, 5061);
  assert.equal(facts.peerVerified, true);
  assert.deepEqual(facts.peerCertificate, cert);
  assert.deepEqual(parseDialError(Buffer.from('7 127.0.0.1 5061 connect 111 Connection refused\0')), {
    tag: 7,
    address: '127.0.0.1',
    port: 5061,
    what: 'connect',
    code: 111,
    reason: 'Connection refused',
    peerCertificate: undefined,
  });
  const verify = parseDialError(Buffer.concat([Buffer.from('8 ::1 5061 verify 62 hostname mismatch\0'), cert]));
  assert.equal(verify.reason, 'hostname mismatch');
  assert.deepEqual(verify.peerCertificate, cert);
  for (const bad of ['7 127.0.0.1 5061 nonsense 0 x', '7 127.0.0.1 5061'])
    assert.throws(() => parseDialError(Buffer.from(bad)), { code: 'ERR_TLS_ENGINE_CONTROL' }, bad);
});
