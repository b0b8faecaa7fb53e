/**
 * bench/cluster's pieces: the phones put into a store (device, line, digest user with a delivered password, a
 * call-manager group), a daemon as its own process with its ports and pid, the CPU of a process tree from
 * /proc/<pid>/stat, and the load-generator processes (./phones.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setDeviceCmGroup } from '../../src/cluster/cm-groups.js';
import { addPhone } from '../../src/cluster/devices.js';
import { unusableLogin } from '../../src/credentials/index.js';
import type { Store } from '../../src/store/index.js';
import { treeCpu } from '../sip-kamailio.js';
import type { PhonesJob, PhonesResult } from './phones.js';

export const repo = join(import.meta.dirname, '../..');

export const macOf = (base: number, i: number) => (base + i).toString(16).toUpperCase().padStart(12, '0');

/** Phones `first`..`first+count-1`: an 8845 with DN 100000+i, digest user u<DN> and a delivered password, in `group`. */
export async function addPhones(
  store: Store,
  keysDir: string,
  macBase: number,
  first: number,
  count: number,
  group?: string,
): Promise<void> {
  const login = await unusableLogin();
  store.transaction(() => {
    for (let i = first; i < first + count; i++) {
      const dn = String(100000 + i);
      const name = `SEP${macOf(macBase, i)}`;
      addPhone(store, keysDir, { name, model: '8845', directoryNumber: dn, digestUser: `u${dn}`, digestPassword: `pw-${dn}-bench` }, login);
      if (group) setDeviceCmGroup(store, name, group);
    }
  });
}

export interface Daemon {
  name: string;
  pid: number;
  listening: Record<string, unknown>;
  stop(): Promise<void>;
}

/** `sbd daemon ARGS` as a process; resolves on its `listening` line (`ready` picks which). */
export function startDaemon(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  ready: (ev: Record<string, unknown>) => boolean = () => true,
): Promise<Daemon> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'daemon', ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let buf = '';
    let found = false;
    child.stdout!.on('data', (d: Buffer) => {
      if (found) return;
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.includes('"listening"')) continue;
        const ev = JSON.parse(line) as Record<string, unknown>;
        if (ev.event !== 'listening' || !ready(ev)) continue;
        found = true;
        resolve({ name, pid: child.pid!, listening: ev, stop });
      }
    });
    void exited.then(() => {
      if (!found) reject(new Error(`sbd daemon ${args.join(' ')} exited: ${stderr}`));
    });
  });
}

/** The postmaster's pid of a PostgreSQL data folder (its backends are its children: treeCpu counts them). */
export function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** CPU seconds per labelled process tree. */
export function cpuOfAll(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, treeCpu(pid)]));
}

/** The jobs, each in its own generator process at once; their results (each with its process's own CPU). */
export function runGenerators(jobs: PhonesJob[]): Promise<PhonesResult[]> {
  return Promise.all(
    jobs.map(
      (job) =>
        new Promise<PhonesResult>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', 'bench/cluster/phones.ts', JSON.stringify(job)], {
            cwd: repo,
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
          child.once('exit', (code) => {
            const line = out.trim().split('\n').pop();
            if (code !== 0 || !line) return reject(new Error(`phones generator exited ${code}: ${err}`));
            resolve(JSON.parse(line) as PhonesResult);
          });
        }),
    ),
  );
}
