/**
 * bench/tvs: TVS verifications/s as phones make them — a new TLS connection per question — and with TLS session
 * resumption, against sbd-tvsd in its own process. The peer is `openssl s_server` with the same certificate and key,
 * measured by the same client doing the bare TLS handshake only (no TVS work): the ceiling a TLS service of this
 * machine reaches. Sequential (one connection at a time, as s_server serves) and 8 in flight for sbd.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { initAppliance } from '../src/cluster/init.js';
import { openState } from '../src/store/state.js';
import { privateKeyOf } from '../src/pki/identity-store.js';
import { systemClock } from '../src/lib/clock.js';
import { queryTvs } from '../src/tvs/client.js';

const n = Number(process.env.SBD_BENCH_TVS ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'sbd-bench-tvs-'));
initAppliance({ dir, hostname: 'sbd-bench', ipv4: '127.0.0.1', clock: systemClock });
const { store } = openState(dir);
const tvs = store.currentCertificate('TVS', 'sbd-bench')!;
const cm = store.currentCertificate('CallManager', 'sbd-bench')!;
writeFileSync(join(dir, 'tvs.pem'), tvs.pem);
writeFileSync(join(dir, 'tvs.key'), privateKeyOf(tvs), { mode: 0o600 });
store.close();

async function startChild(cmd: string, args: string[], port?: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  if (port !== undefined) {
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((r) =>
        net
          .connect(port, '127.0.0.1')
          .on('connect', function (this: net.Socket) {
            this.destroy();
            r(true);
          })
          .on('error', () => r(false)),
      );
      if (ok) return { child, port };
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${cmd} did not listen on ${port}`);
  }
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

async function run(label: string, concurrency: number, one: (session: { value?: Buffer }) => Promise<void>): Promise<number> {
  const session: { value?: Buffer } = {};
  await one(session); // warm-up, and the first session for resumption
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) await one(session);
    }),
  );
  const rate = n / ((performance.now() - t0) / 1000);
  console.log(`  ${label.padEnd(58)} ${rate.toFixed(0).padStart(6)} /s`);
  return rate;
}

const sbd = await startChild(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'tvs/server-child.ts'), dir]);
const ask = (resume: boolean) => async (s: { value?: Buffer }) => {
  const a = await queryTvs({
    host: '127.0.0.1',
    port: sbd.port,
    deviceName: 'CP-8845-SEP001122334455',
    certDer: cm.der,
    trustedServerCerts: [tvs.der],
    ...(resume && s.value ? { session: s.value } : {}),
    onSession: (v) => {
      s.value = v;
    },
  });
  if (a.status !== 'valid') throw new Error('TVS said invalid for the CallManager certificate');
};
console.log(`bench/tvs — ${new Date().toISOString().slice(0, 10)}, node ${process.versions.node}, ${n} verifications per row`);
const rNew = await run('sbd-tvsd, new TLS connection each, sequential', 1, ask(false));
const rNew8 = await run('sbd-tvsd, new TLS connection each, 8 in flight', 8, ask(false));
const rRes = await run('sbd-tvsd, TLS session resumption, sequential', 1, ask(true));
sbd.child.kill('SIGTERM');

const peerPort = 20000 + Math.floor(Math.random() * 20000);
const peer = await startChild(
  'openssl',
  [
    's_server',
    '-quiet',
    '-accept',
    String(peerPort),
    '-cert',
    join(dir, 'tvs.pem'),
    '-key',
    join(dir, 'tvs.key'),
    '-naccept',
    String(2 * n + 10),
  ],
  peerPort,
);
const handshake = (resume: boolean) => (s: { value?: Buffer }) =>
  new Promise<void>((resolve, reject) => {
    const sock = tls.connect({
      host: '127.0.0.1',
      port: peer.port,
      rejectUnauthorized: false,
      ...(resume && s.value ? { session: s.value } : {}),
    });
    sock.on('session', (v: Buffer) => {
      s.value = v;
    });
    sock.on('secureConnect', () => {
      sock.end();
    });
    sock.on('close', () => resolve());
    sock.on('error', reject);
  });
const pNew = await run('openssl s_server, bare handshake, sequential', 1, handshake(false));
const pRes = await run('openssl s_server, bare handshake with resumption, sequential', 1, handshake(true));
peer.child.kill('SIGTERM');
console.log(
  `ratio sbd verification ÷ bare openssl handshake: new connection ${(rNew / pNew).toFixed(2)}x, resumed ${(rRes / pRes).toFixed(2)}x; 8 in flight ${(rNew8 / rNew).toFixed(2)}x sequential`,
);
