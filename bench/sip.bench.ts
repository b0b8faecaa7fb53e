/**
 * bench/sip: REGISTER-with-challenge transactions per second (REGISTER → 401 → REGISTER with digest → 200),
 * driven by sipp on loopback, sbd-sipd side by side with Kamailio 5.6 (Debian) configured the same way in the
 * same run: credentials (HA1) looked up in a table (sbd: the SQLite store; Kamailio: auth_db on db_text),
 * MD5 qop=auth challenges, bindings in memory (Kamailio usrloc db_mode 0), one worker (sbd is one Node
 * process; Kamailio children=1, tcp_children=1 — 5.6.3 crashes under many new TLS connections otherwise).
 * TLS: Debian's sipp has no TLS, so stunnel sits in front of both servers: `-t t1` is one kept TLS connection,
 * `-t tn` a new TCP connection per registration, so a new TLS connection per registration — once with stunnel's
 * default session resumption (an abbreviated handshake, no RSA signature) and once with `sessionResume = no`
 * (a full ECDHE-RSA handshake each time).
 * The new-connection TLS rows run twice: through sipp + stunnel, and with bench/sip-tls-client (C over libssl and
 * epoll, `SBD_BENCH_C_IN_FLIGHT` connections at once, default 200): sipp + stunnel cost more CPU a registration
 * than either server on the same cores and kept each server at ~0.25 cores, so those rates measure the client
 * and the hand-offs; the C client costs a fraction of that, and with enough in flight the server is the limit
 * (its cores busy are printed beside the rate).
 * Also: sbd's CPU per registration on a kept TLS connection, from which the steady-state CPU of 10,000 phones
 * refreshing every 1800 s follows (memory per phone with 10,000 TLS connections open: bench/sip-tls-scale.bench.ts).
 *
 * SBD_BENCH_N (default 10000) registrations per row (new-connection rows: at most 5,000 and 3,000);
 * SBD_BENCH_REPEAT (default 3) interleaved runs per row and server, the median is kept. Needs sip-tester, stunnel4, kamailio, kamailio-tls-modules.
 * SBD_BENCH_TN_IN_FLIGHT (default 50) registrations in flight on the new-connection rows (sipp -l), each its own connection.
 * SBD_BENCH_C_IN_FLIGHT (default 200) registrations in flight on the C client's rows.
 * SBD_BENCH_TLS_ENGINE=node|native chooses sbd's TLS path (default: the daemon's default).
 * SBD_BENCH_ROWS (e.g. "UDP,TCP", or ';'-separated for names with commas: "TLS, new connection, resumed") runs only the rows whose name starts with one of them; SBD_BENCH_PROFILE=DIR
 * runs the daemon with `node --cpu-prof` writing its profile into DIR when it stops.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { initAppliance } from '../src/cluster/init.js';
import { openState } from '../src/store/state.js';
import { digestHa1 } from '../src/credentials/index.js';
import { systemClock } from '../src/lib/clock.js';
import { privateKeyOf } from '../src/pki/identity-store.js';
import { runTlsClient } from './sip-tls-client/run.js';
import { cpuOf, freePort, startKamailio as startKamailioProcess, treeCpu, waitPort, writeKamailioDb } from './sip-kamailio.js';

const N = Number(process.env.SBD_BENCH_N ?? 10000);
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const REPEAT = Number(process.env.SBD_BENCH_REPEAT ?? 3);
/** Registrations in flight on the new-connection rows (sipp -l): each is a connection being set up. */
const TN_IN_FLIGHT = Number(process.env.SBD_BENCH_TN_IN_FLIGHT ?? 50);
/** Registrations in flight on the C client's rows: enough that the server, not the waiting, sets the rate. */
const C_IN_FLIGHT = Number(process.env.SBD_BENCH_C_IN_FLIGHT ?? 200);
const REALM = 'ccmsipline';
const root = mkdtempSync(join(tmpdir(), 'sbd-sip-bench-'));
const children: ChildProcess[] = [];

function need(cmd: string): void {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    console.error(`bench/sip: ${cmd} is missing (scripts/install-deps.sh installs deps/apt/sip-app.txt)`);
    process.exit(2);
  }
}
for (const c of ['sipp', 'stunnel4', 'kamailio']) need(c);

