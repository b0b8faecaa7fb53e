/**
 * A cluster of nodes in one SQLite store (the store of record every node reads, as a subscriber will read its
 * replica; issue 21 items 4 and 5): `sbd init` makes the publisher, each subscriber is a node row with its own
 * CallManager, TVS, CAPF and tomcat identities issued into the same state folder. Each node's daemons run as real
 * processes (`sbd daemon tftp|tvs|sip --node NAME`) on its own loopback address (127.0.0.x) and a kernel-chosen
 * port; configs name the standard ports, so `redirect` maps them to where the daemons listen.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { systemClock } from '../../src/lib/clock.js';
import { main } from '../../src/cli/main.js';
import { ensureIdentities } from '../../src/cluster/init.js';
import { withState } from '../../src/store/state.js';
import type { EndpointRedirect, ServiceEndpoint } from '../../src/sim/phone-config.js';

export const repo = join(import.meta.dirname, '../..');

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `sbd ARGS` in this process; throws when it fails. */
export async function sbd(...args: string[]): Promise<string> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  if (code !== 0) throw new Error(`sbd ${args.join(' ')} exited ${code}: ${err.join('\n')}`);
  return out.join('\n');
}

/** `sbd ARGS` in this process: its exit code and everything it printed. */
export async function sbdExit(...args: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(args, { out: (t) => lines.push(t), err: (t) => lines.push(t) });
  return { code, text: lines.join('\n') };
}

/** `sbd device add` of an 8845 with line DN, digest user `uDN` and password `pw-DN-secret`. */
export async function addPhone(dir: string, name: string, dn: string): Promise<void> {
  await sbd(
    'device',
    'add',
    name,
    '--model',
    '8845',
    '--dn',
    dn,
    '--digest-user',
    `u${dn}`,
    '--digest-password',
    `pw-${dn}-secret`,
    '--state',
    dir,
  );
}

export interface NodeSpec {
  name: string;
  ipv4: string;
}

/** Subscribers run TFTP, TVS and SIP (call control); CAPF stays on the publisher, as in CUCM. */
export const SUBSCRIBER_SERVICES = ['tftp', 'tvs', 'sip', 'callmanager'];

/** A state folder whose store holds the publisher (`nodes[0]`, made by `sbd init`) and the subscribers. */
export async function clusterState(nodes: readonly NodeSpec[]): Promise<string> {
  const dir = tempDir('sbd-nodes-');
  const [pub, ...subs] = nodes;
  // The node name is the host name's first label.
  await sbd('init', '--state', dir, '--hostname', `${pub!.name}.example`, '--ip', pub!.ipv4);
  withState(dir, (s) => {
    for (const n of subs) {
      const row = s.store.addNode({ name: n.name, hostname: `${n.name}.example`, ipv4: n.ipv4, services: SUBSCRIBER_SERVICES });
      ensureIdentities(s, row, systemClock);
    }
  });
  return dir;
}

export interface Daemon {
  child: ChildProcess;
  /** The first `listening` event the daemon printed (TFTP and TVS: `port`; SIP: `tcp`, `tls`). */
  listening: Record<string, unknown>;
  stop(): Promise<void>;
}

/**
 * `sbd daemon ...` as a process (`env` added to this process's: a subscriber's PGPASSWORD); resolves once it prints
 * the `listening` event `ready` accepts. Stopped after the test.
 */
export function startDaemon(
  args: string[],
  ready: (ev: Record<string, unknown>) => boolean = () => true,
  env: Record<string, string> = {},
): Promise<Daemon> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'daemon', ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  after(stop);
  return new Promise((resolve, reject) => {
    let buf = '';
    let found = false;
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (found || !line.includes('"listening"')) continue;
        const ev = JSON.parse(line) as Record<string, unknown>;
        if (ev.event !== 'listening' || !ready(ev)) continue;
        found = true;
        resolve({ child, listening: ev, stop });
      }
    });
    void exited.then(() => {
      if (!found) reject(new Error(`sbd daemon ${args.join(' ')} exited: ${stderr}`));
    });
  });
}

/** Configured endpoint (`host:port` as a config names it) → where the daemon really listens. */
export class Redirects {
  readonly map = new Map<string, ServiceEndpoint>();
  set(host: string, configuredPort: number, port: number): void {
    this.map.set(`${host}:${configuredPort}`, { host, port });
  }
  readonly redirect: EndpointRedirect = (_service, ep) => this.map.get(`${ep.host}:${ep.port}`) ?? ep;
}

export interface NodeDaemons {
  tftp: Daemon;
  tvs?: Daemon;
  sip?: Daemon;
  tftpPort: number;
}

/** One node's TFTP (and optionally TVS and SIP over TCP) on its own address; TVS and SIP entered in `redirects`. */
export async function startNode(
  dir: string,
  node: NodeSpec,
  redirects: Redirects,
  o: { tvs?: boolean; sip?: boolean } = {},
): Promise<NodeDaemons> {
  const common = ['--state', dir, '--node', node.name, '--bind', node.ipv4];
  const [tftp, tvs, sip] = await Promise.all([
    startDaemon(['tftp', ...common, '--port', '0'], (ev) => Array.isArray(ev.addresses)),
    o.tvs ? startDaemon(['tvs', ...common, '--port', '0'], (ev) => typeof ev.port === 'number') : undefined,
    o.sip ? startDaemon(['sip', ...common, '--port', '0', '--no-tls'], (ev) => typeof ev.tcp === 'number') : undefined,
  ]);
  if (tvs) redirects.set(node.ipv4, 2445, tvs.listening.port as number);
  if (sip) redirects.set(node.ipv4, 5060, sip.listening.tcp as number);
  const tftpPort = (tftp.listening.addresses as Array<{ port: number }>)[0]!.port;
  return { tftp, ...(tvs ? { tvs } : {}), ...(sip ? { sip } : {}), tftpPort };
}
