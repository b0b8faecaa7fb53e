/**
 * Issue 16 build item 11 for the TLS listeners: `sbd daemon tvs` and `sbd daemon capf` (each its own process) take
 * a flood of hostile connections, then a phone still gets its TVS answer / its CAPF session, and the daemon's peak
 * RSS (VmHWM) stayed under a stated bound. While the phone asks, the attacker still holds connections open:
 *  - garbage: GARBAGE_CONNECTIONS TCP connections that send random bytes instead of a ClientHello (the C sender,
 *    opened again as fast as the server closes them);
 *  - bad frames: BAD_FRAME_CONNECTIONS full TLS handshakes, then random bytes as the protocol's frame;
 *  - row 8: HELD_HALF_OPEN TCP connections that never start TLS, and HELD_TRICKLING TLS connections that send one
 *    byte of a frame and then a byte now and then, all from HOLD_SOURCES addresses (TCP cannot be spoofed: an
 *    attacker holds connections from the few addresses it has), more than CAPF's 1,024 connection slots.
 * Not 1,000,000 messages as for the datagram listeners: both protocols take one request per TLS connection (TVS,
 * spec §3.1) or close it on the first bad frame, so every hostile message costs a TCP connection and most a TLS
 * handshake (~1–2 ms of server CPU each on this machine): a million would take tens of minutes on two cores.
 */
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { initAppliance } from '../../src/cluster/init.js';
import { openState } from '../../src/store/state.js';
import { main } from '../../src/cli/main.js';
import { systemClock } from '../../src/lib/clock.js';
import { enrollWithCapf } from '../../src/capf/client.js';
import { queryTvs } from '../../src/tvs/client.js';
import { buildSender, listeningPort, memoryOf, runSender, sleep, startDaemonProcess } from './flood-helpers.js';

/** Connections that send random bytes where a ClientHello belongs. */
const GARBAGE_CONNECTIONS = 20_000;
/** Completed TLS handshakes followed by a garbage frame. */
const BAD_FRAME_CONNECTIONS = 1_000;
/** Connections held open during the phone's request (row 8), each kind. */
const HELD_HALF_OPEN = 1_100;
const HELD_TRICKLING = 1_100;
/** Addresses the held connections come from (127.67.0.x). */
const HOLD_SOURCES = 8;
/**
 * Peak RSS the daemon may reach, flood included. An idle daemon under tsx is ~130 MiB; each open TLS connection
 * costs ~40–60 KiB in Node (socket, OpenSSL state, buffers), so ~2,200 held ones about 130 MiB more at most.
 */
const MAX_RSS_MIB = 400;
const DEVICE = 'SEP001122334455';

const source = (i: number) => `127.67.0.${(i % HOLD_SOURCES) + 1}`;

/** Opens `count` TCP connections that never send a byte; resolves once all are connected or refused. */
async function holdHalfOpen(port: number, count: number, held: net.Socket[]): Promise<number> {
  const results = await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<boolean>((resolve) => {
          const s = net.connect({ port, host: '127.0.0.1', localAddress: source(i) }, () => resolve(true));
          s.on('error', () => resolve(false));
          s.on('close', () => resolve(false));
          held.push(s);
        }),
    ),
  );
  return results.filter(Boolean).length;
}

/** A TLS client connection from `localAddress` (the server's certificate is not what is tested here). */
function tlsFrom(port: number, localAddress: string, onSecure: () => void): tls.TLSSocket {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  return tls.connect({ socket, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, onSecure);
}

/** TLS connections that finish the handshake, send one byte of a frame, then one more byte every 5 s. */
async function holdTrickling(port: number, count: number, held: net.Socket[]): Promise<number> {
  let ok = 0;
  // In rounds of 50: a thousand handshakes at once only queue up in the server.
  for (let i = 0; i < count; i += 50) {
    const round = await Promise.all(
      Array.from(
        { length: Math.min(50, count - i) },
        (_, j) =>
          new Promise<boolean>((resolve) => {
            const s = tlsFrom(port, source(i + j), () => {
              s.write(Buffer.from([0x01]));
              const timer = setInterval(() => s.write(Buffer.from([0x00])), 5000);
              s.once('close', () => clearInterval(timer));
              resolve(true);
            });
            s.on('error', () => resolve(false));
            s.on('close', () => resolve(false));
            held.push(s);
          }),
      ),
    );
    ok += round.filter(Boolean).length;
  }
  return ok;
}

/**
 * Full handshakes, then 1,000 random bytes as a frame; the server should close. From 200 addresses (127.66.1.x), so
 * that per-source caps do not turn them away before the handshake, 100 at a time; a connection still open after 2 s
 * is dropped by the client (CAPF keeps one open after a protocol error until its 15 s authentication deadline).
 */
async function badFrames(port: number, count: number): Promise<void> {
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, count - i) },
        (_, j) =>
          new Promise<void>((resolve) => {
            const s = tlsFrom(port, `127.66.1.${((i + j) % 200) + 1}`, () => s.end(randomBytes(1000)));
            const timer = setTimeout(() => s.destroy(), 2_000);
            s.on('error', () => {});
            s.on('close', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
  }
}

async function retry<T>(what: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await what();
    } catch (err) {
      if (i >= attempts) throw err;
      await sleep(1000);
    }
  }
}

