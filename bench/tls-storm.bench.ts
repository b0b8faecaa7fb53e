/**
 * bench/tls-storm: the SIP reconnect storm after a power cut (issue 20). N phones (SBD_BENCH_PHONES, default
 * 10,000) each open a new TCP connection with a full TLS 1.2 handshake (ECDHE-RSA-AES256-GCM-SHA384, the
 * appliance's RSA-2048 CallManager certificate), REGISTER, 401, REGISTER with MD5 digest, 200, and keep the
 * connection (bench/tls-storm/generator.ts, own processes). Measured: seconds until the last phone is registered,
 * and the server's CPU (all threads and children, /proc) over the storm. Servers, one after another in one run,
 * each fresh with a warm-up of WARMUP other phones first: sbd-sipd with --tls-engine node and native, and
 * Kamailio 5.6 (bench/sip-kamailio.ts, the set-up bench/sip uses) with children=tcp_children=1 and 2, same
 * certificate, suites and credentials. At most SBD_BENCH_INFLIGHT (default 200) phones are in their handshake or
 * registration at once (10,000 SYNs at one instant would only measure the listen backlog's overflow and SYN
 * retries); a failed phone retries after 1 s, five attempts in all. The phones are bench/sip-tls-client's C client
 * in --storm mode (libssl + epoll, ~0.7 ms of CPU a phone), so the servers, not the client, set the pace on this
 * 2-core machine; SBD_BENCH_CLIENT=node uses the earlier Node generator instead (node:tls, ~2.4 ms a phone: on two
 * cores it set the pace and took CPU from the servers), SBD_BENCH_GENERATORS (default 1) splitting its phones over
 * that many processes. Printed per server: time until the last phone is registered, server CPU per phone, the
 * client's CPU. Fd limits are raised to the hard limit (as bench/sip-tls-scale).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { initAppliance } from '../src/cluster/init.js';
import { digestHa1 } from '../src/credentials/index.js';
import { systemClock } from '../src/lib/clock.js';
import { privateKeyOf } from '../src/pki/identity-store.js';
import { openState } from '../src/store/state.js';
import { startKamailio, treeCpu, writeKamailioDb } from './sip-kamailio.js';
import { startTlsStorm } from './sip-tls-client/run.js';

const N = Number(process.env.SBD_BENCH_PHONES ?? 10000);
const INFLIGHT = Number(process.env.SBD_BENCH_INFLIGHT ?? 200);
const GENERATORS = Number(process.env.SBD_BENCH_GENERATORS ?? 1);
const CLIENT = process.env.SBD_BENCH_CLIENT ?? 'c';
// The C client's phones each connect from their own loopback address (127.4.0.1 on), as phones in a building do, so
// sbd's per-source cap (100 stream connections) and flood guard see one phone per address; the Node generator's all
// come from 127.0.0.1 and sbd's cap is lifted for them.
const OWN_ADDRESSES = CLIENT === 'c';
if (CLIENT !== 'c' && CLIENT !== 'node') {
  console.error(`bench/tls-storm: SBD_BENCH_CLIENT is "${CLIENT}"; it must be c or node`);
  process.exit(2);
}
const WARMUP = 200;
const SUITES = 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256';
const root = mkdtempSync(join(tmpdir(), 'sbd-tls-storm-'));
const children: ChildProcess[] = [];
const raiseFdLimit = 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"';

const hardLimit = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
if (Number.isFinite(hardLimit) && hardLimit < N + WARMUP + 500) {
  console.error(`bench/tls-storm: the hard fd limit is ${hardLimit}; ${N} phones need about ${N + WARMUP + 500} per process`);
  process.exit(2);
}
if (spawnSync('sh', ['-c', 'command -v kamailio']).status !== 0) {
  console.error('bench/tls-storm: kamailio is missing (scripts/install-deps.sh installs deps/apt/sip-app.txt)');
  process.exit(2);
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

// --- state: one appliance; N storm phones (p…) and WARMUP warm-up phones (w…), HA1 in the store and Kamailio's table
const stateDir = join(root, 'state');
initAppliance({ dir: stateDir, hostname: 'sbd1', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
const state = openState(stateDir);
const realm = state.store.getParam('SipStationRealm');
const kamUsers: Array<{ user: string; realm: string; ha1Md5: string }> = [];
state.store.transaction(() => {
  for (const [prefix, count] of [
    ['p', N],
    ['w', WARMUP],
  ] as const) {
    for (let i = 0; i < count; i++) {
      const u = `${prefix}${100000 + i}`;
      const h = digestHa1(u, realm, `pw${i}`);
      state.store.putUser({ userid: u, credentialHash: 'bench', algorithm: 'none' });
      state.store.putDigestCredential(u, realm, h.ha1Md5, h.ha1Sha256);
      kamUsers.push({ user: u, realm, ha1Md5: h.ha1Md5 });
    }
  }
});
const cm = state.store.currentCertificate('CallManager', 'sbd1')!;
writeFileSync(join(root, 'cert.pem'), cm.pem);
writeFileSync(join(root, 'key.pem'), privateKeyOf(cm), { mode: 0o600 });
state.store.close();
const dbDir = join(root, 'kdb');
writeKamailioDb(dbDir, kamUsers);

interface Server {
  pid: number;
  tls: number;
  process: ChildProcess;
}

async function startSbd(engine: 'node' | 'native'): Promise<Server> {
  const p = spawn(
    'sh',
    [
      '-c',
      raiseFdLimit,
      process.execPath,
      // SBD_BENCH_PROFILE=<dir>: the daemon writes a V8 CPU profile there when it stops (Node's main thread only).
      ...(process.env.SBD_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SBD_BENCH_PROFILE}`] : []),
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
      '--tls-engine',
      engine,
      // The Node generator's phones all connect from 127.0.0.1.
      ...(OWN_ADDRESSES ? [] : ['--max-connections-per-source', String(N + WARMUP + 100)]),
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
  return { pid: p.pid!, tls: (JSON.parse(line) as { tls: number }).tls, process: p };
}

async function startKam(workers: number): Promise<Server> {
  const k = await startKamailio({
    dir: join(root, `kamailio-${workers}`),
    dbDir,
    realm,
    certPath: join(root, 'cert.pem'),
    keyPath: join(root, 'key.pem'),
    cipherList: SUITES,
    children: workers,
    tcpChildren: workers,
    maxConnections: N + WARMUP + 100,
    // OpenSSL's state of every connection lives in Kamailio's shared memory.
    shmMb: 2048,
    raiseFdLimit: true,
  });
  children.push(k.process);
  return { pid: k.pid, tls: k.tls, process: k.process };
}

interface Answer {
  ok: number;
  failed: number;
  retries: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  errors: Record<string, number>;
}

type Generator = { ask: (m: object) => Promise<Answer>; process: ChildProcess };

function startGenerator(port: number): Promise<Generator> {
  const g = spawn('sh', ['-c', raiseFdLimit, process.execPath, '--import', 'tsx', join(import.meta.dirname, 'tls-storm', 'generator.ts')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, SBD_GEN_PORT: String(port), SBD_GEN_CA: readFileSync(join(root, 'cert.pem'), 'utf8') },
  });
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
    waiter = () => resolve({ ask, process: g });
    g.once('exit', (code) => {
      if (waiter) reject(new Error(`generator exited ${code}`));
    });
  });
}

interface Storm {
  ok: number;
  failed: number;
  retries: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  errors: Record<string, number>;
  /** The client's own CPU over the storm. */
  clientCpuS: number;
  /** Closes every phone's connection (the client exits). */
  close: () => Promise<void>;
}

