/**
 * bench/tftp-bootstorm: N phones booting over TFTP — each fetches its CTL (~7 KB), ITL (~10 KB) and config
 * (~6 KB, one file per phone) in order — against sbd-tftpd and, side by side in the same run on the same machine,
 * dnsmasq, atftpd and tftpd-hpa, which the bench starts and stops itself on loopback.
 *
 * Shapes: paced (at most 250 phones in flight) and burst (every phone at once, retrying as phones do).
 * Options: blksize 512 (no options), blksize 1428 + tsize, and + windowsize 8 where the server supports it.
 * Every server runs in its own process; the load generator reports its own CPU time next to the server's, so a
 * run where the generator, not the server, is the limit shows up. The default generator is ./tftp-bootstorm/storm.c
 * (epoll, sockets reused after a rest, no per-packet allocation; paced lanes start spread over 10 ms; built with
 * cc on first use), its own process;
 * the Node one (./tftp-bootstorm/phones.ts, on src/tftp/client.ts, in this process) stays selectable.
 *
 *   SBD_BENCH_PHONES=1000,5000,10000  phone counts (default 1000)
 *   SBD_BENCH_SHAPES=paced,burst      (default both)
 *   SBD_BENCH_SERVERS=sbd,sbd-node,dnsmasq,atftpd,tftpd-hpa   (default all; sbd = sbd-tftpd with its native data
 *                                     plane, as it ships; sbd-node = the TypeScript server)
 *   SBD_BENCH_OPTIONS=512,1428,1428w8                (default all)
 *   SBD_BENCH_REPEAT=3                runs of each configuration per server; the median (by files/s) is kept
 *   SBD_BENCH_GENERATOR=c|node|c,node load generator (default c); both: each run with each, interleaved, rows
 *                                     labelled server/generator and ratios taken within one generator
 *   SBD_BENCH_CPU_PROF=DIR            V8 CPU profile of the sbd-tftpd process
 *   SBD_BENCH_STORM_ARGS='--start-spread-ms 0'   extra storm.c arguments, for experiments (every server alike)
 *   SBD_BENCH_FILES=random|appliance  random: 7/10/6 KB random files (default). appliance: a real appliance store
 *                                     (sbd init, mixed mode, one device per phone) — its CTL, ITL and signed
 *                                     configs, written to the folder every server serves; adds the server
 *                                     sbd-appl (sbd-tftpd --state: the store itself, files prebuilt at start)
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { initAppliance } from '../src/cluster/init.js';
import { openState } from '../src/store/state.js';
import { systemClock } from '../src/lib/clock.js';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile, runStorm, type StormConfig, type StormResult } from './tftp-bootstorm/phones.js';
import { buildStorm, runStormC } from './tftp-bootstorm/storm-c.js';
import { startAtftpd, startDnsmasq, startSbd, startTftpdHpa, type Peer } from './tftp-bootstorm/peers.js';

const list = (name: string, def: string) =>
  (process.env[name] ?? def)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const PHONES = list('SBD_BENCH_PHONES', '1000').map(Number);
const SHAPES = list('SBD_BENCH_SHAPES', 'paced,burst') as ('paced' | 'burst')[];
const SERVERS = list('SBD_BENCH_SERVERS', 'sbd,sbd-node,dnsmasq,atftpd,tftpd-hpa');
const OPTIONS = list('SBD_BENCH_OPTIONS', '512,1428,1428w8');
const ADDRESS = '127.0.0.1';
const IN_FLIGHT = 250;
const MAX_PHONES = Math.max(...PHONES);
const GENERATORS = list('SBD_BENCH_GENERATOR', 'c') as ('c' | 'node')[];
for (const g of GENERATORS) if (g !== 'c' && g !== 'node') throw new Error(`SBD_BENCH_GENERATOR=${g}: c, node or c,node`);
if (GENERATORS.includes('c')) buildStorm();
const genName = { c: 'storm.c (its own process, getrusage)', node: 'Node phones.ts (this process)' } as const;

const optionSets: Record<string, StormConfig['request'] & { label: string }> = {
  '512': { label: 'blksize 512' },
  '1428': { label: '1428+tsize', blksize: 1428, tsize: true },
  '1428w8': { label: '1428+tsize+ws8', blksize: 1428, tsize: true, windowsize: 8 },
};

// The files: shared CTL and ITL, one config per phone (phones ask for SEP<MAC>.cnf.xml.sgn).
const FILES = process.env.SBD_BENCH_FILES ?? 'random';
if (FILES !== 'random' && FILES !== 'appliance') throw new Error(`SBD_BENCH_FILES=${FILES}: random or appliance`);
const root = mkdtempSync(join(tmpdir(), 'sbd-bootstorm-'));
chmodSync(root, 0o755);
const mac = (i: number) => (0x001122000000 + i).toString(16).toUpperCase().padStart(12, '0');
let stateDir: string | undefined;
if (FILES === 'random') {
  writeFileSync(join(root, 'CTLFile.tlv'), randomBytes(7 * 1024));
  writeFileSync(join(root, 'ITLFile.tlv'), randomBytes(10 * 1024));
  const cnf = randomBytes(6 * 1024);
  for (let i = 0; i < MAX_PHONES; i++) writeFileSync(join(root, `SEP${mac(i)}.cnf.xml.sgn`), cnf);
} else {
  // A real appliance: sbd init, mixed mode (so a CTL exists), one device per phone. sbd-appl serves the store and
  // writes what it serves into `root`, which every other server then serves from disk (started after it).
  stateDir = mkdtempSync(join(tmpdir(), 'sbd-bootstorm-state-'));
  initAppliance({ dir: stateDir, hostname: 'sbd.example', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
  const { store } = openState(stateDir);
  store.transaction(() => {
    store.setParam('ClusterSecurityMode', 'mixed');
    for (let i = 0; i < MAX_PHONES; i++) store.addDevice({ name: `SEP${mac(i)}`, model: '8845' });
  });
  store.close();
  if (!SERVERS.includes('sbd-appl')) SERVERS.unshift('sbd-appl');
  SERVERS.sort((a, b) => Number(b === 'sbd-appl') - Number(a === 'sbd-appl'));
}
const cache = new Map<string, Buffer>();
const read = (name: string): Buffer => cache.get(name) ?? cache.set(name, readFileSync(join(root, name))).get(name)!;
const files = (i: number): [string, Buffer][] => ['CTLFile.tlv', 'ITLFile.tlv', `SEP${mac(i)}.cnf.xml.sgn`].map((n) => [n, read(n)]);

/** One storm with the chosen generator; both read the same files and verify every byte. */
function storm(generator: 'c' | 'node', c: Omit<StormConfig, 'files'>): Promise<StormResult> {
  if (generator === 'node') return runStorm({ ...c, files });
  return runStormC({ ...c, root, fileNames: ['CTLFile.tlv', 'ITLFile.tlv', 'SEP{MAC}.cnf.xml.sgn'], macBase: mac(0) });
}

