/**
 * bench/tls: TVS verifications/s with one new TLS connection per question (as phones ask), full and resumed, with
 * TVS on the C TLS engine (src/tls) and on node:tls, against `openssl s_server` doing the bare handshake with the
 * same certificate, key and suites, all in one run. The goal rows (issue 20: the engine ≥ 1.0× s_server, full and
 * resumed) use bench/tvs-tls-client, a C client over libssl and epoll with `SBD_BENCH_TLS_IN_FLIGHT` (32)
 * connections in flight, so the servers set the rate: each connection to TVS sends one VERIFY_REQUEST (made by
 * src/tvs/core/verify.ts) and checks the VERIFY_RESPONSE; to s_server it makes the bare handshake and closes, as
 * before. Each row prints the server process's CPU per connection (/proc: user + system, all threads) and the
 * client's (getrusage). `SBD_BENCH_TLS_REPEAT` (1) interleaved repeats, medians at the end.
 * `SBD_BENCH_TLS_NODE_CLIENT=1` adds the earlier rows measured by the Node client (queryTvs and tls.connect),
 * one at a time and 8 in flight: latency-bound, kept for comparison with earlier runs.
 * What is the same on both sides: certificate and key (RSA-2048), TLS 1.3 suites, key exchange group (OpenSSL's
 * default list, X25519 chosen), one session ticket per handshake (`-num_tickets 1`, as the engine), the client and
 * its session handling. What is not: s_server does no application work (no TVS question and answer), runs one
 * thread (leaving the other core to the client; the engine's workers and Node share both cores with it), and links
 * Debian's libssl 3.0, while the engine binds to the node executable's own OpenSSL 3.0. After a resumption
 * s_server sends a new ticket, the engine (ticket under its current key) does not; the client offers the newest
 * ticket it holds either way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import { initAppliance } from '../src/cluster/init.js';
import { systemClock } from '../src/lib/clock.js';
import { privateKeyOf } from '../src/pki/identity-store.js';
import { openState } from '../src/store/state.js';
import { tlsEngineDefaults } from '../src/tls/engine-service.js';
import { queryTvs } from '../src/tvs/client.js';
import { runTvsClient, type TvsClientResult, verifyRequestFile } from './tvs-tls-client/run.js';

const n = Number(process.env.SBD_BENCH_TLS ?? 3000);
const inFlight = Number(process.env.SBD_BENCH_TLS_IN_FLIGHT ?? 32);
const repeat = Number(process.env.SBD_BENCH_TLS_REPEAT ?? 1);
const nodeClient = process.env.SBD_BENCH_TLS_NODE_CLIENT === '1';
const dir = mkdtempSync(join(tmpdir(), 'sbd-bench-tls-'));
initAppliance({ dir, hostname: 'sbd-bench', ipv4: '127.0.0.1', clock: systemClock });
const { store } = openState(dir);
const tvs = store.currentCertificate('TVS', 'sbd-bench')!;
const cm = store.currentCertificate('CallManager', 'sbd-bench')!;
const ciphers = store.getParam('TLSCiphers');
writeFileSync(join(dir, 'tvs.pem'), tvs.pem);
writeFileSync(join(dir, 'tvs.key'), privateKeyOf(tvs), { mode: 0o600 });
store.close();
const request = verifyRequestFile(join(dir, 'verify-request.bin'), 'CP-8845-SEP001122334455', cm.der);

/** user + system CPU seconds of a process, all its threads (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        r(true);
      }).on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

interface Row {
  label: string;
  rate: number;
  cpuUs: number;
  protocol: string;
}
const rows: Row[] = [];

async function run(
  label: string,
  pid: number,
  concurrency: number,
  one: (session: { value?: Buffer; facts?: string }) => Promise<void>,
): Promise<Row> {
  const session: { value?: Buffer; facts?: string } = {};
  await one(session); // warm-up, and the first session for resumption
  let next = 0;
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) await one(session);
    }),
  );
  const rate = n / ((performance.now() - t0) / 1000);
  const row = { label, rate, cpuUs: ((cpuSeconds(pid) - cpu0) / n) * 1e6, protocol: session.facts ?? '' };
  console.log(`  ${label.padEnd(50)} ${rate.toFixed(0).padStart(6)} /s  ${row.cpuUs.toFixed(0).padStart(5)} µs CPU each  ${row.protocol}`);
  rows.push(row);
  return row;
}

async function startTvs(path: 'node' | 'native'): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'tls/tvs-child.ts'), dir, path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

const ask = (port: number, resume: boolean) => async (s: { value?: Buffer; facts?: string }) => {
  const a = await queryTvs({
    host: '127.0.0.1',
    port,
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

/** The bare handshake against s_server: connect, handshake, close (no application data), as bench/tvs does. */
const handshake = (port: number, resume: boolean) => (s: { value?: Buffer; facts?: string }) =>
  new Promise<void>((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(resume && s.value ? { session: s.value } : {}) });
    sock.on('session', (v: Buffer) => {
      s.value = v;
    });
    sock.on('secureConnect', () => {
      s.facts = `${sock.getProtocol()} ${sock.getCipher().name}${sock.isSessionReused() ? ' resumed' : ''}`;
      sock.end();
    });
    sock.on('close', () => resolve());
    sock.on('error', reject);
  });