/** `count` phones from `prefix` through the C client (--storm); resolves with every phone's connection open. */
async function stormC(port: number, prefix: string, count: number): Promise<Storm> {
  const { result: r, close } = await startTlsStorm({
    port,
    phones: count,
    userPrefix: prefix,
    inFlight: INFLIGHT,
    ca: join(root, 'cert.pem'),
    ciphers: 'ECDHE-RSA-AES256-GCM-SHA384',
    sources: count,
  });
  const errors: Record<string, number> = {};
  for (const [cause, n] of Object.entries(r.failedBy)) if (n) errors[cause] = n;
  if (r.lastError) errors[`last: ${r.lastError}`] = 1;
  return {
    ok: r.ok,
    failed: r.failed,
    retries: r.retries,
    seconds: r.wallMs / 1000,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    errors,
    clientCpuS: r.cpuS,
    close,
  };
}

const storm = (port: number, prefix: string, count: number, generators: number) =>
  CLIENT === 'c' ? stormC(port, prefix, count) : stormNode(port, prefix, count, generators);

/** `count` phones from `prefix`, split over the Node generators, all started at once. */
async function stormNode(port: number, prefix: string, count: number, generators: number): Promise<Storm> {
  const gens = await Promise.all(Array.from({ length: generators }, () => startGenerator(port)));
  const share = Math.ceil(count / generators);
  const cpu0 = gens.reduce((s, g) => s + treeCpu(g.process.pid!), 0);
  const t0 = performance.now();
  const answers = await Promise.all(
    gens.map((g, k) =>
      g.ask({
        cmd: 'storm',
        first: k * share,
        count: Math.max(0, Math.min(share, count - k * share)),
        inflight: Math.ceil(INFLIGHT / generators),
        prefix,
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  const clientCpuS = gens.reduce((s, g) => s + treeCpu(g.process.pid!), 0) - cpu0;
  const close = async () => {
    await Promise.all(gens.map((g) => g.ask({ cmd: 'close' })));
  };
  const sum = (f: (a: Answer) => number) => answers.reduce((s, a) => s + f(a), 0);
  const errors: Record<string, number> = {};
  for (const a of answers) for (const [e, n] of Object.entries(a.errors)) errors[e] = (errors[e] ?? 0) + n;
  return {
    ok: sum((a) => a.ok),
    failed: sum((a) => a.failed),
    retries: sum((a) => a.retries),
    seconds,
    p50Ms: Math.max(...answers.map((a) => a.p50Ms)),
    p99Ms: Math.max(...answers.map((a) => a.p99Ms)),
    errors,
    clientCpuS,
    close,
  };
}

interface Row {
  name: string;
  ok: number;
  failed: number;
  retries: number;
  seconds: number;
  cpuS: number;
  p50Ms: number;
  p99Ms: number;
  clientCpuS: number;
  load: string;
}

async function run(name: string, start: () => Promise<Server>): Promise<Row> {
  const s = await start();
  try {
    // Warm-up: JIT, the credential directory's first load, Kamailio's db_text table; other phones, not measured.
    await (await storm(s.tls, 'w', WARMUP, 1)).close();
    await sleep(2);
    const cpu0 = treeCpu(s.pid);
    const { close, ...r } = await storm(s.tls, 'p', N, GENERATORS);
    // Kamailio 5.6.3 with two TCP workers has crashed in its tls module (OpenSSL 3) during a storm: said, not hidden.
    const died = s.process.exitCode !== null || s.process.signalCode !== null;
    const cpuS = died ? Number.NaN : treeCpu(s.pid) - cpu0;
    const load = loadavg();
    await close();
    if (r.failed || r.retries) console.error(`  ${name}: ${r.failed} failed, ${r.retries} retries ${JSON.stringify(r.errors)}`);
    const row = { name: died ? `${name} (server died during the storm)` : name, ...r, cpuS, load };
    console.log(
      `${name.padEnd(36)} ${row.ok} registered in ${row.seconds.toFixed(1)} s (${(row.ok / row.seconds).toFixed(0)}/s), server CPU ` +
        `${cpuS.toFixed(1)} s (${((cpuS / Math.max(1, row.ok)) * 1e6).toFixed(0)} µs per phone), p50 ${row.p50Ms.toFixed(0)} ms, ` +
        `p99 ${row.p99Ms.toFixed(0)} ms, client CPU ${row.clientCpuS.toFixed(1)} s, load ${row.load}`,
    );
    return row;
  } finally {
    s.process.kill('SIGTERM');
    await sleep(1);
  }
}

async function main(): Promise<void> {
  const client = CLIENT === 'c' ? 'the C client (bench/sip-tls-client --storm)' : `${GENERATORS} Node generator(s)`;
  console.log(`bench/tls-storm: ${N} phones, ${INFLIGHT} in flight, ${client}, ${cpus().length} CPUs, load ${loadavg()}`);
  const servers: Array<[string, () => Promise<Server>]> = [
    ['sbd-sipd, node:tls', () => startSbd('node')],
    ['sbd-sipd, TLS engine (native)', () => startSbd('native')],
    ['Kamailio 5.6, children=1', () => startKam(1)],
    ['Kamailio 5.6, children=2', () => startKam(2)],
  ];
  const only = process.env.SBD_BENCH_ROWS?.split(',').map((x) => x.trim());
  const rows: Row[] = [];
  for (const [name, start] of servers) if (!only || only.some((o) => name.includes(o))) rows.push(await run(name, start));
  console.log(
    '\n| server | registered | time until all registered | rate | server CPU | CPU per phone | p50 / p99 per phone | retries | client CPU per phone | load after |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.ok} of ${N} | ${r.seconds.toFixed(1)} s | ${(r.ok / r.seconds).toFixed(0)}/s | ${r.cpuS.toFixed(1)} s | ` +
        `${((r.cpuS / Math.max(1, r.ok)) * 1e6).toFixed(0)} µs | ${r.p50Ms.toFixed(0)} / ${r.p99Ms.toFixed(0)} ms | ${r.retries} | ` +
        `${((r.clientCpuS / Math.max(1, r.ok)) * 1e6).toFixed(0)} µs | ${r.load} |`,
    );
  }
  // Ratio of times: above 1 means the sbd row finished first.
  console.log('');
  for (const s of rows.filter((r) => r.name.startsWith('sbd')))
    for (const k of rows.filter((r) => r.name.startsWith('Kamailio')))
      console.log(
        `${s.name} vs ${k.name}: ${(k.seconds / s.seconds).toFixed(2)}× faster, ${(s.cpuS / Math.max(1e-9, k.cpuS)).toFixed(2)}× the CPU`,
      );
}

try {
  await main();
} finally {
  for (const c of children) c.kill('SIGTERM');
  await sleep(0.5);
  rmSync(root, { recursive: true, force: true });
}
