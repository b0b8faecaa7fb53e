/**
 * A real PostgreSQL 15 for the store/pg tests: initdb into a temporary folder, a server on 127.0.0.1 (a free port,
 * its Unix socket in that folder, password auth), stopped and removed when the test ends. As root the server runs
 * as the `postgres` user (it refuses root). `startStandby` makes a hot standby of it with pg_basebackup -R
 * (streaming replication over loopback). Tests skip only when the binaries are absent (postgresql-15,
 * deps/apt/cluster.txt).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const USER = 'sbd';
/** The test servers' password (a daemon under test gets it as PGPASSWORD). */
export const PASSWORD = 'sbd-test-password';

/** Why the tests cannot run here, or undefined when they can. */
export function pgMissing(): string | undefined {
  if (!existsSync(path.join(PG_BIN, 'initdb'))) return `PostgreSQL 15 binaries are absent (${PG_BIN}/initdb): install postgresql-15`;
  if (process.getuid?.() === 0 && uidOf('postgres') === undefined) return 'running as root and there is no postgres user to run the server';
  return undefined;
}

function uidOf(user: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }));
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** Runs a PostgreSQL binary, as `postgres` when we are root. */
function run(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const cmd = path.join(PG_BIN, bin);
  const asRoot = process.getuid?.() === 0;
  // runuser starts a clean environment: env(1) hands over the variables the command needs (PGPASSWORD).
  const full = asRoot
    ? ['runuser', '-u', 'postgres', '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args]
    : [cmd, ...args];
  return execFileSync(full[0]!, full.slice(1), { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A folder the server's user owns (mode 0700, as PostgreSQL requires of its data folder). */
function serverDir(t: { after: (fn: () => Promise<void>) => void }, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  // The server living in it (serve()) stops before the folder goes.
  t.after(async () => {
    await stopFirst.get(dir)?.();
    rmSync(dir, { recursive: true, force: true });
  });
  const owner = process.getuid?.() === 0 ? uidOf('postgres') : undefined;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  return dir;
}

const stopFirst = new Map<string, () => Promise<void>>();

export interface PgServer {
  port: number;
  dir: string;
  /** A client (closed when the test ends). */
  connect(): Sql;
  /** The URL a daemon is given (no password: that goes in PGPASSWORD). */
  url: string;
  stop(): void;
}

function serve(dir: string, port: number): PgServer {
  const data = path.join(dir, 'data');
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off -c shared_buffers=16MB`;
  run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-o', opts, '-w', '-t', '60', 'start']);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  };
  const clients: Sql[] = [];
  stopFirst.set(dir, async () => {
    await Promise.all(clients.map((c) => c.end({ timeout: 1 })));
    stop();
  });
  const connect = () => {
    const sql = postgres({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres', max: 2, onnotice: () => {} });
    clients.push(sql);
    return sql;
  };
  return { port, dir, connect, stop, url: `postgres://${USER}@127.0.0.1:${port}/postgres` };
}

/** A primary: initdb (C locale, UTF-8, scram-sha-256 over TCP) and start. */
export async function startPostgres(t: { after: (fn: () => void | Promise<void>) => void }): Promise<PgServer> {
  const dir = serverDir(t, 'sbd-pg-');
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o644 });
  run('initdb', [
    '-D',
    path.join(dir, 'data'),
    '-U',
    USER,
    '--pwfile',
    pwfile,
    '--auth-host=scram-sha-256',
    '--auth-local=peer',
    '--locale=C',
    '-E',
    'UTF8',
  ]);
  rmSync(pwfile);
  return serve(dir, await freePort());
}

/** A hot standby of `primary`: a base backup with -R (standby.signal, primary_conninfo), then start. */
export async function startStandby(t: { after: (fn: () => void | Promise<void>) => void }, primary: PgServer): Promise<PgServer> {
  const dir = serverDir(t, 'sbd-pg-standby-');
  const data = path.join(dir, 'data');
  run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', USER, '-D', data, '-R', '-X', 'stream', '-c', 'fast'], {
    PGPASSWORD: PASSWORD,
  });
  return serve(dir, await freePort());
}