/** One C-client row: `connections` through the client, the server's CPU from /proc around it. */
async function cRow(label: string, pid: number, port: number, resume: boolean, tvs: boolean): Promise<CRow> {
  const cpu0 = cpuSeconds(pid);
  const r = await runTvsClient({
    port,
    connections: n,
    inFlight,
    ca: join(dir, 'tvs.pem'),
    resume,
    sources: 16, // TVS caps connections per address at 32
    ...(tvs ? { request } : {}),
  });
  const serverUs = ((cpuSeconds(pid) - cpu0) / n) * 1e6;
  const row = { label, rate: r.rate, serverUs, clientUs: (r.cpuS / n) * 1e6, r };
  const bad = r.failed ? `  FAILED ${r.failed} ${JSON.stringify(r.failedBy)} ${r.lastError}` : '';
  console.log(
    `  ${label.padEnd(44)} ${r.rate.toFixed(0).padStart(6)} /s  server ${serverUs.toFixed(0).padStart(5)} µs CPU each  client ${row.clientUs.toFixed(0).padStart(5)} µs  cores: server ${((serverUs * r.ok) / 1e3 / r.wallMs).toFixed(2)} client ${(r.cpuS / (r.wallMs / 1e3)).toFixed(2)}  p50 ${r.p50Ms.toFixed(1)} p99 ${r.p99Ms.toFixed(1)} ms  resumed ${r.resumed}/${r.ok}  ${r.negotiated}${bad}`,
  );
  if (r.failed) throw new Error(`${label}: ${r.failed} connections failed: ${r.lastError}`);
  return row;
}
interface CRow {
  label: string;
  rate: number;
  serverUs: number;
  clientUs: number;
  r: TvsClientResult;
}

console.log(
  `bench/tls — ${new Date().toISOString()}, node ${process.versions.node}, ${n} connections per row, one TVS question each, C client with ${inFlight} in flight, ${repeat} interleaved repeat(s); load ${readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ')}`,
);
const engine = await startTvs('native');
const nodeTls = await startTvs('node');
const peerPort = 20000 + Math.floor(Math.random() * 20000);
const suites = tlsEngineDefaults.tls13Ciphersuites;
const peer = spawn(
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
    '-cipher',
    ciphers,
    '-ciphersuites',
    suites,
    '-num_tickets',
    '1',
  ],
  { stdio: ['ignore', 'ignore', 'ignore'] },
);
await waitPort(peerPort);
const servers = [
  { key: 'native', name: 'sbd-tvsd on the engine', pid: engine.child.pid!, port: engine.port, tvs: true },
  { key: 'node', name: 'sbd-tvsd on node:tls', pid: nodeTls.child.pid!, port: nodeTls.port, tvs: true },
  { key: 'peer', name: 'openssl s_server, bare handshake', pid: peer.pid!, port: peerPort, tvs: false },
];
// Warm-up: Node's JIT and every server's first handshakes, not measured.
for (const s of servers)
  await runTvsClient({ port: s.port, connections: 300, inFlight, ca: join(dir, 'tvs.pem'), sources: 16, ...(s.tvs ? { request } : {}) });
