/** The engine's control lines (src/tls/control-reader.ts): split at every byte, both kinds, and what is refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlReader, type EngineEvent } from '../../src/tls/control-reader.js';

const cert = Buffer.from('3082010a0282010100c0ffee', 'hex');
const text = `C 17 127.0.0.1 40522 TLSv1.3 TLS_AES_256_GCM_SHA384 1 0 1 ${cert.toString('base64')}\nE ::1 5060 error:0A000102:SSL routines::unsupported protocol\nC 18 10.0.0.7 1 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 0 1 0 -\n`;
const expected: EngineEvent[] = [
  {
    type: 'connection',
    fd: 17,
    address: '127.0.0.1',
    port: 40522,
    version: 'TLSv1.3',
    cipher: 'TLS_AES_256_GCM_SHA384',
    resumed: true,
    ktls: false,
    peerVerified: true,
    peerCertificate: cert,
  },
  { type: 'handshake-error', address: '::1', port: 5060, reason: 'error:0A000102:SSL routines::unsupported protocol' },
  {
    type: 'connection',
    fd: 18,
    address: '10.0.0.7',
    port: 1,
    version: 'TLSv1.2',
    cipher: 'ECDHE-RSA-AES128-GCM-SHA256',
    resumed: false,
    ktls: true,
    peerVerified: false,
    peerCertificate: undefined,
  },
];

test('control lines split at every byte give the same three events', () => {
  const bytes = Buffer.from(text, 'latin1');
  for (let cut = 0; cut <= bytes.length; cut++) {
    const r = new ControlReader();
    assert.deepEqual([...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))], expected, `cut at ${cut}`);
  }
});

test('an unknown line, a bad fd and an over-long partial line are ERR_TLS_ENGINE_CONTROL', () => {
  for (const bad of ['X 1 2\n', 'C -1 127.0.0.1 1 TLSv1.3 X 0 0 0 -\n', 'C 3 127.0.0.1 1 TLSv1.3 X 0 0 -\n', 'C 3 127.0.0.1 1 TLSv1.3\n']) {
    assert.throws(() => new ControlReader().push(Buffer.from(bad)), { code: 'ERR_TLS_ENGINE_CONTROL' }, bad);
  }
  assert.throws(() => new ControlReader({ maxLineBytes: 8 }).push(Buffer.from('C 1 2 3 4 5')), { code: 'ERR_TLS_ENGINE_CONTROL' });
});
