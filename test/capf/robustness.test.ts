import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { test } from 'node:test';
import { enrollWithCapf } from '../../src/capf/client.js';
import { CapfFrameReader } from '../../src/capf/core/frame-reader.js';
import { decodeMessage, encodeMessage } from '../../src/capf/core/messages.js';
import { pendingStatus } from '../../src/capf/operation-status.js';
import { holdHalfOpen, once, sClient } from '../tvs/helpers.js';
import { startCapf } from './helpers.js';
import type { CapfSessionSummary } from '../../src/capf/server.js';

const DEVICE = 'SEP001122334455';

test('openssl s_client (third-party TLS peer): no SNI, the store CAPF certificate, the raw AUTH_REQUEST and END_SESSION{7} for a bad answer', async (t) => {
  const { port, capfCert, server } = await startCapf(t);
  // s_client sends an AUTH_RESPONSE with a session id the server did not pick: the server ends the session.
  const bogus = encodeMessage({ command: 2, sessionId: 0xdeadbeef, reason: 1, version: 3, deviceName: DEVICE, password: '' });
  const ended = once<CapfSessionSummary>(server, 'session');
  const r = await sClient(['-connect', `127.0.0.1:${port}`, '-noservername', '-showcerts', '-ign_eof'], bogus);
  const text = r.stdout.toString('latin1');
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
  assert.ok(pem, text + r.stderr);
  assert.ok(new X509Certificate(pem).raw.equals(capfCert.der));
  const summary = await ended;
  assert.equal(summary.code, 'ERR_CAPF_SESSION');
  // The application bytes follow the handshake summary in s_client's output: find the CAPF frames in it.
  const start = r.stdout.indexOf(Buffer.from([0x55, 0x01]));
  assert.ok(start >= 0, 'AUTH_REQUEST received');
  const frames = new CapfFrameReader().push(r.stdout.subarray(start, start + 16 + 12));
  const [auth, end] = frames.map(decodeMessage);
  assert.deepEqual(auth, { command: 1, sessionId: summary.sessionId, version: 3, authType: 0 });
  assert.deepEqual(end, { command: 15, sessionId: summary.sessionId, reason: 7 });
});

function rawTls(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    const got: Buffer[] = [];
    s.on('secureConnect', () => s.end(bytes));
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => {});
    s.on('close', () => resolve(Buffer.concat(got)));
    setTimeout(() => reject(new Error('server did not close')), 60000).unref();
  });
}

test('robustness: truncated frame, wrong protocol id, 64 KiB garbage, non-TLS bytes and 1,000 half-open connections leave CAPF serving', async (t) => {
  const { port, capfCert, server, store, lines } = await startCapf(t, { handshakeTimeoutMs: 120000 });
  store.addDevice({ name: DEVICE, model: '8845' });
  const enroll = async () => {
    store.updateDevice(DEVICE, {
      capfOperation: 'install',
      capfAuthMode: 'none',
      capfStatus: pendingStatus('install', { type: 'ec', curve: 'P-256' }),
    });
    const r = await enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'none' },
      trustedServerCerts: [capfCert.der],
      timeoutMs: 60000,
    });
    assert.equal(r.operation, 'install');
  };
  const cases: Array<[string, Buffer, string]> = [
    ['truncated frame', Buffer.from('5502000000010020010001', 'hex'), 'ERR_CAPF_TRUNCATED'],
    ['wrong protocol id', Buffer.from('5701010000000001000a', 'hex'), 'ERR_CAPF_PROTOCOL_ID'],
    ['64 KiB garbage body', Buffer.concat([Buffer.from('550200000001ffff', 'hex'), Buffer.alloc(65535, 0x5a)]), 'ERR_CAPF_FRAME_TOO_LARGE'],
  ];
  for (const [label, bytes, code] of cases) {
    const ended = once<CapfSessionSummary>(server, 'session');
    const reply = await rawTls(port, bytes);
    const s = await ended;
    assert.equal(s.code, code, label);
    assert.equal(s.result, 'failed');
    // The server spoke first (AUTH_REQUEST) and, where it could, said why it ends (END_SESSION{7}).
    assert.equal(reply[0], 0x55, label);
    assert.equal(lines.filter((l) => l.event === 'session' && l.code === code).length, 1, `${label}: one log line`);
    await enroll();
  }
  const plain = net.connect(port, '127.0.0.1');
  plain.on('error', () => {});
  const tlsErr = once(server, 'tlsError');
  plain.end(Buffer.from('this is not TLS\r\n\r\n'));
  await tlsErr;
  await enroll();
  assert.ok((await holdHalfOpen(t, port, 1000, () => server.connectionCount())) >= 1000);
  await enroll();
  assert.equal(server.stats.installed, 5);
});

test('idle timeout: a phone that authenticates and then goes silent is ended, and the failure is recorded on the device', async (t) => {
  const { port, server, store } = await startCapf(t, { idleTimeoutMs: 1500 });
  store.addDevice({ name: DEVICE, model: '8845' });
  store.updateDevice(DEVICE, { capfOperation: 'install', capfAuthMode: 'none', capfStatus: pendingStatus('install') });
  const ended = once<CapfSessionSummary>(server, 'session');
  const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  s.on('error', () => {});
  t.after(() => s.destroy());
  s.once('data', (d: Buffer) => {
    const sessionId = d.readUInt32BE(2);
    s.write(encodeMessage({ command: 2, sessionId, reason: 1, version: 3, deviceName: DEVICE, password: '' }));
  });
  const summary = await ended;
  assert.deepEqual({ result: summary.result, code: summary.code }, { result: 'failed', code: 'ERR_CAPF_TIMEOUT' });
  assert.match(
    store.getDevice(DEVICE)!.capfStatus!,
    /^Operation Pending: install; last attempt .*: Failed: no traffic for 1500 ms in state awaitKey/,
  );
});