const cRows: Record<string, CRow[]> = {};
for (let i = 0; i < repeat; i++) {
  console.log(
    `C client (bench/tvs-tls-client), ${inFlight} in flight, repeat ${i + 1} of ${repeat}, load ${readFileSync('/proc/loadavg', 'latin1').split(' ')[0]}:`,
  );
  for (const resume of [false, true])
    for (const s of servers) {
      const key = `${s.key}-${resume ? 'res' : 'new'}`;
      (cRows[key] ??= []).push(await cRow(`${s.name}, ${resume ? 'resumed' : 'new connection'}`, s.pid, s.port, resume, s.tvs));
    }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const med = (key: string, f: (r: CRow) => number) => median(cRows[key]!.map(f));
console.log(
  `C client, ${inFlight} in flight: verifications/s ÷ s_server bare handshakes/s, median of ${repeat} interleaved run(s) (goal ≥ 1.0x both):`,
);
for (const k of ['native', 'node']) {
  const ratios = (m: string) => cRows[`${k}-${m}`]!.map((r, i) => r.rate / cRows[`peer-${m}`]![i]!.rate);
  const show = (m: string) =>
    `${median(ratios(m)).toFixed(2)}x (runs ${ratios(m)
      .map((x) => x.toFixed(2))
      .join(' / ')})`;
  console.log(`  ${k === 'native' ? 'engine  ' : 'node:tls'}: new connection ${show('new')}, resumed ${show('res')}`);
}
console.log(`server CPU per connection, s_server's ÷ ours (medians; ≥ 1.0x: less than s_server's bare handshake):`);
for (const k of ['native', 'node']) {
  const c = (m: string) => (med(`peer-${m}`, (r) => r.serverUs) / med(`${k}-${m}`, (r) => r.serverUs)).toFixed(2);
  console.log(`  ${k === 'native' ? 'engine  ' : 'node:tls'}: new connection ${c('new')}x, resumed ${c('res')}x`);
}
peer.kill('SIGTERM');

if (nodeClient) {
  console.log('Node client (queryTvs / tls.connect; latency-bound one at a time, the client takes a core at 8 in flight):');
  const result: Record<string, Row> = {};
  for (const [path, s] of [
    ['native', engine],
    ['node', nodeTls],
  ] as const) {
    const name = path === 'node' ? 'node:tls' : 'engine';
    result[`${path}-new`] = await run(`sbd-tvsd on ${name}, new connection, sequential`, s.child.pid!, 1, ask(s.port, false));
    result[`${path}-new8`] = await run(`sbd-tvsd on ${name}, new connection, 8 in flight`, s.child.pid!, 8, ask(s.port, false));
    result[`${path}-res`] = await run(`sbd-tvsd on ${name}, resumed, sequential`, s.child.pid!, 1, ask(s.port, true));
    result[`${path}-res8`] = await run(`sbd-tvsd on ${name}, resumed, 8 in flight`, s.child.pid!, 8, ask(s.port, true));
  }
  const again = spawn(
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
      '-cipher',
      ciphers,
      '-ciphersuites',
      suites,
      '-num_tickets',
      '1',
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  await waitPort(peerPort);
  result['peer-new'] = await run('openssl s_server, bare handshake, sequential', again.pid!, 1, handshake(peerPort, false));
  result['peer-res'] = await run('openssl s_server, bare handshake resumed, sequential', again.pid!, 1, handshake(peerPort, true));
  result['peer-new8'] = await run('openssl s_server, bare handshake, 8 in flight', again.pid!, 8, handshake(peerPort, false));
  result['peer-res8'] = await run('openssl s_server, bare handshake resumed, 8 in flight', again.pid!, 8, handshake(peerPort, true));
  again.kill('SIGTERM');
  const r = (a: string, b: string) => (result[a]!.rate / result[b]!.rate).toFixed(2);
  console.log(
    `  Node client ratios: engine new ${r('native-new', 'peer-new')}x, resumed ${r('native-res', 'peer-res')}x; 8 in flight ${r('native-new8', 'peer-new8')}x / ${r('native-res8', 'peer-res8')}x`,
  );
}
for (const s of [engine, nodeTls]) {
  s.child.kill('SIGTERM');
  await once(s.child, 'exit');
}