// --- state: one appliance, N line users with HA1 in the store and in Kamailio's table
const stateDir = join(root, 'state');
initAppliance({ dir: stateDir, hostname: 'sbd1', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
const state = openState(stateDir);
const dbDir = join(root, 'kdb');
const subscriber: Array<{ user: string; realm: string; ha1Md5: string }> = [];
let csv = 'SEQUENTIAL\n';
state.store.transaction(() => {
  for (let i = 0; i < N; i++) {
    const u = `b${100000 + i}`;
    const h = digestHa1(u, REALM, `pw${i}`);
    state.store.putUser({ userid: u, credentialHash: 'bench', algorithm: 'none' });
    state.store.putDigestCredential(u, REALM, h.ha1Md5, h.ha1Sha256);
    subscriber.push({ user: u, realm: REALM, ha1Md5: h.ha1Md5 });
    csv += `${u};[authentication username=${u} password=pw${i}]\n`;
  }
});
writeKamailioDb(dbDir, subscriber);
const usersCsv = join(root, 'users.csv');
writeFileSync(usersCsv, csv);
const cm = state.store.currentCertificate('CallManager', 'sbd1')!;
writeFileSync(join(root, 'cert.pem'), cm.pem);
writeFileSync(join(root, 'key.pem'), privateKeyOf(cm), { mode: 0o600 });
state.store.close();
// The test scenario with one Contact per user (no local port): a phone that reconnects keeps its Contact, so each
// registration replaces its binding. With the port in it, every new TCP/TLS connection added a binding, and after
// 10 reconnections of one user sbd refused the 11th contact (403, `maxBindingsPerAor`), which Kamailio does not bound.
const scenario = readFileSync(join(import.meta.dirname, '..', 'test', 'sip', 'interop', 'scenarios', 'register.xml'), 'utf8');
const stableContact = scenario.replaceAll(
  'Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>',
  'Contact: <sip:[field0]@[local_ip];transport=[transport]>',
);
if (stableContact === scenario) throw new Error('bench/sip: the Contact line of register.xml changed; update the bench');
writeFileSync(join(root, 'register.xml'), stableContact);

// --- servers
interface Server {
  name: string;
  udp: number;
  tcp: number;
  tls: number;
  pid: number;
}

async function startSbd(): Promise<Server> {
  const prof = process.env.SBD_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SBD_BENCH_PROFILE}`] : [];
  const p = spawn(
    process.execPath,
    [
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
      // Every connection comes from stunnel's one address: the per-source cap (100) would refuse those past it.
      '--max-connections-per-source',
      String(Math.max(100, 2 * TN_IN_FLIGHT, 2 * C_IN_FLIGHT)),
      // SBD_BENCH_TLS_ENGINE=node|native: which TLS path 5061 uses (default: the daemon's).
      ...(process.env.SBD_BENCH_TLS_ENGINE ? ['--tls-engine', process.env.SBD_BENCH_TLS_ENGINE] : []),
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
    p.once('exit', () => reject(new Error('sbd daemon exited')));
  });
  p.stdout!.resume();
  const ports = JSON.parse(line) as { udp: number; tcp: number; tls: number };
  return { name: 'sbd', udp: ports.udp, tcp: ports.tcp, tls: ports.tls, pid: p.pid! };
}

/** Kamailio with the same registrar set-up (bench/sip-kamailio.ts), one SIP and one TCP/TLS worker. */
async function startKamailio(): Promise<Server> {
  const k = await startKamailioProcess({
    dir: join(root, 'kamailio'),
    dbDir,
    realm: REALM,
    certPath: `${root}/cert.pem`,
    keyPath: `${root}/key.pem`,
    cipherList: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256',
  });
  children.push(k.process);
  return { name: 'kamailio', udp: k.udp, tcp: k.tcp, tls: k.tls, pid: k.pid };
}

/** `resume`: stunnel's client resumes the TLS session of its previous connection (its default); false = a full handshake every time. */
async function stunnel(target: number, resume: boolean): Promise<Tunnel> {
  const accept = await freePort();
  const conf = join(root, `stunnel-${target}-${resume ? 'resume' : 'full'}.conf`);
  writeFileSync(
    conf,
    [
      'foreground = yes',
      'pid =',
      'debug = 0',
      '[sip]',
      'client = yes',
      `accept = 127.0.0.1:${accept}`,
      `connect = 127.0.0.1:${target}`,
      `CAfile = ${root}/cert.pem`,
      'verifyPeer = yes',
      'sslVersionMin = TLSv1.2',
      'sslVersionMax = TLSv1.2',
      'ciphers = ECDHE-RSA-AES256-GCM-SHA384',
      `sessionResume = ${resume ? 'yes' : 'no'}`,
      '',
    ].join('\n'),
  );
  const p = spawn('stunnel4', [conf], { stdio: 'ignore' });
  children.push(p);
  await waitPort(accept);
  return { port: accept, pid: p.pid! };
}

interface Tunnel {
  port: number;
  pid: number;
}

/** CPU seconds of this process's reaped children (sipp runs, once each has exited): /proc/self/stat cutime + cstime. */
function reapedChildrenCpu(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

// --- measurement
const latencyText = (x: Run): string => (x.p50Ms !== undefined ? `, p50 ${x.p50Ms.toFixed(0)} ms p99 ${x.p99Ms!.toFixed(0)} ms` : '');
const threadsText = (x: Run): string =>
  x.threads
    ? ` = main ${(x.threads.main * 1e6).toFixed(0)} + engine ${(x.threads.engine * 1e6).toFixed(0)} + other ${(x.threads.other * 1e6).toFixed(0)}`
    : '';
function sipp(port: number, transport: 'u1' | 't1' | 'tn', n: number): Promise<{ ok: number; failed: number; seconds: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(
      'sipp',
      [
        `127.0.0.1:${port}`,
        '-sf',
        join(root, 'register.xml'),
        '-inf',
        usersCsv,
        '-t',
        transport,
        '-m',
        String(n),
        '-r',
        '20000',
        '-rp',
        '1000',
        '-l',
        String(transport === 'tn' ? TN_IN_FLIGHT : 400),
        '-i',
        '127.0.0.1',
        '-p',
        '0',
        '-nostdin',
        '-timeout',
        '300',
        '-max_socket',
        '10000',
        '-trace_stat',
        '-stf',
        join(root, `stat-${port}-${transport}.csv`),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    p.stdout!.on('data', (d) => {
      out = (out + d).slice(-6000);
    });
    p.on('close', () => {
      const seconds = (performance.now() - t0) / 1000;
      const num = (label: string) => Number(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(out)?.[1] ?? 0);
      if (process.env.SBD_BENCH_DEBUG) console.error(out.slice(-3500));
      resolve({ ok: num('Successful call'), failed: num('Failed call'), seconds });
    });
  });
}

/**
 * CPU seconds of each thread group of a process (/proc/PID/task): Node's main thread, the TLS engine's workers
 * (named sbd-tls-N), and the rest (V8's GC and compiler helpers, libuv's pool). Where a registration's CPU goes.
 */
function threadCpu(pid: number): { main: number; engine: number; other: number } {
  const out = { main: 0, engine: 0, other: 0 };
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const s = (Number(f[11]) + Number(f[12])) / TICKS;
      if (tid === String(pid)) out.main += s;
      else if (name.startsWith('sbd-tls')) out.engine += s;
      else out.other += s;
    } catch {
      /* the thread ended between the listing and the read */
    }
  }
  return out;
}

function procStat(pid: number): { rssKb: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { rssKb, cpuS: cpuOf(pid) };
}

/** One measured run of a row against one server, as the load client saw it. */
interface Sample {
  ok: number;
  failed: number;
  seconds: number;
  /** The load client's CPU seconds over the run (sipp + stunnel, or the C client). */
  clientCpu: number;
  /** Registration latency, connect to 200 (the C client only). */
  p50Ms?: number;
  p99Ms?: number;
}

interface Run {
  rate: number;
  cpuPerReg: number;
  /** The server's CPU over the wall time of the run, in cores: near the cores it can use means it set the rate. */
  serverCores: number;
  p50Ms?: number;
  p99Ms?: number;
  /** The load generator's CPU per registration: sipp, and stunnel on the TLS rows (both threads of stunnel); or the C client. */
  clientCpuPerReg: number;
  /** The load generator's CPU over the wall time of the run, in cores: near the cores it can use means it capped the rate. */
  clientCores: number;
  failed: number;
  /** sbd only: CPU per registration by thread group (main thread, engine workers, other threads), seconds. */
  threads?: { main: number; engine: number; other: number };
}
const perReg = (a: { main: number; engine: number; other: number }, b: typeof a, n: number): typeof a => ({
  main: (b.main - a.main) / Math.max(1, n),
  engine: (b.engine - a.engine) / Math.max(1, n),
  other: (b.other - a.other) / Math.max(1, n),
});
const median = (xs: Run[]): Run => [...xs].sort((a, b) => a.rate - b.rate)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const sbd = await startSbd();
  const kam = await startKamailio();
  const tunnels = { sbd: await stunnel(sbd.tls, true), kamailio: await stunnel(kam.tls, true) };
  const fullTunnels = { sbd: await stunnel(sbd.tls, false), kamailio: await stunnel(kam.tls, false) };
  const noTunnel = (port: number): Tunnel => ({ port, pid: 0 });
  const viaSipp =
    (port: (s: Server) => Tunnel, t: 'u1' | 't1' | 'tn') =>
    async (s: Server, n: number): Promise<Sample> => {
      const tunnel = port(s);
      const client0 = reapedChildrenCpu() + (tunnel.pid ? cpuOf(tunnel.pid) : 0);
      const r = await sipp(tunnel.port, t, n);
      return { ...r, clientCpu: reapedChildrenCpu() + (tunnel.pid ? cpuOf(tunnel.pid) : 0) - client0 };
    };
  const viaC =
    (resume: boolean) =>
    async (s: Server, n: number): Promise<Sample> => {
      const r = await runTlsClient({ port: s.tls, registrations: n, inFlight: C_IN_FLIGHT, users: N, ca: join(root, 'cert.pem'), resume });
      if (r.failed > 0) console.error(`  ${s.name}: C client failures ${JSON.stringify(r.failedBy)}, last: ${r.lastError}`);
      // A resumed row that did not resume would be a second full-handshake row: said, not hidden.
      if (resume && r.resumed < 0.9 * r.ok) console.error(`  ${s.name}: only ${r.resumed} of ${r.ok} handshakes resumed`);
      return { ok: r.ok, failed: r.failed, seconds: r.wallMs / 1000, clientCpu: r.cpuS, p50Ms: r.p50Ms, p99Ms: r.p99Ms };
    };
  const tunnelOf = (s: Server) => tunnels[s.name as 'sbd' | 'kamailio'];
  const fullTunnelOf = (s: Server) => fullTunnels[s.name as 'sbd' | 'kamailio'];
  const cases: Array<[string, (s: Server, n: number) => Promise<Sample>, number]> = [
    ['UDP', viaSipp((s) => noTunnel(s.udp), 'u1'), N],
    ['TCP', viaSipp((s) => noTunnel(s.tcp), 't1'), N],
    ['TLS, kept connection', viaSipp(tunnelOf, 't1'), N],
    ['TLS, new connection, resumed session (sipp+stunnel)', viaSipp(tunnelOf, 'tn'), Math.min(N, 5000)],
    ['TLS, new connection, full handshake (sipp+stunnel)', viaSipp(fullTunnelOf, 'tn'), Math.min(N, 3000)],
    ['TLS, new connection, resumed session (C client)', viaC(true), Math.min(N, 10000)],
    ['TLS, new connection, full handshake (C client)', viaC(false), Math.min(N, 6000)],
  ];
  // Warm-up on both (JIT, credential caches, Kamailio's first db_text load), not measured.
  // The TLS path too: unwarmed, sbd's first full-handshake run cost 1,757-1,773 µs a registration against 1,123-1,390 after.
  for (const s of [sbd, kam]) {
    await sipp(s.udp, 'u1', Math.min(N, 2000));
    await sipp(fullTunnels[s.name as 'sbd' | 'kamailio'].port, 'tn', Math.min(N, 300));
    await viaC(false)(s, Math.min(N, 300));
  }
  let sbdCpuPerReg = 0;
  const rows: Array<{ row: string; sbd: Run; kamailio: Run }> = [];
  const rowsEnv = process.env.SBD_BENCH_ROWS;
  const only = rowsEnv
    ?.split(rowsEnv.includes(';') ? ';' : ',')
    .map((x) => x.trim().toUpperCase())
    .filter(Boolean);
  for (const [row, measure, n] of cases) {
    if (only && !only.some((o) => row.toUpperCase().startsWith(o))) continue;
    const runs: Record<string, Run[]> = { sbd: [], kamailio: [] };
    // Interleaved repeats, median kept: the machine's background load moves both servers alike.
    for (let rep = 0; rep < REPEAT; rep++) {
      for (const s of rep % 2 === 0 ? [sbd, kam] : [kam, sbd]) {
        const before = s === sbd ? procStat(s.pid) : undefined;
        const cpu0 = treeCpu(s.pid);
        const threads0 = s === sbd ? threadCpu(s.pid) : undefined;
        const r = await measure(s, n);
        const serverCpu = treeCpu(s.pid) - cpu0;
        runs[s.name]!.push({
          rate: r.ok / r.seconds,
          cpuPerReg: serverCpu / Math.max(1, r.ok),
          serverCores: serverCpu / r.seconds,
          clientCpuPerReg: r.clientCpu / Math.max(1, r.ok),
          clientCores: r.clientCpu / r.seconds,
          failed: r.failed,
          ...(threads0 ? { threads: perReg(threads0, threadCpu(s.pid), r.ok) } : {}),
          ...(r.p50Ms !== undefined ? { p50Ms: r.p50Ms, p99Ms: r.p99Ms } : {}),
        });
        if (r.failed > 0) console.error(`  ${s.name} ${row}: ${r.failed} failed of ${n}`);
        if (before && row.startsWith('TLS, kept') && rep === 0) sbdCpuPerReg = (procStat(s.pid).cpuS - before.cpuS) / Math.max(1, r.ok);
      }
    }
    const m = { sbd: median(runs.sbd!), kamailio: median(runs.kamailio!) };
    rows.push({ row, ...m });
    const all = (name: string) =>
      runs[name]!.map(
        (x) =>
          `${x.rate.toFixed(0)} (${(x.cpuPerReg * 1e6).toFixed(0)} µs${threadsText(x)}, ${x.serverCores.toFixed(2)} cores; client ${(x.clientCpuPerReg * 1e6).toFixed(0)} µs ${x.clientCores.toFixed(2)} cores${latencyText(x)})`,
      ).join(' / ');
    console.log(
      `${row.padEnd(50)} sbd ${m.sbd.rate.toFixed(0).padStart(6)}/s   kamailio ${m.kamailio.rate.toFixed(0).padStart(6)}/s   ratio ${(m.sbd.rate / m.kamailio.rate).toFixed(2)}x` +
        `   (runs sbd ${all('sbd')}, kamailio ${all('kamailio')})`,
    );
  }
  console.log(
    `\nsbd: RSS ${(procStat(sbd.pid).rssKb / 1024).toFixed(0)} MiB after every row (${N} AORs bound; memory per TLS phone: bench/sip-tls-scale.bench.ts)`,
  );
  console.log(
    `sbd CPU per registration-with-challenge on a kept TLS connection ${(sbdCpuPerReg * 1e6).toFixed(0)} µs → 10,000 phones refreshing every 1800 s: ` +
      `${((10000 / 1800) * sbdCpuPerReg * 100).toFixed(2)} % of one core`,
  );
  console.log(
    `\n| transport | sbd reg/s | Kamailio reg/s | ratio | CPU µs per registration sbd / Kamailio | server cores busy sbd / Kamailio | client µs per registration, cores busy: with sbd / with Kamailio |\n|---|---|---|---|---|---|---|`,
  );
  for (const r of rows) {
    const client = (x: Run) => `${(x.clientCpuPerReg * 1e6).toFixed(0)} µs ${x.clientCores.toFixed(2)}`;
    console.log(
      `| ${r.row} | ${r.sbd.rate.toFixed(0)} | ${r.kamailio.rate.toFixed(0)} | ${(r.sbd.rate / r.kamailio.rate).toFixed(2)}× | ${(r.sbd.cpuPerReg * 1e6).toFixed(0)} / ${(r.kamailio.cpuPerReg * 1e6).toFixed(0)} | ${r.sbd.serverCores.toFixed(2)} / ${r.kamailio.serverCores.toFixed(2)} | ${client(r.sbd)} / ${client(r.kamailio)} |`,
    );
  }
  console.log(
    `(median of ${REPEAT} interleaved runs per row; server CPU is the server process and its children; the client's is sipp's and stunnel's (both threads of stunnel), or on the "(C client)" rows bench/sip-tls-client's own (${C_IN_FLIGHT} in flight); on ${availableParallelism()} cores)`,
  );
}

try {
  await main();
} finally {
  for (const c of children) c.kill('SIGTERM');
  // A profiled daemon writes its profile on exit: give it the time.
  await new Promise((r) => setTimeout(r, process.env.SBD_BENCH_PROFILE ? 5000 : 500));
  rmSync(root, { recursive: true, force: true });
}
