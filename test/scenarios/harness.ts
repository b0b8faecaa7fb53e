/**
 * The trust scenarios' stage: a real appliance made with `sbd init` (the CLI, in process), its three daemons as
 * server objects on loopback — sbd-tftpd over the store, sbd-tvsd, sbd-capfd — each on a port picked by the
 * kernel, and simulated phones that read the TVS and CAPF addresses from the configs they download. The configs
 * name the standard ports (2445, 3804) on the node's address; `redirect` maps those to where the daemons really
 * listen, as a NAT in front of the appliance would. Administration goes through `sbd` commands (`admin`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { main } from '../../src/cli/main.js';
import { openState, type State } from '../../src/store/state.js';
import { silentLogger } from '../../src/lib/log.js';
import type { ApplianceFileSource } from '../../src/tftp/appliance-source.js';
import { storeApplianceSource } from '../../src/daemons/adapters/tftp-store.js';
import { TftpServer } from '../../src/tftp/server.js';
import { TftpClientPool } from '../../src/tftp/client.js';
import { TvsServer } from '../../src/tvs/server.js';
import { capfOperations } from '../../src/daemons/adapters/capf-store.js';
import { CapfServer } from '../../src/capf/server.js';
import { bootSimPhone, type PhoneBootReport } from '../../src/sim/phone.js';
import { poolOptionsFor, TftpFetcher } from '../../src/sim/tftp-fetcher.js';
import { TrustListViewCache } from '../../src/sim/trust-list-view.js';
import { configTvsHook } from '../../src/sim/tvs-hook.js';
import type { EndpointRedirect, ServiceEndpoint } from '../../src/sim/phone-config.js';
import type { CapfPhoneOptions } from '../../src/sim/capf-enroll.js';
import type { Decision } from '../../src/sim/decisions.js';

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every cluster started by this test file: configured TVS/CAPF endpoint → where its daemon listens. */
const endpoints = new Map<string, ServiceEndpoint>();
export const redirect: EndpointRedirect = (_service, ep) => endpoints.get(`${ep.host}:${ep.port}`) ?? ep;

export interface AdminResult {
  code: number;
  out: string;
  err: string;
}

/** `sbd ARGS --state DIR` in this process (the same code the admin's shell runs); output captured. */
export async function sbd(args: string[]): Promise<AdminResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

export interface Cluster {
  dir: string;
  ipv4: string;
  state: State;
  source: ApplianceFileSource;
  tftp: TftpServer;
  tvs: TvsServer;
  capf: CapfServer;
  /** Stop sbd-tvsd (phones asking it get "connection refused"); `startTvs` brings up a new one. */
  stopTvs(): Promise<void>;
  startTvs(): Promise<void>;
  /** `sbd ARGS --state <this cluster>`; throws when the command fails, so a scenario never goes on after a failed step. */
  admin(...args: string[]): Promise<AdminResult>;
  /** The daemons take up a changed certificate now (they also would within their 2 s reload interval). */
  reloadServices(): void;
}

export interface ClusterOptions {
  hostname?: string;
  /** The node's address, also where its daemons listen. Default 127.0.0.1. */
  ipv4?: string;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const dir = tempDir('sbd-scenario-');
  const ipv4 = options.ipv4 ?? '127.0.0.1';
  const init = await sbd(['init', '--state', dir, '--hostname', options.hostname ?? 'sbd.example', '--ip', ipv4]);
  if (init.code !== 0) throw new Error(`sbd init failed: ${init.err}`);
  const state = openState(dir);
  const source = storeApplianceSource({ store: state.store, logger: silentLogger });
  const tftp = new TftpServer({ source, addresses: [ipv4], port: 0, logger: silentLogger });
  await tftp.listen();
  // Long reload intervals: the scenario says when a daemon takes up a new certificate (reloadServices).
  const newTvs = () => new TvsServer({ store: state.store, host: ipv4, port: 0, logger: silentLogger, reloadIntervalMs: 3_600_000 });
  const tvs = newTvs();
  const capf = new CapfServer({
    store: capfOperations(state.store),
    host: ipv4,
    port: 0,
    logger: silentLogger,
    reloadIntervalMs: 3_600_000,
  });
  const tvsAddr = await tvs.listen();
  const capfAddr = await capf.listen();
  endpoints.set(`${ipv4}:2445`, { host: ipv4, port: tvsAddr.port });
  endpoints.set(`${ipv4}:3804`, { host: ipv4, port: capfAddr.port });
  after(async () => {
    await Promise.all([tftp.close(), cluster.tvs.close(), capf.close()]);
    state.store.close();
  });
  const cluster: Cluster = {
    dir,
    ipv4,
    state,
    source,
    tftp,
    tvs,
    capf,
    async stopTvs() {
      await cluster.tvs.close();
    },
    async startTvs() {
      cluster.tvs = newTvs();
      const addr = await cluster.tvs.listen();
      endpoints.set(`${ipv4}:2445`, { host: ipv4, port: addr.port });
    },
    async admin(...args) {
      const r = await sbd([...args, '--state', dir]);
      if (r.code !== 0) throw new Error(`sbd ${args.join(' ')} exited ${r.code}: ${r.err}`);
      return r;
    },
    reloadServices() {
      cluster.tvs.reload();
      capf.reload();
    },
  };
  return cluster;
}

