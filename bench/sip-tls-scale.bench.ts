/**
 * bench/sip-tls-scale: N phones (default 10,000) registered over TLS, each on its own kept connection, then
 * refreshing: sbd-sipd's memory per registered phone and its CPU at steady state (issue 7).
 *
 * Method. `sbd daemon sip` runs in its own process as in bench/sip.bench.ts (N line users with MD5/SHA-256 HA1
 * in the store, MD5 challenges). The phones are a separate Node process (bench/sip-tls-scale/generator.ts: the
 * TLS client cost is the generator's), TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384, a full handshake per phone. Phases:
 *  1. fresh daemon → RSS; one warm-up phone registers and unregisters (the registrar loads its credential
 *     directory of N users in one query) → RSS "baseline";
 *  2. N TLS connections opened (200 handshakes in flight) → settle → RSS: the connection's share;
 *  3. each phone REGISTERs over its connection (401, then Authorization nc=1, 200; 200 in flight) → settle
 *     → RSS: the binding's share. Bytes per phone = (RSS − baseline) / N. No GC is forced (the daemon has no
 *     hook for it): RSS is read from /proc/PID/status after a settle of SBD_BENCH_SETTLE_S (default 5) s, and
 *     again after the idle window;
 *  4. idle: the N phones sit connected and registered for SBD_BENCH_IDLE_S (default 30) s → daemon CPU
 *     (utime + stime from /proc/PID/stat);
 *  5. refresh: phones re-REGISTER over their open connection reusing the nonce of their last challenge with
 *     nc + 1 (no new challenge unless the server says stale or forgot it: counted), one round per rate of
 *     SBD_BENCH_RATES (default "20,200,1000,max"; 200 in flight), each round min(N, rate × SBD_BENCH_ROUND_S
 *     (default 30)) phones → CPU µs per refresh, raw and net of the idle CPU of the same length. At low rates
 *     every refresh is its own event-loop wake-up (no batching), as at steady state. Steady state for N phones
 *     refreshing every expires/2 (3600 s → 1800 s, N/1800 per second): the lowest rate's net µs × N/1800
 *     + the idle share.
 * The fd limit of both processes is raised to the hard limit (`ulimit -n "$(ulimit -Hn)"` in the spawning
 * shell); it must exceed N + a few hundred. SBD_BENCH_PHONES sets N; SBD_BENCH_PROFILE=DIR runs the daemon with
 * `node --cpu-prof` writing its profile into DIR when it stops.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initAppliance } from '../src/cluster/init.js';
import { openState } from '../src/store/state.js';
import { digestHa1 } from '../src/credentials/index.js';
import { systemClock } from '../src/lib/clock.js';

const N = Number(process.env.SBD_BENCH_PHONES ?? 10000);
const SETTLE_S = Number(process.env.SBD_BENCH_SETTLE_S ?? 5);
const IDLE_S = Number(process.env.SBD_BENCH_IDLE_S ?? 30);
const ROUND_S = Number(process.env.SBD_BENCH_ROUND_S ?? 30);
const RATES = (process.env.SBD_BENCH_RATES ?? '20,200,1000,max').split(',').map((r) => (r.trim() === 'max' ? Infinity : Number(r)));
const CONCURRENCY = 200;
const REFRESH_INTERVAL_S = 1800; // expires 3600 (the registrar's default), refreshed at half
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const root = mkdtempSync(join(tmpdir(), 'sbd-sip-tls-scale-'));
const children: ChildProcess[] = [];
const hardLimit = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
if (Number.isFinite(hardLimit) && hardLimit < N + 500) {
  console.error(`bench/sip-tls-scale: the hard fd limit is ${hardLimit}; ${N} phones need about ${N + 500} per process`);
  process.exit(2);
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
function cpuS(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

// --- state: one appliance, N line users with HA1 in the store
const stateDir = join(root, 'state');
initAppliance({ dir: stateDir, hostname: 'sbd1', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
const state = openState(stateDir);
const realm = state.store.getParam('SipStationRealm');
state.store.transaction(() => {
  for (let i = 0; i < N; i++) {
    const u = `p${100000 + i}`;
    const h = digestHa1(u, realm, `pw${i}`);
    state.store.putUser({ userid: u, credentialHash: 'bench', algorithm: 'none' });
    state.store.putDigestCredential(u, realm, h.ha1Md5, h.ha1Sha256);
  }
});
const caPem = state.store.currentCertificate('CallManager', 'sbd1')!.pem;
state.store.close();

const raiseFdLimit = 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"';

async function startDaemon(): Promise<{ pid: number; tls: number }> {
  const prof = process.env.SBD_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SBD_BENCH_PROFILE}`] : [];
  const p = spawn(
    'sh',
    [
      '-c',
      raiseFdLimit,
      process.execPath,
      ...prof,
      '--import',
      'tsx',
      join(import.meta.dirname, '..', 'src', 'cli', 'main.ts'),
      'daemon',
      'sip',
      '--state',
      stateDir,
      '--bind',
      '127.0.0.1',
      '--port',
      '0',
      '--tls-port',
      '0',
      '--digest-algorithms',
      'MD5',
      // Every phone connects from 127.0.0.1 here, and phase 2 holds connections open before any REGISTER.
      '--max-connections-per-source',
      String(N + 100),
      '--message-timeout',
      '3600000',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SBD_LOG_LEVEL: 'warn' } },
  );
  children.push(p);
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    p.stdout!.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    p.once('exit', (code) => reject(new Error(`sbd daemon exited ${code}`)));
  });
  p.stdout!.resume();
  return { pid: p.pid!, tls: (JSON.parse(line) as { tls: number }).tls };
}

type Answer = {
  ok?: number;
  failed?: number;
  seconds?: number;
  p50Ms?: number;
  p99Ms?: number;
  rechallenged?: number;
  open?: number;
  errors?: Record<string, number>;
};

function startGenerator(port: number): Promise<(m: object) => Promise<Answer>> {
  const g = spawn(
    'sh',
    ['-c', raiseFdLimit, process.execPath, '--import', 'tsx', join(import.meta.dirname, 'sip-tls-scale', 'generator.ts')],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, SBD_GEN_PHONES: String(N), SBD_GEN_PORT: String(port), SBD_GEN_CA: caPem },
    },
  );
  children.push(g);
  let waiter: ((a: Answer) => void) | undefined;
  g.on('message', (a: Answer) => {
    const w = waiter;
    waiter = undefined;
    w?.(a);
  });
  const ask = (m: object) =>
    new Promise<Answer>((resolve) => {
      waiter = resolve;
      g.send(m);
    });
  return new Promise((resolve, reject) => {
    waiter = () => resolve(ask);
    g.once('exit', (code) => reject(new Error(`generator exited ${code}`)));
  });
}

function check(what: string, a: Answer, expect: number): void {
  if (a.failed || (a.ok ?? 0) !== expect)
    console.error(`  ${what}: ${a.ok} ok, ${a.failed} failed of ${expect} ${JSON.stringify(a.errors ?? {})}`);
}

const mib = (kb: number) => (kb / 1024).toFixed(1);
const us = (s: number) => (s * 1e6).toFixed(0);

async function main(): Promise<void> {
  const loads = [`start ${loadavg()}`];
  const d = await startDaemon();
  await sleep(SETTLE_S);
  const rssFresh = rssKb(d.pid);
  const gen = await startGenerator(d.tls);
  await gen({ cmd: 'warmup' });
  await sleep(SETTLE_S);
  const rssBase = rssKb(d.pid);

  let c0 = cpuS(d.pid);
  const conn = await gen({ cmd: 'connect', concurrency: CONCURRENCY });
  const connCpu = cpuS(d.pid) - c0;
  check('connect', conn, N);
  await sleep(SETTLE_S);
  const rssConn = rssKb(d.pid);
  loads.push(`after connect ${loadavg()}`);

  c0 = cpuS(d.pid);
  const reg = await gen({ cmd: 'register', concurrency: CONCURRENCY });
  const regCpu = cpuS(d.pid) - c0;
  check('register', reg, conn.ok!);
  await sleep(SETTLE_S);
  const rssReg = rssKb(d.pid);

  c0 = cpuS(d.pid);
  await sleep(IDLE_S);
  const idleCpuPerS = (cpuS(d.pid) - c0) / IDLE_S;
  const rssIdle = rssKb(d.pid);
  loads.push(`after idle ${loadavg()}`);
  const open = (await gen({ cmd: 'open' })).open!;

  const refresh: Array<{ rate: number; a: Answer; rawUs: number; netUs: number }> = [];
  for (const rate of RATES) {
    c0 = cpuS(d.pid);
    const count = Math.min(reg.ok!, rate * ROUND_S);
    const a = await gen({ cmd: 'refresh', rate, count, concurrency: CONCURRENCY });
    const cpu = cpuS(d.pid) - c0;
    check(`refresh ${rate}/s`, a, count);
    const n = Math.max(1, a.ok!);
    refresh.push({ rate, a, rawUs: (cpu / n) * 1e6, netUs: (Math.max(0, cpu - idleCpuPerS * a.seconds!) / n) * 1e6 });
    loads.push(`after refresh ${rate === Infinity ? 'unpaced' : `${rate}/s`} ${loadavg()}`);
  }
  const rssEnd = rssKb(d.pid);
  await gen({ cmd: 'close' });

  const phones = reg.ok!;
  const perConn = ((rssConn - rssBase) * 1024) / Math.max(1, conn.ok!);
  const perBinding = ((rssReg - rssConn) * 1024) / Math.max(1, phones);
  const perPhone = ((rssReg - rssBase) * 1024) / Math.max(1, phones);
  const perPhoneIdle = ((rssIdle - rssBase) * 1024) / Math.max(1, phones);
  const slow = refresh[0]!;
  const refreshShare = ((N / REFRESH_INTERVAL_S) * slow.netUs) / 1e6;
  const rate = (r: number) => (r === Infinity ? 'unpaced' : `${r}/s`);

  console.log(
    `\nbench/sip-tls-scale: ${phones} of ${N} phones registered over TLS (${open} connections still open after the idle window)\n`,
  );
  console.log('| measure | value |\n|---|---|');
  console.log(
    `| RSS: fresh daemon / after the warm-up phone (credential directory of ${N} users loaded) = baseline | ${mib(rssFresh)} MiB / ${mib(rssBase)} MiB |`,
  );
  console.log(
    `| RSS: ${conn.ok} TLS connections open, no REGISTER yet | ${mib(rssConn)} MiB (+${(perConn / 1024).toFixed(1)} KiB per connection) |`,
  );
  console.log(
    `| RSS: ${phones} registered, ${SETTLE_S} s settle | ${mib(rssReg)} MiB (+${(perBinding / 1024).toFixed(1)} KiB per binding) |`,
  );
  console.log(
    `| **bytes per registered TLS phone** (connection + binding, over baseline) | **${(perPhone / 1024).toFixed(1)} KiB** (${(perPhoneIdle / 1024).toFixed(1)} KiB after ${IDLE_S} s idle) |`,
  );
  console.log(`| RSS after the refresh rounds | ${mib(rssEnd)} MiB |`);
  console.log(
    `| TLS handshakes (full, 200 in flight) | ${(conn.ok! / conn.seconds!).toFixed(0)}/s, sbd CPU ${us(connCpu / Math.max(1, conn.ok!))} µs each |`,
  );
  console.log(
    `| initial REGISTER with challenge (401 + 200) | ${(reg.ok! / reg.seconds!).toFixed(0)}/s, sbd CPU ${us(regCpu / Math.max(1, phones))} µs each, p50 ${reg.p50Ms!.toFixed(1)} ms, p99 ${reg.p99Ms!.toFixed(1)} ms |`,
  );
  console.log(
    `| idle, ${phones} phones connected and registered, ${IDLE_S} s | sbd CPU ${(idleCpuPerS * 1000).toFixed(1)} ms/s (${(idleCpuPerS * 100).toFixed(2)} % of one core) |`,
  );
  for (const r of refresh) {
    console.log(
      `| refresh ${rate(r.rate)}, ${r.a.ok} phones (nonce reused, nc+1) | ${(r.a.ok! / r.a.seconds!).toFixed(0)}/s achieved, sbd CPU ${r.rawUs.toFixed(0)} µs per refresh ` +
        `(${r.netUs.toFixed(0)} net of idle), p50 ${r.a.p50Ms!.toFixed(1)} ms, p99 ${r.a.p99Ms!.toFixed(1)} ms, re-challenged ${r.a.rechallenged} |`,
    );
  }
  console.log(
    `| **steady state, ${N} phones refreshing every ${REFRESH_INTERVAL_S} s** | **${((refreshShare + idleCpuPerS) * 100).toFixed(2)} % of one core** ` +
      `= refreshes ${(refreshShare * 100).toFixed(3)} % (${(N / REFRESH_INTERVAL_S).toFixed(2)}/s × ${slow.netUs.toFixed(0)} µs) + idle ${(idleCpuPerS * 100).toFixed(2)} % |`,
  );
  console.log(`\nload average (1/5/15 min): ${loads.join('; ')}`);
}

try {
  await main();
} finally {
  for (const c of children) c.kill('SIGTERM');
  await sleep(process.env.SBD_BENCH_PROFILE ? 5 : 0.5); // a profiled daemon writes its profile on exit
  rmSync(root, { recursive: true, force: true });
}
