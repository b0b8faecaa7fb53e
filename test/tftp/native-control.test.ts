/** The Node ↔ data-plane control frames (src/tftp/native/control.ts): byte layouts and stream reassembly. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeEngineFrame,
  encodeFileHeader,
  encodeFlush,
  encodeRefuse,
  encodeStatsRequest,
  encodeStop,
  EngineFrameReader,
  EngineProtocolError,
} from '../../src/tftp/native/control.js';
import { TftpLocalErrorCode } from '../../src/tftp/core/errors.js';

const engineProtocol = (e: unknown) => e instanceof EngineProtocolError && e.code === TftpLocalErrorCode.engineProtocol;

test('FILE header: length covers the data written after it; generation and TTL fields', () => {
  const h = encodeFileHeader({ request: 7, cache: true, generation: 42, ttlMs: 1000.2, name: 'ITLFile.tlv' }, 3);
  assert.equal(h.readUInt32LE(0), h.length - 4 + 3);
  assert.equal(h[4], 1);
  assert.equal(h.readUInt32LE(5), 7);
  assert.equal(h[9], 1);
  assert.equal(h.readBigUInt64LE(10), 42n);
  assert.equal(h.readUInt32LE(18), 1001);
  assert.equal(h.readUInt16LE(22), 11);
  assert.equal(h.toString('latin1', 24, 35), 'ITLFile.tlv');
  assert.equal(h.readUInt32LE(35), 3);
  assert.equal(h.length, 39);
  const none = encodeFileHeader({ request: 0, cache: false, name: 'x' }, 0);
  assert.equal(none.readBigUInt64LE(10), 0xffff_ffff_ffff_ffffn, 'no generation');
  assert.equal(none.readUInt32LE(18), 0, 'no TTL');
  assert.throws(() => encodeFileHeader({ request: 1, cache: false, name: 'n'.repeat(70000) }, 0), engineProtocol);
});

test('REFUSE, FLUSH, STATS, STOP layouts', () => {
  const r = encodeRefuse(9, 1, 'ERR_TFTP_NOT_FOUND', 'file not found: a…');
  assert.equal(r.readUInt32LE(0), r.length - 4);
  assert.equal(r[4], 2);
  assert.equal(r.readUInt32LE(5), 9);
  assert.equal(r.readUInt16LE(9), 1);
  assert.equal(r.toString('utf8', 13, 13 + r.readUInt16LE(11)), 'ERR_TFTP_NOT_FOUND');
  const at = 13 + 18;
  assert.equal(r.readUInt16LE(at), 18, 'message bytes as the wire carries them (latin1, one byte per character)');
  assert.deepEqual([...encodeFlush()], [1, 0, 0, 0, 3]);
  assert.deepEqual([...encodeStatsRequest()], [1, 0, 0, 0, 4]);
  assert.deepEqual([...encodeStop()], [1, 0, 0, 0, 5]);
});

function engineFrame(type: number, body: Buffer): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32LE(1 + body.length, 0);
  out[4] = type;
  body.copy(out, 5);
  return out;
}

function openBody(request: number, fam: number, port: number, addr: string, name: Buffer): Buffer {
  const b = Buffer.alloc(4 + 1 + 2 + 1 + addr.length + 2 + name.length);
  let o = b.writeUInt32LE(request, 0);
  o = b.writeUInt8(fam, o);
  o = b.writeUInt16LE(port, o);
  o = b.writeUInt8(addr.length, o);
  o += b.write(addr, o, 'latin1');
  o = b.writeUInt16LE(name.length, o);
  name.copy(b, o);
  return b;
}

test('engine frames reassemble across any split, byte by byte included', () => {
  const log = Buffer.from(JSON.stringify({ level: 'warn', event: 'request-refused', tftpCode: 2 }));
  const logBody = Buffer.alloc(2 + log.length);
  logBody.writeUInt16LE(log.length, 0);
  log.copy(logBody, 2);
  const stats = Buffer.from(JSON.stringify({ requests: 5, errorsSent: { 1: 2 } }));
  const statsBody = Buffer.alloc(4 + stats.length);
  statsBody.writeUInt32LE(stats.length, 0);
  stats.copy(statsBody, 4);
  const stream = Buffer.concat([
    engineFrame(129, openBody(3, 6, 4242, '::ffff:127.0.0.1', Buffer.from([0x41, 0xe9, 0x2e]))),
    engineFrame(130, logBody),
    engineFrame(131, statsBody),
  ]);
  const expected = [
    { type: 'open', request: 3, family: 'IPv6', address: '::ffff:127.0.0.1', port: 4242, name: 'A\u00e9.' },
    { type: 'log', record: { level: 'warn', event: 'request-refused', tftpCode: 2 } },
    { type: 'stats', counters: { requests: 5, errorsSent: { 1: 2 } } },
  ];
  for (const step of [1, 2, 3, 7, stream.length]) {
    const reader = new EngineFrameReader();
    const got = [];
    for (let i = 0; i < stream.length; i += step) got.push(...reader.push(stream.subarray(i, i + step)));
    assert.deepEqual(got, expected, `chunks of ${step}`);
  }
});

test('corrupt engine frames are typed errors', () => {
  assert.throws(() => new EngineFrameReader().push(Buffer.from([0, 0, 0, 0, 1])), engineProtocol, 'zero length');
  assert.throws(() => new EngineFrameReader().push(Buffer.from([0xff, 0xff, 0xff, 0x7f])), engineProtocol, 'oversized');
  assert.throws(() => decodeEngineFrame(Buffer.from([99])), engineProtocol, 'unknown frame type');
  assert.throws(() => decodeEngineFrame(Buffer.from([129, 1, 0])), engineProtocol, 'truncated');
  assert.throws(() => decodeEngineFrame(Buffer.from([129, ...openBody(1, 5, 1, 'a', Buffer.from('n'))])), engineProtocol, 'family 5');
  assert.throws(() => decodeEngineFrame(Buffer.from([130, 2, 0, 0x5b, 0x5d])), engineProtocol, 'LOG not an object');
});