interface Row {
  server: string;
  generator: 'c' | 'node';
  shape: string;
  options: string;
  phones: number;
  booted: number;
  failed: number;
  wallS: number;
  phonesPerS: number;
  filesPerS: number;
  p50: number;
  p99: number;
  retx: number;
  genCpuS: number;
  srvCpuS: number;
}
const rows: Row[] = [];
const notes: string[] = [];

async function startPeer(name: string): Promise<Peer | string> {
  switch (name) {
    case 'sbd':
      return startSbd(root, ADDRESS, 'native');
    case 'sbd-node':
      return startSbd(root, ADDRESS, 'node');
    case 'sbd-appl':
      return stateDir ? startSbd(root, ADDRESS, 'native', { state: stateDir }) : 'needs SBD_BENCH_FILES=appliance';
    case 'dnsmasq':
      return startDnsmasq(root, ADDRESS, 16384);
    case 'atftpd':
      return startAtftpd(root, ADDRESS, 2000);
    case 'tftpd-hpa':
      return startTftpdHpa(root, ADDRESS);
    default:
      return `unknown server ${name}`;
  }
}

const fmt = (n: number, d = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d }) : '–';

/** `single`: one of the repeated runs (in parentheses), not the median. */
function printRow(r: Row, single = false): void {
  const name = GENERATORS.length > 1 ? `${r.server}/${r.generator}` : r.server;
  console.log(
    [
      (single ? `(${name})` : name).padEnd(10),
      r.shape.padEnd(6),
      r.options.padEnd(15),
      fmt(r.phones).padStart(6),
      fmt(r.booted).padStart(6),
      fmt(r.failed).padStart(6),
      fmt(r.wallS, 1).padStart(6),
      fmt(r.phonesPerS).padStart(7),
      fmt(r.filesPerS).padStart(7),
      fmt(r.p50).padStart(7),
      fmt(r.p99).padStart(7),
      fmt(r.retx).padStart(7),
      fmt(r.genCpuS, 1).padStart(6),
      fmt(r.srvCpuS, 1).padStart(6),
    ].join(' '),
  );
}

