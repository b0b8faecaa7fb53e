/**
 * Issue 16 row 8: a stranger must not exhaust sbd's TCP/TLS listeners. Before: no TLS handshake timeout on
 * sipd's 5061 (Node's 120 s), the 20,000-connection cap counted only connections past the handshake, no
 * per-source cap, and bytes trickled slowly kept a connection alive forever. Real sockets on loopback: the
 * SIP StreamTransport (TCP and TLS) and the TlsService TVS and CAPF share.
 *
 * No speed is measured: each check waits for the server to close a socket (or for a counter) and asserts that
 * it did; a generous deadline only stops a test that would otherwise hang on the old code.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { StreamTransport } from '../../src/sip/transports/stream-transport.js';
import { TlsService } from '../../src/lib/tls-service.js';
import { silentLogger } from '../../src/lib/log.js';

let dir = '';
let cert: Buffer;
let key: Buffer;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sbd-row08-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '2', '-subj', '/CN=sbd'],
    { cwd: dir, stdio: 'ignore' },
  );
  cert = readFileSync(join(dir, 'c.pem'));
  key = readFileSync(join(dir, 'k.pem'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const sockets: Socket[] = [];
function raw(port: number, localAddress = '127.0.0.1'): Socket {
  const s = tcpConnect({ port, host: '127.0.0.1', localAddress });
  s.on('error', () => {});
  sockets.push(s);
  return s;
}

/** True when the server closes the socket before `deadlineMs` (only a guard against hanging on the old code). */
function closedByServer(s: Socket, deadlineMs = 8000): Promise<boolean> {
  if (s.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), deadlineMs);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 800 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(await cond(), 'condition never held');
}

after(() => {
  for (const s of sockets) s.destroy();
});

// test/tls/sip-row-08.test.ts runs this file again with SBD_TLS_ENGINE=node (node:tls; the default is the C engine).
const engineWord = process.env.SBD_TLS_ENGINE;
const tlsEngine = engineWord === 'native' || engineWord === 'node' ? { tlsEngine: engineWord as 'native' | 'node' } : {};

test('SIP TLS: a client that never finishes the handshake is closed (handshakeTimeout)', async () => {
  const t = new StreamTransport(() => {}, { host: '127.0.0.1', port: 0, tls: { cert, key }, handshakeTimeout: 300, ...tlsEngine });
  const { port } = await t.listen();
  const silent = raw(port);
  await once(silent, 'connect');
  assert.equal(await closedByServer(silent), true, 'the server closed the silent socket');
  await t.close();
});

test('SIP TLS: sockets still in their handshake count against maxConnections and maxConnectionsPerSource', async () => {
  const t = new StreamTransport(() => {}, {
    host: '127.0.0.1',
    port: 0,
    tls: { cert, key },
    maxConnections: 4,
    maxConnectionsPerSource: 2,
    ...tlsEngine,
  });
  const { port } = await t.listen();
  const a = raw(port);
  const b = raw(port);
  await Promise.all([once(a, 'connect'), once(b, 'connect')]);
  await until(() => t.inboundCount === 2);
  assert.equal(t.connectionCount, 0, 'none has finished a handshake');
  // A third from the same address is refused at once, though no connection has completed its handshake.
  const c = raw(port);
  assert.equal(await closedByServer(c), true);
  assert.equal(t.stats.rejectedConnections, 1);
  // Another address still gets in (up to the total cap of 4), and then the total cap refuses.
  const d = raw(port, '127.0.0.2');
  const e = raw(port, '127.0.0.2');
  await Promise.all([once(d, 'connect'), once(e, 'connect')]);
  await until(() => t.inboundCount === 4);
  const f = raw(port, '127.0.0.3');
  assert.equal(await closedByServer(f), true);
  assert.equal(t.stats.rejectedConnections, 2);
  // A slot freed is usable again, and a real TLS client completes its handshake in it.
  a.destroy();
  await until(() => t.inboundCount === 3);
  const ok = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  await once(ok, 'secureConnect');
  await until(() => t.connectionCount === 1);
  ok.destroy();
  await t.close();
});

test('SIP TCP: bytes trickled without completing a message do not keep a connection (messageTimeout)', async () => {
  let messages = 0;
  const t = new StreamTransport(
    () => {
      messages++;
    },
    { host: '127.0.0.1', port: 0, messageTimeout: 400, idleTimeout: 600_000 },
  );
  const { port } = await t.listen();
  // The trickler: one byte of a REGISTER every 50 ms, always active, never complete.
  const slow = raw(port);
  await once(slow, 'connect');
  const text = 'REGISTER sip:sbd SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKslow\r\n'.repeat(10);
  let i = 0;
  const drip = setInterval(() => {
    if (!slow.destroyed) slow.write(text[i++ % text.length]!);
  }, 50);
  // The silent: connects and sends nothing at all.
  const silent = raw(port);
  await once(silent, 'connect');
  // The honest client: a complete message, then it stays connected without a partial message pending.
  const honest = raw(port);
  await once(honest, 'connect');
  honest.write(
    'OPTIONS sip:sbd@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKok\r\nFrom: <sip:a@b>;tag=1\r\n' +
      'To: <sip:sbd@b>\r\nCall-ID: ok@t\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n',
  );
  const [slowClosed, silentClosed] = await Promise.all([closedByServer(slow), closedByServer(silent)]);
  clearInterval(drip);
  assert.equal(slowClosed, true, 'the trickling connection was closed');
  assert.equal(silentClosed, true, 'the silent connection was closed');
  assert.ok(i > 3, 'bytes did keep arriving');
  assert.equal(t.stats.messageTimeouts, 2);
  assert.equal(messages, 1);
  assert.equal(honest.destroyed, false, 'the connection that delivered a message is kept');
  honest.destroy();
  await t.close();
});

test('TlsService (TVS, CAPF): sockets in their handshake are counted, per-source cap, handshake timeout', async () => {
  let sessions = 0;
  const svc = new TlsService({
    secureContext: { cert, key },
    host: '127.0.0.1',
    port: 0,
    handshakeTimeoutMs: 300,
    maxConnections: 3,
    maxConnectionsPerSource: 2,
    reloadIntervalMs: 0,
    reload: () => {},
    onConnection: (s) => {
      sessions++;
      s.destroy();
    },
    logger: silentLogger,
  });
  const { port } = await svc.listen();
  const a = raw(port);
  const b = raw(port);
  await Promise.all([once(a, 'connect'), once(b, 'connect')]);
  await until(async () => (await svc.connectionCount()) === 2);
  const c = raw(port);
  assert.equal(await closedByServer(c), true, 'a third socket from one address is refused');
  assert.equal(svc.rejectedPerSource, 1);
  const d = raw(port, '127.0.0.2');
  await once(d, 'connect');
  await until(async () => (await svc.connectionCount()) === 3);
  const e = raw(port, '127.0.0.3');
  assert.equal(await closedByServer(e), true, 'the total cap counts sockets still in their handshake');
  // And the silent ones are closed by the handshake timeout, freeing the slots.
  assert.deepEqual(await Promise.all([closedByServer(a), closedByServer(b), closedByServer(d)]), [true, true, true]);
  const ok = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  ok.on('error', () => {});
  await once(ok, 'secureConnect');
  await until(() => sessions === 1);
  ok.destroy();
  await svc.close();
});