/** Phones with consecutive MACs from `base`. */
export function phoneNames(base: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `SEP${(base + i).toString(16).toUpperCase().padStart(12, '0')}`);
}

export interface Fleet {
  dir: string;
  views: TrustListViewCache;
  pool: TftpClientPool;
}

/** A folder of simulated phones and the TFTP client sockets they share. */
export function fleet(): Fleet {
  // Each socket on its own 127.1.x.y source address: sbd-tftpd's per-client limit then applies per socket, as it
  // would per phone, instead of throttling the whole fleet as one client.
  const pool = new TftpClientPool(poolOptionsFor({ host: '127.0.0.1', port: 69 }, 32));
  after(() => pool.close());
  return { dir: tempDir('sbd-phones-'), views: new TrustListViewCache(), pool };
}

export interface BootOptions {
  model?: string;
  capf?: CapfPhoneOptions;
  /** Phones booting at once. Default 50. */
  concurrency?: number;
}

/** Reboots phones against a cluster's TFTP server; TVS from each phone's own config. Reports in input order. */
export async function bootAll(f: Fleet, cluster: Cluster, names: readonly string[], o: BootOptions = {}): Promise<PhoneBootReport[]> {
  const fetcher = new TftpFetcher({ host: cluster.ipv4, port: cluster.tftp.port }, f.pool, { timeoutMs: 3000, retries: 8 });
  const tvs = configTvsHook({ redirect, timeoutMs: 30_000 });
  const reports: PhoneBootReport[] = new Array(names.length);
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      reports[i] = await bootSimPhone({
        stateDir: f.dir,
        deviceName: names[i]!,
        fetcher,
        views: f.views,
        verifyUnknownSigner: tvs,
        ...(o.model ? { model: o.model } : {}),
        ...(o.capf ? { capf: { redirect, timeoutMs: 60_000, ...o.capf } } : {}),
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 50, names.length) }, worker));
  return reports;
}

export async function bootOne(f: Fleet, cluster: Cluster, name: string, o: BootOptions = {}): Promise<PhoneBootReport> {
  return (await bootAll(f, cluster, [name], o))[0]!;
}

/** The decision about one subject (the last one when there are several). */
export function about(r: PhoneBootReport, subject: Decision['subject']): Decision {
  const d = r.decisions.filter((x) => x.subject === subject).at(-1);
  if (!d) throw new Error(`${r.deviceName} decided nothing about ${subject}:\n${story(r)}`);
  return d;
}

/** A phone's boot in words, for assertion messages. */
export function story(r: PhoneBootReport): string {
  return `${r.deviceName}:\n${r.decisions.map((d) => `  ${d.file}: [${d.verdict}] ${d.text}`).join('\n')}`;
}

/** Every phone's decision about `subject`, grouped by verdict and wording with the serials taken out. */
export function tally(reports: readonly PhoneBootReport[], subject: Decision['subject']): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of reports) {
    const d = r.decisions.filter((x) => x.subject === subject).at(-1);
    const key = d
      ? `${d.verdict}: ${d.text
          .replace(/serial [0-9a-f]+/g, 'serial …')
          .replace(/SEP[0-9A-F]{12}/g, 'SEP…')
          .replace(/\(\d+ bytes\)/, '(… bytes)')}`
      : 'nothing';
    t[key] = (t[key] ?? 0) + 1;
  }
  return t;
}