for (const service of ['tvs', 'capf'] as const) {
  test(`${service}d: ${GARBAGE_CONNECTIONS} garbage connections, ${BAD_FRAME_CONNECTIONS} bad frames, ${HELD_HALF_OPEN + HELD_TRICKLING} held connections; a phone is still served; RSS bounded`, {
    timeout: 600_000,
  }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `sbd-flood-${service}-`));
    initAppliance({ dir, hostname: 'sbd1', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
    const silent = { out: () => {}, err: () => {} };
    assert.equal(await main(['device', 'add', DEVICE, '--model', '8845', '--state', dir], silent), 0);
    const s = openState(dir, { readonly: true });
    const cmDer = new X509Certificate(s.store.currentCertificate('CallManager', 'sbd1')!.pem).raw;
    s.store.close();
    const sender = buildSender();
    const held: net.Socket[] = [];
    // test/tls/flood-engine.test.ts runs this file again with SBD_TLS_ENGINE=node (node:tls; the default is the C engine).
    const e = process.env.SBD_TLS_ENGINE;
    const engine = e === 'native' || e === 'node' ? ['--tls-engine', e] : [];
    const d = await startDaemonProcess(['daemon', service, '--state', dir, '--bind', '127.0.0.1', '--port', '0', ...engine]);
    const port = listeningPort(d.listening);
    // The phone: a TVS query for the CallManager certificate (valid), or a CAPF session with nothing pending.
    const phone = async (): Promise<string> =>
      service === 'tvs'
        ? (
            await queryTvs({
              host: '127.0.0.1',
              port,
              deviceName: `CP-8845-${DEVICE}`,
              certDer: cmDer,
              checkServerCert: () => true,
              timeoutMs: 30_000,
            })
          ).status
        : (
            await enrollWithCapf({
              host: '127.0.0.1',
              port,
              deviceName: DEVICE,
              auth: { type: 'none' },
              checkServerCert: () => true,
              timeoutMs: 30_000,
            })
          ).operation;
    const expected = service === 'tvs' ? 'valid' : 'none';
    try {
      assert.equal(await phone(), expected, 'served before the flood');
      const t0 = Date.now();
      const g = await runSender(sender, 'tcp', port, GARBAGE_CONNECTIONS, [{ name: 'random-bytes', weight: 1, random: 600 }], {
        conns: 16,
        drainMs: 30_000,
        perConnection: true,
      });
      const t1 = Date.now();
      await badFrames(port, BAD_FRAME_CONNECTIONS);
      const t2 = Date.now();
      const trickling = await holdTrickling(port, HELD_TRICKLING, held);
      const halfOpen = await holdHalfOpen(port, HELD_HALF_OPEN, held);
      assert.equal(d.child.exitCode, null, `${service}d died during the flood: ${d.tail().slice(-2000)}`);
      // A phone retries a failed request, as a phone does.
      assert.equal(await retry(phone), expected, 'served while the attacker holds its connections');
      const mem = memoryOf(d.pid);
      assert.ok(
        mem.hwmKb / 1024 < MAX_RSS_MIB,
        `peak RSS ${(mem.hwmKb / 1024).toFixed(0)} MiB (now ${(mem.rssKb / 1024).toFixed(0)} MiB) ≥ ${MAX_RSS_MIB} MiB`,
      );
      t.diagnostic(
        `${service}: ${g.sent} garbage connections, held ${trickling} trickling + ${halfOpen} half-open; peak RSS ${(mem.hwmKb / 1024).toFixed(0)} MiB` +
          ` (phases: garbage ${t1 - t0} ms, bad frames ${t2 - t1} ms, holding and the phone ${Date.now() - t2} ms)`,
      );
    } finally {
      for (const h of held) h.destroy();
      await d.stop();
      sender.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
