/**
 * bench/sip-abuse (issue 16): what hostile SIP traffic costs `sbd daemon sip` (default options, its own process)
 * and Kamailio 5.6 with the stock pike/htable ANTIFLOOD block (./kamailio.cfg) in the same run:
 *  (a) CPU per byte of each adversarial shape of test/security/flood-sip-shapes.ts against an ordinary REGISTER
 *      (a phone's first, unauthenticated one, answered 401): process CPU (utime + stime from /proc; Kamailio: all its
 *      processes) over the bytes the server took in (sent minus the socket's drops in /proc/net/udp), each shape
 *      alone over UDP from 127.0.0.1, one datagram per 200 µs (10 ms above 8 KiB), counted until the server is idle
 *      again (its queue worked off and its retransmissions over). Goal: ≤ 3× the REGISTER's.
 *  (b) RSS after 1,000,000 flood datagrams (the flood tests' UDP mix, from 64 addresses 127.66.x.y); Kamailio: PSS
 *      summed over its processes (its shared memory counted once).
 *  (c) registrations with digest per second (sipp, as bench/sip.bench.ts) unflooded and while unauthenticated
 *      INVITEs arrive at FLOOD_RATE per second from 127.66.x.y. Goal: flooded ≥ 80 % of unflooded.
 * The machine is shared: figures are noisy; (c) interleaves SBD_BENCH_REPEAT (default 3) runs and keeps the median.
 * SBD_BENCH_N (default 5000) registrations per sipp run; SBD_BENCH_FLOOD_RATE (default 5000) INVITEs/s.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { initAppliance } from '../../src/cluster/init.js';
import { openState } from '../../src/store/state.js';
import { digestHa1 } from '../../src/credentials/index.js';
import { systemClock } from '../../src/lib/clock.js';
import {
  buildSender,
  cpuOf,
  memoryOf,
  runSender,
  sleep,
  spawnSender,
  startDaemonProcess,
  type FloodShape,
} from '../../test/security/flood-helpers.js';
import { sipFloodShapes } from '../../test/security/flood-sip-shapes.js';
import { freePort } from '../../test/sip/interop/harness.js';

const N = Number(process.env.SBD_BENCH_N ?? 5000);
const REPEAT = Number(process.env.SBD_BENCH_REPEAT ?? 3);
const FLOOD_RATE = Number(process.env.SBD_BENCH_FLOOD_RATE ?? 5000);
const FLOOD_DATAGRAMS = 1_000_000;
/** (c): a sipp run ends after this many seconds if its N registrations are not done (a flooded server may crawl). */
const SIPP_SECONDS = 30;
/** Bytes of each shape sent for (a): enough for a few hundred CPU ticks at the REGISTER's cost. */
const SHAPE_BYTES = 6 * 2 ** 20;
const REALM = 'ccmsipline';
const root = mkdtempSync(join(tmpdir(), 'sbd-sip-abuse-'));
const children: ChildProcess[] = [];

for (const cmd of ['sipp', 'kamailio', 'cc']) {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    console.error(`bench/sip-abuse: ${cmd} is missing (scripts/install-deps.sh)`);
    process.exit(2);
  }
}

