/**
 * Issue 16 row 8 (the CAPF part): a peer that completes the TLS handshake and then trickles bytes must not hold one
 * of CAPF's 1,024 session slots. Before the fix only an idle timeout (120 s, reset by every byte) bounded a
 * connection, so one byte a minute kept a slot forever. Now a connection must have authenticated within
 * `authTimeoutMs`, and no session outlives `sessionTimeoutMs`. Real sockets on loopback; the tests count bytes
 * (how much of the frame got out before the server closed), never time.
 */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { test } from 'node:test';
import { encodeMessage } from '../../src/capf/core/messages.js';
import { pendingStatus } from '../../src/capf/operation-status.js';
import type { CapfSessionSummary } from '../../src/capf/server.js';
import { startCapf } from '../capf/helpers.js';
import { once } from '../tvs/helpers.js';

const DEVICE = 'SEP001122334455';
const STEP_MS = 50;

/**
 * Connects, lets `first` answer the server's first frame (bytes sent at once), then writes `trickle` one byte per
 * STEP_MS until the server closes. Resolves with how many trickled bytes were written before the close.
 */
function trickle(
  port: number,
  first: (sessionId: number) => Buffer | undefined,
  trickleFrame: (sessionId: number) => Buffer,
  allowHalfOpen = false,
): Promise<{ written: number; total: number }> {
  return new Promise((resolve) => {
    // allowHalfOpen: the peer does not close its side when the server closes its own (an attacker's choice).
    // (a net.Socket option tls.connect passes on; its type does not list it)
    const s = tls.connect(Object.assign({ host: '127.0.0.1', port, rejectUnauthorized: false }, { allowHalfOpen }));
    let written = 0;
    let total = 0;
    let timer: NodeJS.Timeout | undefined;
    s.on('error', () => {});
    s.once('data', (d: Buffer) => {
      const sessionId = d.readUInt32BE(2);
      const head = first(sessionId);
      if (head) s.write(head);
      const bytes = trickleFrame(sessionId);
      total = bytes.length;
      timer = setInterval(() => {
        if (written >= bytes.length) return void s.destroy(); // all out and still open: the server never closed it
        s.write(bytes.subarray(written, written + 1));
        written++;
      }, STEP_MS);
    });
    s.on('close', () => {
      clearInterval(timer);
      resolve({ written, total });
    });
  });
}

/** A frame padded with an unknown element (skipped by receivers) so a byte-a-step trickle takes a while. */
function padded(m: Parameters<typeof encodeMessage>[0], pad: number): Buffer {
  const frame = encodeMessage(m);
  const extra = Buffer.concat([Buffer.from([99, pad >> 8, pad & 0xff]), Buffer.alloc(pad, 0x41)]);
  const out = Buffer.concat([frame, extra]);
  out.writeUInt16BE(frame.readUInt16BE(6) + extra.length, 6);
  return out;
}

test('a peer trickling its AUTH_RESPONSE a byte at a time is closed at the authentication deadline, however alive it looks', async (t) => {
  const { port, server } = await startCapf(t, { authTimeoutMs: 1000, idleTimeoutMs: 60_000 });
  const ended = once<CapfSessionSummary>(server, 'session');
  const r = await trickle(
    port,
    () => undefined,
    (sessionId) => padded({ command: 2, sessionId, reason: 1, version: 3, deviceName: DEVICE, password: '' }, 2000),
  );
  assert.ok(r.written < r.total, `the server closed after ${r.written} of ${r.total} bytes`);
  const summary = await ended;
  assert.deepEqual({ result: summary.result, code: summary.code }, { result: 'failed', code: 'ERR_CAPF_TIMEOUT' });
  assert.match(summary.reason!, /no AUTH_RESPONSE within 1000 ms \(state awaitAuth\)/);
  assert.equal(await server.connectionCount(), 0);
});

test('an authenticated session that trickles its KEY_GENERATE_RESPONSE ends at the session deadline; the failure is on the device', async (t) => {
  const { port, server, store } = await startCapf(t, { authTimeoutMs: 1000, sessionTimeoutMs: 3000, idleTimeoutMs: 60_000 });
  store.addDevice({ name: DEVICE, model: '8845' });
  store.updateDevice(DEVICE, { capfOperation: 'install', capfAuthMode: 'none', capfStatus: pendingStatus('install') });
  const ended = once<CapfSessionSummary>(server, 'session');
  const r = await trickle(
    port,
    (sessionId) => encodeMessage({ command: 2, sessionId, reason: 1, version: 3, deviceName: DEVICE, password: '' }),
    (sessionId) => padded({ command: 4, sessionId, publicKey: Buffer.alloc(64, 1) }, 4000),
  );
  assert.ok(r.written < r.total, `the server closed after ${r.written} of ${r.total} bytes`);
  const summary = await ended;
  assert.equal(summary.code, 'ERR_CAPF_TIMEOUT');
  assert.match(summary.reason!, /session not finished within 3000 ms \(state awaitKey\)/);
  assert.match(store.getDevice(DEVICE)!.capfStatus!, /^Operation Pending: install; last attempt .*: Failed: session not finished/);
  assert.equal(store.getDevice(DEVICE)!.capfOperation, 'install', 'a slow phone is not an authentication failure');
});

test('a peer that keeps the connection open after END_SESSION is closed after endLingerMs', async (t) => {
  const { port, server } = await startCapf(t, { endLingerMs: 500 });
  const ended = once<CapfSessionSummary>(server, 'session');
  // Unknown device: END_SESSION{9} at once. The peer does not close its side and keeps writing bytes after it.
  const r = await trickle(
    port,
    (sessionId) => encodeMessage({ command: 2, sessionId, reason: 1, version: 3, deviceName: 'SEP999999999999', password: '' }),
    () => Buffer.alloc(400, 0x55),
    true,
  );
  assert.equal((await ended).code, 'ERR_CAPF_UNKNOWN_DEVICE');
  assert.ok(r.written < r.total, `the server closed after ${r.written} of ${r.total} bytes`);
});
