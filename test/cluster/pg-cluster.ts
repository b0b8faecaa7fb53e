/**
 * A real cluster for the membership tests (issue 21 items 3, 6, 7): each node a state folder and its own
 * PostgreSQL 15 made by the `sbd cluster` commands themselves (migrate on the publisher, add-node + join on each
 * subscriber), listening on its own loopback alias 127.0.0.x. Commands run in-process through the CLI's `main`
 * (the same parsing and error lines as the binary); sbd-clusterd runs as a real process. Every server is stopped
 * and every folder removed when the test ends. On loopback every connection comes from 127.0.0.1 whatever alias
 * it goes to, so add-node is given `--allow-from 127.0.0.1/32` (the node's own address is the default).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli/main.js';
import { initAppliance } from '../../src/cluster/init.js';
import { systemClock } from '../../src/lib/clock.js';
import { pgLayout, stopServer } from '../../src/store/pg/replication-server.js';

export const CLUSTER_PASSWORD = 'cluster-security-password-for-tests';
export const PG_BIN = '/usr/lib/postgresql/15/bin';

type T = { after: (fn: () => void | Promise<void>) => void };

/** Why the tests cannot run here, or undefined. */
export function pgMissing(): string | undefined {
  if (!existsSync(path.join(PG_BIN, 'initdb'))) return `PostgreSQL 15 binaries are absent (${PG_BIN}): install postgresql-15`;
  return undefined;
}

export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** `sbd ARGS` in this process, with the cluster password in the environment; exit code and what it printed. */
export async function sbd(args: string[], password = CLUSTER_PASSWORD): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const before = process.env.SBD_CLUSTER_PASSWORD;
  process.env.SBD_CLUSTER_PASSWORD = password;
  try {
    const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    if (before === undefined) delete process.env.SBD_CLUSTER_PASSWORD;
    else process.env.SBD_CLUSTER_PASSWORD = before;
  }
}

export async function sbdOk(args: string[]): Promise<string> {
  const r = await sbd(args);
  if (r.code !== 0) throw new Error(`sbd ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return r.out;
}

export interface TestNode {
  name: string;
  ip: string;
  state: string;
  pgDir: string;
  port: number;
}

/** A folder the server's user can reach (0755), removed after its servers stop. */
export function nodeDirs(t: T, name: string): { state: string; pgDir: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), `sbd-cl-${name}-`));
  chmodSync(root, 0o755);
  const pgDir = path.join(root, 'pg');
  t.after(() => {
    try {
      if (existsSync(path.join(pgDir, 'data'))) stopServer(pgLayout(pgDir), 'immediate');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  return { state: path.join(root, 'state'), pgDir };
}

/** sbd init + sbd cluster migrate: the publisher on 127.0.0.1. */
export async function startPublisher(t: T, name = 'pub'): Promise<TestNode> {
  const { state, pgDir } = nodeDirs(t, name);
  initAppliance({ dir: state, hostname: name, nodeName: name, ipv4: '127.0.0.1', clock: systemClock });
  const port = await freePort('127.0.0.1');
  await sbdOk(['cluster', 'migrate', '--state', state, '--pg-dir', pgDir, '--listen', `127.0.0.1:${port}`]);
  return { name, ip: '127.0.0.1', state, pgDir, port };
}

/**
 * add-node on the publisher, then join on a new box listening on `ip`. `firstBoot`: the box ran `sbd init` first
 * (as the image's first boot does) and joins with --set-aside-store.
 */
export async function joinNode(
  t: T,
  pub: TestNode,
  name: string,
  ip: string,
  options: { add?: boolean; firstBoot?: boolean } = {},
): Promise<TestNode> {
  const { state, pgDir } = nodeDirs(t, name);
  if (options.firstBoot) initAppliance({ dir: state, hostname: name, nodeName: name, ipv4: ip, clock: systemClock });
  const port = await freePort(ip);
  if (options.add !== false) {
    await sbdOk(['cluster', 'add-node', name, '--ip', ip, '--allow-from', '127.0.0.1/32', '--pg-port', String(port), '--state', pub.state]);
  }
  await sbdOk([
    'cluster',
    'join',
    '--publisher',
    `${pub.ip}:${pub.port}`,
    '--name',
    name,
    '--state',
    state,
    '--pg-dir',
    pgDir,
    '--listen',
    `${ip}:${port}`,
    ...(options.firstBoot ? ['--set-aside-store'] : []),
  ]);
  return { name, ip, state, pgDir, port };
}

/** The real sbd-clusterd process on the publisher (stopped with SIGTERM at the end). */
export function startClusterd(t: T, pub: TestNode, pollMs = 100): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'daemon', 'clusterd', '--state', pub.state, '--poll-ms', String(pollMs)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.resume();
  child.stderr?.resume();
  t.after(async () => {
    if (child.exitCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await done;
  });
  return child;
}

export async function waitFor<V>(what: string, fn: () => Promise<V | undefined>, seconds = 30): Promise<V> {
  for (let i = 0; i < seconds * 10; i++) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${seconds} s`);
}
