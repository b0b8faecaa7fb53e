/**
 * bench/cluster (issue 21 must-show): N simulated phones (default 30,000) booting (CTL, ITL, signed config over
 * TFTP) and registering (UDP, digest with the password their config delivered, ITL reported) — once over a
 * three-node cluster and, in the same run, once over a single node; then the publisher-change → served latency.
 *
 * Single node: `sbd init` on 127.0.0.1, sbd-tftpd and sbd-sipd on its SQLite store, every phone on it.
 * Cluster: made by the commands as an administrator would (test/cluster/pg-cluster.ts): `sbd cluster migrate` on the
 * publisher (its own PostgreSQL 15 primary), `add-node` + `join` for sub1 (127.0.0.2) and sub2 (127.0.0.3), each with
 * its own hot standby streaming over TLS, the real sbd-clusterd on the publisher. The phones are spread over three
 * call-manager groups (pub+sub1, sub1+sub2, sub2+pub), a third each; a phone boots from its group's primary node's
 * TFTP and registers on the first call manager its config names. The publisher's daemons run on its SQLite store
 * of record; a subscriber's read its own standby (`sbd cluster env`: --store-url as sbd_reader, node-local writes
 * to the primary over verify-ca TLS). Every daemon is its own process; CPU per node is read from /proc/<pid>/stat
 * (daemons and the PostgreSQL postmaster with its backends; the publisher's sbd-clusterd).
 * The load: three generator processes (bench/cluster/phones.ts, src/sim) in both topologies, each a third of the
 * phones, at most SBD_BENCH_INFLIGHT/3 phones in flight each.
 * The digest passwords travel in the signed configs (SipDigestPasswordInSignedConfig true, a lab setting: encrypted
 * configs would need an LSC per phone through CAPF first); a subscriber's TFTP decrypts them with the phone-password key
 * its join took from the publisher.
 * Latency: SBD_BENCH_CHANGES (default 50) changes, one at a time: a phone's description (in its config) changed on
 * the publisher's store, then that phone's `SEP….cnf.xml.sgn` fetched from its node's TFTP every 20 ms until the
 * served bytes hold the new text (single node: its own TFTP; cluster: sub1's and sub2's in turn, so each change
 * goes SQLite → clusterd publish → primary → standby replay → the node's copy reload → TFTP).
 *
 *   SBD_BENCH_PHONES=30000   (quick: SBD_BENCH_PHONES=3000)
 *   SBD_BENCH_INFLIGHT=240   phones in flight over the three generators
 *   SBD_BENCH_CHANGES=50
 *   SBD_BENCH_ONLY=single|cluster   one topology only
 * Needs PostgreSQL 15 (deps/apt/cluster.txt). On a 2-core machine all three nodes, both topologies' generators and
 * the PostgreSQL servers share the same two cores: the cluster's figures are not three machines' figures.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { setCmGroup } from '../src/cluster/cm-groups.js';
import { SIGNED_CONFIG_PARAM } from '../src/cluster/phone-digest.js';
import { initAppliance } from '../src/cluster/init.js';
import { nodeEnvironment } from '../src/cluster/membership-env.js';
import { systemClock } from '../src/lib/clock.js';
import { type State as AppState, openState, stateLayout } from '../src/store/state.js';
import { fetchFile } from '../src/tftp/client.js';
import { joinNode, pgMissing, startClusterd, startPublisher, type TestNode } from '../test/cluster/pg-cluster.js';
import { addPhones, cpuOfAll, type Daemon, macOf, postmasterPid, runGenerators, startDaemon } from './cluster/nodes.js';
import type { PhonesJob, PhonesResult } from './cluster/phones.js';

const N = Number(process.env.SBD_BENCH_PHONES ?? 30000);
const INFLIGHT = Number(process.env.SBD_BENCH_INFLIGHT ?? 240);
const CHANGES = Number(process.env.SBD_BENCH_CHANGES ?? 50);
const ONLY = process.env.SBD_BENCH_ONLY;
if (!Number.isInteger(N) || N < 3) throw new Error(`SBD_BENCH_PHONES=${process.env.SBD_BENCH_PHONES}: an integer >= 3`);
if (ONLY !== undefined && ONLY !== 'single' && ONLY !== 'cluster') throw new Error(`SBD_BENCH_ONLY=${ONLY}: single or cluster`);
const missing = pgMissing();
if (missing && ONLY !== 'single') {
  console.error(`bench/cluster: ${missing}`);
  process.exit(2);
}
const MAC_BASE = 0x00aa00000000;
const NODES = [
  { name: 'pub', ip: '127.0.0.1' },
  { name: 'sub1', ip: '127.0.0.2' },
  { name: 'sub2', ip: '127.0.0.3' },
] as const;
const share = (k: number) => [Math.floor((k * N) / 3), Math.floor(((k + 1) * N) / 3)] as const;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const root = mkdtempSync(join(tmpdir(), 'sbd-bench-cluster-'));
const cleanups: Array<() => void | Promise<void>> = [];
const t = { after: (fn: () => void | Promise<void>) => void cleanups.push(fn) };
async function cleanup(): Promise<void> {
  for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch((err: Error) => console.error(`cleanup: ${err.message}`));
  cleanups.length = 0;
  rmSync(root, { recursive: true, force: true });
}
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

interface StormRun {
  wallS: number;
  results: PhonesResult[];
  cpu: Record<string, number>;
}

/** The generators at once; CPU of each labelled process tree over the storm. */
async function storm(jobs: PhonesJob[], pids: Record<string, number>): Promise<StormRun> {
  const before = cpuOfAll(pids);
  const t0 = performance.now();
  const results = await runGenerators(jobs);
  const wallS = (performance.now() - t0) / 1000;
  const after = cpuOfAll(pids);
  return { wallS, results, cpu: Object.fromEntries(Object.keys(pids).map((k) => [k, after[k]! - before[k]!])) };
}