// --- state: N line users with HA1 in the store and in Kamailio's db_text table (as bench/sip.bench.ts)
const stateDir = join(root, 'state');
initAppliance({ dir: stateDir, hostname: 'sbd1', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
const dbDir = join(root, 'kdb');
mkdirSync(dbDir);
{
  const state = openState(stateDir);
  const subscriber = ['id(int,auto) username(string) domain(string) password(string,null) ha1(string) ha1b(string,null)'];
  let csv = 'SEQUENTIAL\n';
  state.store.transaction(() => {
    for (let i = 0; i < N; i++) {
      const u = `b${100000 + i}`;
      const h = digestHa1(u, REALM, `pw${i}`);
      state.store.putUser({ userid: u, credentialHash: 'bench', algorithm: 'none' });
      state.store.putDigestCredential(u, REALM, h.ha1Md5, h.ha1Sha256);
      subscriber.push(`${i + 1}:${u}:${REALM}::${h.ha1Md5}:`);
      csv += `${u};[authentication username=${u} password=pw${i}]\n`;
    }
  });
  state.store.close();
  writeFileSync(join(dbDir, 'subscriber'), subscriber.join('\n') + '\n');
  writeFileSync(join(dbDir, 'version'), 'table_name(string) table_version(int)\nsubscriber:7\nlocation:9\n');
  writeFileSync(join(root, 'users.csv'), csv);
  const scenario = readFileSync(join(import.meta.dirname, '../../test/sip/interop/scenarios/register.xml'), 'utf8');
  writeFileSync(
    join(root, 'register.xml'),
    scenario.replaceAll(
      'Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>',
      'Contact: <sip:[field0]@[local_ip];transport=[transport]>',
    ),
  );
}

interface Server {
  name: 'sbd' | 'kamailio';
  port: number;
  pid: number;
}

async function startSbd(): Promise<Server> {
  const d = await startDaemonProcess(['daemon', 'sip', '--state', stateDir, '--bind', '127.0.0.1', '--port', '0', '--tls-port', '0'], {
    SBD_LOG_LEVEL: 'error',
  });
  children.push(d.child);
  return { name: 'sbd', port: d.listening.udp as number, pid: d.pid };
}

async function startKamailio(): Promise<Server> {
  const port = await freePort('udp', '127.0.0.1');
  const dir = join(root, 'kamailio');
  mkdirSync(dir, { recursive: true });
  const mpath = spawnSync('sh', ['-c', 'ls -d /usr/lib/*/kamailio/modules | head -1'], { encoding: 'utf8' }).stdout.trim();
  const cfg = readFileSync(join(import.meta.dirname, 'kamailio.cfg'), 'utf8')
    .replaceAll('__PORT__', String(port))
    .replaceAll('__MPATH__', mpath)
    .replaceAll('__DBDIR__', dbDir);
  writeFileSync(join(dir, 'kamailio.cfg'), cfg);
  const p = spawn(
    'kamailio',
    ['-f', join(dir, 'kamailio.cfg'), '-DD', '-E', '-m', '512', '-M', '64', '-P', join(dir, 'k.pid'), '-Y', dir],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.push(p);
  let err = '';
  p.stderr!.on('data', (d) => {
    err = (err + d).slice(-4000);
  });
  for (let i = 0; i < 100 && !udpSocketOf(port); i++) await sleep(100);
  if (p.exitCode !== null || !udpSocketOf(port)) throw new Error(`kamailio did not start: ${err}`);
  await sleep(500);
  return { name: 'kamailio', port, pid: p.pid! };
}

/** The server's UDP socket line in /proc/net/udp (local 127.0.0.1:port): its drops counter is the last field. */
function udpSocketOf(port: number): string | undefined {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .find((l) => l.trim().split(/\s+/)[1] === local);
}
const udpDrops = (port: number) => Number(udpSocketOf(port)?.trim().split(/\s+/).at(-1) ?? 0);

function tree(pid: number): number[] {
  const kids = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
  return [pid, ...kids.flatMap(tree)];
}
const cpuOfServer = (s: Server) => (s.name === 'sbd' ? cpuOf(s.pid) : tree(s.pid).reduce((sum, p) => sum + cpuOf(p), 0));
function pssMiB(pid: number): number {
  const pss = (p: number) => Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  return tree(pid).reduce((sum, p) => sum + pss(p), 0) / 1024;
}

/** Until the server used < 20 ms of CPU in 500 ms (its queue worked off, retransmission timers run down), at most 60 s. */
async function waitIdle(s: Server): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const c0 = cpuOfServer(s);
    await sleep(500);
    if (cpuOfServer(s) - c0 < 0.02) return;
  }
}

/** sipp's REGISTER-with-digest scenario, `n` registrations or `timeoutS` seconds, whichever ends first. */
function sipp(port: number, n: number, timeoutS = 300): Promise<{ ok: number; failed: number; seconds: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(
      'sipp',
      [
        `127.0.0.1:${port}`,
        '-sf',
        join(root, 'register.xml'),
        '-inf',
        join(root, 'users.csv'),
        '-t',
        'u1',
        '-m',
        String(n),
        '-r',
        '20000',
        '-rp',
        '1000',
        '-l',
        '400',
        '-i',
        '127.0.0.1',
        '-p',
        '0',
        '-nostdin',
        '-timeout',
        String(timeoutS),
        '-trace_stat',
        '-stf',
        join(root, `stat-${port}.csv`),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(p);
    let out = '';
    p.stdout!.on('data', (d) => {
      out = (out + d).slice(-6000);
    });
    p.on('close', () => {
      const num = (label: string) => Number(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(out)?.[1] ?? 0);
      resolve({ ok: num('Successful call'), failed: num('Failed call'), seconds: (performance.now() - t0) / 1000 });
    });
  });
}

async function main(): Promise<void> {
  const started = performance.now();
  const sender = buildSender();
  const servers = [await startSbd(), await startKamailio()];
  for (const s of servers) await sipp(s.port, Math.min(N, 2000)); // warm-up: JIT, caches, db_text load

  // (a) CPU per byte, each shape alone; the ordinary REGISTER first (the 1× line).
  const ordinary: FloodShape = {
    name: 'ordinary REGISTER (→ 401)',
    weight: 1,
    bytes: [
      'REGISTER sip:127.0.0.1 SIP/2.0',
      'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-o@@@@@@@@;rport',
      'Max-Forwards: 70',
      'From: <sip:b100001@127.0.0.1>;tag=@@@@@@@@',
      'To: <sip:b100001@127.0.0.1>',
      'Call-ID: o@@@@@@@@@127.0.0.1',
      'CSeq: 1 REGISTER',
      'Contact: <sip:b100001@127.0.0.1:5070;transport=udp>',
      'Expires: 300',
      'User-Agent: Cisco-CP8845/14.2.1',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  };
  const perByte: Record<string, Record<string, { usPerKb: number; taken: number; sent: number }>> = {};
  for (const s of servers) {
    const shapes = [ordinary, ...sipFloodShapes({ transport: 'UDP', port: s.port, victim: 'b100000', guessed: 'b100001' })];
    for (const shape of shapes) {
      const size = 'random' in shape ? shape.random + (shape.framed ? 23 : 0) : Buffer.byteLength(shape.bytes as string, 'latin1');
      const count = Math.max(200, Math.min(10000, Math.round(SHAPE_BYTES / size)));
      const [cpu0, drops0] = [cpuOfServer(s), udpDrops(s.port)];
      // Big datagrams 10 ms apart (the socket buffer holds only a few); the rest 200 µs apart.
      const r = await runSender(sender, 'udp', s.port, count, [{ ...shape, weight: 1 }], {
        batch: 1,
        paceUs: size > 8192 ? 10_000 : 200,
        sources: 1,
        source: '127.0.0.1',
      });
      await waitIdle(s);
      const taken = r.sent - (udpDrops(s.port) - drops0);
      (perByte[shape.name] ??= {})[s.name] = {
        usPerKb: ((cpuOfServer(s) - cpu0) * 1e6) / Math.max(1, (taken * size) / 1024),
        taken,
        sent: r.sent,
      };
    }
  }
  console.log('(a) CPU per KiB taken in, each shape alone over UDP (µs/KiB; ratio to the ordinary REGISTER; datagrams taken/sent)');
  console.log('| shape | sbd µs/KiB | sbd ratio | Kamailio µs/KiB | Kamailio ratio |\n|---|---|---|---|---|');
  const base = perByte[ordinary.name]!;
  for (const [name, row] of Object.entries(perByte)) {
    const cell = (k: 'sbd' | 'kamailio') => `${row[k]!.usPerKb.toFixed(1)} (${row[k]!.taken}/${row[k]!.sent})`;
    console.log(
      `| ${name} | ${cell('sbd')} | ${(row.sbd!.usPerKb / base.sbd!.usPerKb).toFixed(2)}× | ${cell('kamailio')} | ${(row.kamailio!.usPerKb / base.kamailio!.usPerKb).toFixed(2)}× |`,
    );
  }
  const worst = Math.max(...Object.values(perByte).map((r) => r.sbd!.usPerKb / base.sbd!.usPerKb));
  console.log(`sbd worst shape: ${worst.toFixed(2)}× the ordinary REGISTER's CPU per byte (goal ≤ 3×)\n`);

  // (c) registrations/s unflooded vs under an INVITE flood, interleaved.
  const invite = sipFloodShapes({ transport: 'UDP', port: 0, victim: 'b100000', guessed: 'b100001' }).find(
    (x) => x.name === 'unauthenticated-invite',
  )!;
  const rates: Record<string, { calm: number[]; flooded: number[]; failed: number }> = {
    sbd: { calm: [], flooded: [], failed: 0 },
    kamailio: { calm: [], flooded: [], failed: 0 },
  };
  for (let rep = 0; rep < REPEAT; rep++) {
    for (const s of rep % 2 === 0 ? servers : [...servers].reverse()) {
      const calm = await sipp(s.port, N, SIPP_SECONDS);
      const shapes = [{ ...invite, bytes: (invite as { bytes: string }).bytes.replaceAll(':0 SIP/2.0', `:${s.port} SIP/2.0`) }];
      // 16 datagrams per batch; pace so that batches come FLOOD_RATE/16 times a second (usleep overshoots a little).
      const flood = spawnSender(sender, 'udp', s.port, 1e9, shapes, {
        batch: 16,
        paceUs: Math.round((16 * 1e6) / FLOOD_RATE),
        sources: 64,
      });
      children.push(flood.child);
      await sleep(1000);
      const flooded = await sipp(s.port, N, SIPP_SECONDS);
      flood.child.kill('SIGTERM');
      rates[s.name]!.calm.push(calm.ok / calm.seconds);
      rates[s.name]!.flooded.push(flooded.ok / flooded.seconds);
      rates[s.name]!.failed += calm.failed + flooded.failed;
      await sleep(3000);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `(c) registrations with digest per second, sipp over UDP, unflooded vs ${FLOOD_RATE} unauthenticated INVITEs/s from 64 addresses (median of ${REPEAT})`,
  );
  console.log('| server | unflooded reg/s | flooded reg/s | flooded / unflooded | failed registrations |\n|---|---|---|---|---|');
  for (const s of servers) {
    const r = rates[s.name]!;
    console.log(
      `| ${s.name} | ${median(r.calm).toFixed(0)} | ${median(r.flooded).toFixed(0)} | ${((100 * median(r.flooded)) / median(r.calm)).toFixed(0)} % | ${r.failed} |` +
        ` (runs ${r.calm.map((x) => x.toFixed(0)).join('/')} vs ${r.flooded.map((x) => x.toFixed(0)).join('/')})`,
    );
  }

  // (b) RSS after the 1,000,000-datagram flood mix.
  console.log(`\n(b) memory after ${FLOOD_DATAGRAMS.toLocaleString('en')} flood datagrams (the flood tests' UDP mix, from 64 addresses)`);
  console.log('| server | before MiB | after MiB | datagrams taken |\n|---|---|---|---|');
  for (const s of servers) {
    const mem = () => (s.name === 'sbd' ? memoryOf(s.pid).rssKb / 1024 : pssMiB(s.pid));
    const before = mem();
    const drops0 = udpDrops(s.port);
    const r = await runSender(
      sender,
      'udp',
      s.port,
      FLOOD_DATAGRAMS,
      sipFloodShapes({ transport: 'UDP', port: s.port, victim: 'b100000', guessed: 'b100001' }),
    );
    await sleep(5000);
    console.log(
      `| ${s.name} | ${before.toFixed(0)} | ${mem().toFixed(0)}${s.name === 'sbd' ? ` (peak ${(memoryOf(s.pid).hwmKb / 1024).toFixed(0)})` : ' (PSS)'} | ${r.sent - (udpDrops(s.port) - drops0)} |`,
    );
  }
  sender.dispose();
  console.log(`\n(bench/sip-abuse ran ${((performance.now() - started) / 1000).toFixed(0)} s; a shared machine's figures are noisy)`);
}

try {
  await main();
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await sleep(500);
  rmSync(root, { recursive: true, force: true });
}