// Every server runs for the whole bench and the runs interleave (each configuration on every server in turn,
// SBD_BENCH_REPEAT times, median kept), so a change in the machine's background load hits all servers alike.
const REPEAT = Number(process.env.SBD_BENCH_REPEAT ?? '1');
const peers: Peer[] = [];
const dead = new Set<Peer>();
try {
  for (const name of SERVERS) {
    const peer = await startPeer(name);
    if (typeof peer === 'string') {
      notes.push(`${name}: skipped — ${peer}`);
      console.log(`${name}: skipped — ${peer}`);
      continue;
    }
    notes.push(`${peer.name}: ${peer.note}`);
    peers.push(peer);
  }
  // After the servers start: in appliance mode sbd-appl has just written the files.
  const sizes =
    FILES === 'random'
      ? '7 KB CTL, 10 KB ITL, 6 KB config'
      : `appliance files: CTL ${read('CTLFile.tlv').length} B, ITL ${read('ITLFile.tlv').length} B, config ${read(`SEP${mac(0)}.cnf.xml.sgn`).length} B`;
  console.log(
    `tftp boot storm: ${PHONES.join('/')} phones × 3 files (${sizes}), ${IN_FLIGHT} in flight when paced; generator ${GENERATORS.map((g) => genName[g]).join(' and ')}; files in ${root}`,
  );
  console.log(
    [
      'server'.padEnd(10),
      'shape'.padEnd(6),
      'options'.padEnd(15),
      'phones',
      'booted',
      'failed',
      'wall s',
      'phone/s',
      'files/s',
      'p50 ms',
      'p99 ms',
      'retx',
      'gen s',
      'srv s',
    ].join(' '),
  );
  for (const phones of PHONES) {
    for (const shape of SHAPES) {
      for (const key of OPTIONS) {
        const o = optionSets[key];
        if (!o) throw new Error(`unknown option set ${key}`);
        const { label, ...request } = o;
        const runs = new Map<string, Row[]>();
        for (let rep = 0; rep < REPEAT; rep++) {
          for (const peer of peers)
            for (const generator of GENERATORS) {
              if (o.windowsize && !peer.windowsize) continue;
              if (!peer.alive()) {
                if (!dead.has(peer))
                  notes.push(`${peer.name}: the server process died during the ${phones}-phone ${shape} run before ${label}`);
                dead.add(peer);
                continue;
              }
              const cpu0 = peer.cpuSeconds();
              const r = await storm(generator, {
                server: ADDRESS,
                port: peer.port,
                phones,
                shape,
                inFlight: IN_FLIGHT,
                request,
                deadlineMs: shape === 'burst' ? 180_000 : 600_000,
                fileAttempts: 5,
              });
              const row: Row = {
                server: peer.name,
                generator,
                shape,
                options: label,
                phones,
                booted: r.booted,
                failed: r.failed,
                wallS: r.wallMs / 1000,
                phonesPerS: r.booted / (r.wallMs / 1000),
                filesPerS: r.files / (r.wallMs / 1000),
                p50: percentile(r.bootMs, 50),
                p99: percentile(r.bootMs, 99),
                retx: r.retransmissions,
                genCpuS: r.genCpuS,
                srvCpuS: peer.cpuSeconds() - cpu0,
              };
              const key = `${peer.name}|${generator}`;
              runs.set(key, [...(runs.get(key) ?? []), row]);
              if (REPEAT > 1) printRow(row, true);
              // Let this run's last transfers (dally, server-side timeouts) finish before the next one.
              await new Promise((res) => setTimeout(res, 1500));
            }
        }
        for (const list of runs.values()) {
          const median = [...list].sort((a, b) => a.filesPerS - b.filesPerS)[Math.floor(list.length / 2)]!;
          rows.push(median);
          printRow(median);
        }
      }
    }
  }
} finally {
  for (const peer of peers) await peer.stop();
  rmSync(root, { recursive: true, force: true });
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
}

// Ratios: sbd-tftpd's files/s over each peer's, same phones, shape and options.
for (const mine of ['sbd-tftpd', 'sbd-appl']) {
  if (!rows.some((x) => x.server === mine)) continue;
  console.log(`\n${mine} files/s ÷ peer files/s (same phones, shape, options):`);
  for (const r of rows.filter((x) => x.server !== mine)) {
    const ours = rows.find(
      (x) => x.server === mine && x.generator === r.generator && x.shape === r.shape && x.options === r.options && x.phones === r.phones,
    );
    const gen = GENERATORS.length > 1 ? ` (${r.generator})` : '';
    if (ours)
      console.log(
        `  ${fmt(r.phones)} ${r.shape.padEnd(6)} ${r.options.padEnd(15)} vs ${r.server.padEnd(10)} ${fmt(ours.filesPerS / r.filesPerS, 2)}×   booted ${fmt(ours.booted)} vs ${fmt(r.booted)}${gen}`,
      );
  }
}
console.log('\nnotes:');
for (const n of notes) console.log(`  ${n}`);
console.log(
  `  gen s / srv s: CPU seconds of the load generator (${GENERATORS.map((g) => genName[g]).join('; ')}) and of the server (children included) during the run.`,
);
console.log("  gen µs/file (CPU per file fetched; the server's is srv s ÷ files the same way):");
for (const r of rows) {
  const files = r.filesPerS * r.wallS;
  console.log(
    `    ${r.server.padEnd(10)} ${r.generator.padEnd(4)} ${r.shape.padEnd(6)} ${r.options.padEnd(15)} gen ${fmt((r.genCpuS / files) * 1e6)} µs/file, ${fmt((100 * r.genCpuS) / r.wallS)} % of a core; server ${fmt((r.srvCpuS / files) * 1e6)} µs/file, ${fmt((100 * r.srvCpuS) / r.wallS)} % of a core`,
  );
}