const inflightEach = Math.max(1, Math.floor(INFLIGHT / 3));
const job = (topology: string, k: number, tftp: { host: string; port: number }, sip: Record<string, number>): PhonesJob => {
  const [first, end] = share(k);
  return {
    tftp,
    sip,
    macBase: macOf(MAC_BASE, first),
    count: end - first,
    concurrency: inflightEach,
    phonesDir: join(root, `${topology}-phones-${k}`),
    firstIndex: first,
  };
};

/** Change a phone's description on `state`'s store, then poll `tftp` until its config holds it; ms per change. */
async function changeLatency(state: AppState, targets: Array<{ tftp: { host: string; port: number }; device: string }>, tag: string) {
  const times: number[] = [];
  for (let j = 0; j < CHANGES; j++) {
    const { tftp, device } = targets[j % targets.length]!;
    const label = `bench-${tag}-${j}-${Date.now()}`;
    state.store.updateDevice(device, { description: label });
    const t0 = performance.now();
    for (;;) {
      const data = await fetchFile({ server: tftp.host, port: tftp.port, name: `${device}.cnf.xml.sgn`, retries: 2, timeoutMs: 1000 }).then(
        (r) => r.data,
        () => Buffer.alloc(0),
      );
      if (data.includes(label)) break;
      if (performance.now() - t0 > 120_000) throw new Error(`${tag}: ${device}'s config did not change within 120 s`);
      await sleep(20);
    }
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** One line as soon as a storm ends (a long run that fails later still shows it). */
function progress(label: string, run: StormRun): void {
  const registered = run.results.reduce((a, r) => a + r.registered, 0);
  const cpu = Object.entries(run.cpu)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(', ');
  console.log(
    `${label}: ${registered} of ${N} registered in ${run.wallS.toFixed(1)} s (${(registered / run.wallS).toFixed(0)}/s); CPU s: ${cpu}; load average ${loadavg()}`,
  );
}

interface Topology {
  label: string;
  storm: StormRun;
  nodeCpu: Record<string, Record<string, number>>;
  latency: number[];
}
const topologies: Topology[] = [];

const tftpPortOf = (d: Daemon) => (d.listening.addresses as Array<{ port: number }>)[0]!.port;
const sipMap = (state: AppState, ports: Record<string, number>): Record<string, number> => {
  const map: Record<string, number> = {};
  for (const n of state.store.listNodes()) {
    const port = ports[n.name];
    if (port === undefined) continue;
    for (const host of [n.name, n.hostname, n.ipv4]) if (host) map[host] = port;
  }
  return map;
};

async function single(): Promise<void> {
  const dir = join(root, 'single');
  initAppliance({ dir, hostname: 'one', nodeName: 'one', ipv4: '127.0.0.1', clock: systemClock });
  const state = openState(dir);
  cleanups.push(() => state.store.close());
  state.store.setParam(SIGNED_CONFIG_PARAM, 'true');
  const t0 = performance.now();
  await addPhones(state.store, stateLayout(dir).keysDir, MAC_BASE, 0, N);
  console.log(`single node: ${N} phones in the store in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const common = ['--state', dir, '--bind', '127.0.0.1', '--port', '0'];
  const tftp = await startDaemon('tftp', ['tftp', ...common], {}, (ev) => Array.isArray(ev.addresses));
  cleanups.push(tftp.stop);
  const sip = await startDaemon('sip', ['sip', ...common, '--no-tls'], {}, (ev) => typeof ev.udp === 'number');
  cleanups.push(sip.stop);
  const tftpAt = { host: '127.0.0.1', port: tftpPortOf(tftp) };
  const map = sipMap(state, { one: sip.listening.udp as number });
  console.log(`single node: storm (load average ${loadavg()})`);
  const run = await storm(
    [0, 1, 2].map((k) => job('single', k, tftpAt, map)),
    { tftp: tftp.pid, sip: sip.pid },
  );
  progress('single node', run);
  const devices = [0, 1, 2].map((k) => `SEP${macOf(MAC_BASE, share(k)[0])}`);
  const latency = await changeLatency(
    state,
    devices.map((device) => ({ tftp: tftpAt, device })),
    'single',
  );
  topologies.push({ label: 'single node', storm: run, nodeCpu: { one: run.cpu }, latency });
  await sip.stop();
  await tftp.stop();
}

async function cluster(): Promise<void> {
  const t0 = performance.now();
  const pub = await startPublisher(t, 'pub');
  const clusterd = startClusterd(t, pub, 250);
  const subs: TestNode[] = [];
  for (const n of NODES.slice(1)) subs.push(await joinNode(t, pub, n.name, n.ip));
  const state = openState(pub.state);
  cleanups.push(() => state.store.close());
  state.store.setParam(SIGNED_CONFIG_PARAM, 'true');
  const groups = ['g-pub', 'g-sub1', 'g-sub2'];
  setCmGroup(state.store, 'g-pub', ['pub', 'sub1']);
  setCmGroup(state.store, 'g-sub1', ['sub1', 'sub2']);
  setCmGroup(state.store, 'g-sub2', ['sub2', 'pub']);
  for (let k = 0; k < 3; k++)
    await addPhones(state.store, stateLayout(pub.state).keysDir, MAC_BASE, share(k)[0], share(k)[1] - share(k)[0], groups[k]);
  console.log(`cluster: made and ${N} phones in the publisher's store in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // Every standby holds every phone's group before its daemons start.
  const t1 = performance.now();
  for (const s of subs) {
    const env = nodeEnvironment(s.state);
    const sql = postgres(env.SBD_STORE_URL!, { password: env.PGPASSWORD!, max: 1, onnotice: () => {} });
    try {
      for (let i = 0; ; i++) {
        const [r] = await sql`SELECT count(*)::int AS n FROM sbd.device_cm_groups`.catch(() => [{ n: -1 }]);
        if (r?.n === N) break;
        if (i > 1200) throw new Error(`${s.name}'s standby did not get the ${N} phones' groups within 10 min (has ${r?.n})`);
        await sleep(500);
      }
    } finally {
      await sql.end();
    }
  }
  console.log(`cluster: published and replayed on both standbys in ${((performance.now() - t1) / 1000).toFixed(1)} s`);

  const daemons: Record<string, { tftp: Daemon; sip: Daemon }> = {};
  for (const [k, n] of NODES.entries()) {
    const node = k === 0 ? pub : subs[k - 1]!;
    const env = k === 0 ? {} : nodeEnvironment(node.state);
    const pg = k === 0 ? [] : ['--store-url', env.SBD_STORE_URL!, '--primary-url', env.SBD_PRIMARY_URL!];
    const common = ['--state', node.state, ...pg, '--node', n.name, '--bind', n.ip, '--port', '0'];
    const tftp = await startDaemon(`${n.name} tftp`, ['tftp', ...common], env, (ev) => Array.isArray(ev.addresses));
    cleanups.push(tftp.stop);
    const sip = await startDaemon(`${n.name} sip`, ['sip', ...common, '--no-tls'], env, (ev) => typeof ev.udp === 'number');
    cleanups.push(sip.stop);
    daemons[n.name] = { tftp, sip };
  }
  const map = sipMap(state, Object.fromEntries(NODES.map((n) => [n.name, daemons[n.name]!.sip.listening.udp as number])));
  const tftpAt = (k: number) => ({ host: NODES[k]!.ip, port: tftpPortOf(daemons[NODES[k]!.name]!.tftp) });
  const pids: Record<string, number> = { clusterd: clusterd.pid! };
  for (const [k, n] of NODES.entries()) {
    const node = k === 0 ? pub : subs[k - 1]!;
    pids[`${n.name}/tftp`] = daemons[n.name]!.tftp.pid;
    pids[`${n.name}/sip`] = daemons[n.name]!.sip.pid;
    pids[`${n.name}/pg`] = postmasterPid(join(node.pgDir, 'data'));
  }
  console.log(`cluster: storm (load average ${loadavg()})`);
  const run = await storm(
    [0, 1, 2].map((k) => job('cluster', k, tftpAt(k), map)),
    pids,
  );
  progress('cluster', run);
  const nodeCpu: Record<string, Record<string, number>> = {};
  for (const [key, s] of Object.entries(run.cpu)) {
    const [node, what] = key.includes('/') ? key.split('/') : ['pub', key];
    (nodeCpu[node!] ??= {})[what!] = s;
  }
  const targets = [1, 2].map((k) => ({ tftp: tftpAt(k), device: `SEP${macOf(MAC_BASE, share(k)[0])}` }));
  const latency = await changeLatency(state, targets, 'cluster');
  topologies.push({ label: 'cluster (3 nodes)', storm: run, nodeCpu, latency });
}

const fmt = (n: number, d = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d }) : '–';
try {
  console.log(
    `bench/cluster: ${N} phones (boot: CTL, ITL, signed config over TFTP; REGISTER over UDP with digest), ${INFLIGHT} in flight over 3 generator processes; ${CHANGES} changes; ${cpus().length} cores, load average ${loadavg()} at start`,
  );
  console.log(
    'On this machine the three nodes, their PostgreSQL servers and the generators share the same cores: the cluster rows measure the work a cluster does, not three machines.',
  );
  if (ONLY !== 'cluster') await single();
  if (ONLY !== 'single') await cluster();
} finally {
  await cleanup();
}

console.log(`\nload average at the end: ${loadavg()}\n`);
console.log(
  '| topology | phones | booted | registered | wall s | phones/s | boot p50/p99 ms (worst generator) | register p50/p99 ms (worst generator) | REGISTER retries | generators CPU s |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const top of topologies) {
  const r = top.storm.results;
  const sum = (f: (x: PhonesResult) => number) => r.reduce((a, x) => a + f(x), 0);
  const max = (f: (x: PhonesResult) => number) => Math.max(...r.map(f));
  const registered = sum((x) => x.registered);
  console.log(
    `| ${top.label} | ${fmt(sum((x) => x.phones))} | ${fmt(sum((x) => x.booted))} | ${fmt(registered)} | ${fmt(top.storm.wallS, 1)} | ${fmt(registered / top.storm.wallS)} | ${fmt(max((x) => x.bootP50Ms))}/${fmt(max((x) => x.bootP99Ms))} | ${fmt(max((x) => x.registerP50Ms))}/${fmt(max((x) => x.registerP99Ms))} | ${fmt(sum((x) => x.retried))} | ${fmt(
      sum((x) => x.cpuS),
      1,
    )} |`,
  );
}
console.log('\nCPU seconds per node during the storm (daemons, the PostgreSQL server with its backends, sbd-clusterd):\n');
console.log('| topology | node | tftp | sip | postgres | clusterd | node total |');
console.log('|---|---|---|---|---|---|---|');
for (const top of topologies)
  for (const [node, c] of Object.entries(top.nodeCpu)) {
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    const cell = (k: string) => (c[k] === undefined ? '–' : fmt(c[k]!, 1));
    console.log(`| ${top.label} | ${node} | ${cell('tftp')} | ${cell('sip')} | ${cell('pg')} | ${cell('clusterd')} | ${fmt(total, 1)} |`);
  }
console.log(`\nPublisher change → served by a node's TFTP (${CHANGES} changes, one at a time):\n`);
console.log('| topology | served by | median ms | p99 ms | max ms |');
console.log('|---|---|---|---|---|');
for (const top of topologies)
  console.log(
    `| ${top.label} | ${top.label.startsWith('single') ? 'its own TFTP' : "sub1's and sub2's TFTP"} | ${fmt(pct(top.latency, 50))} | ${fmt(pct(top.latency, 99))} | ${fmt(top.latency.at(-1)!)} |`,
  );
const [one, three] = [topologies.find((x) => x.label.startsWith('single')), topologies.find((x) => x.label.startsWith('cluster'))];
if (one && three) {
  const rate = (x: Topology) => x.storm.results.reduce((a, r) => a + r.registered, 0) / x.storm.wallS;
  const cpu = (x: Topology) => Object.values(x.nodeCpu).reduce((a, c) => a + Object.values(c).reduce((p, q) => p + q, 0), 0);
  console.log(
    `\ncluster ÷ single node: phones/s ${fmt(rate(three) / rate(one), 2)}×, server CPU (all nodes) ${fmt(cpu(three) / cpu(one), 2)}×, change latency median ${fmt(pct(three.latency, 50) / pct(one.latency, 50), 1)}×`,
  );
}
for (const top of topologies)
  for (const r of top.storm.results)
    if (r.examples.length)
      console.log(`${top.label}: ${r.phones - r.registered} not registered, ${r.retried} REGISTER retries; e.g. ${r.examples.join(' | ')}`);
process.exit(0);
