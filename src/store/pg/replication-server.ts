/**
 * A node's own PostgreSQL 15 server, as the cluster commands set it up (issue 21 items 1, 3, 6, 7): one folder
 * holding `data/` (initdb, or a base backup for a standby), `tls/` (this node's server certificate and key, and
 * `nodes.crt`: the node certificates it accepts from a primary, verify-ca), `run/` (the socket) and `log`. TLS files
 * stay outside `data/`: pg_basebackup copies it, and a private key never leaves its node. The server runs as the
 * `postgres` user (it refuses root): as root every tool runs through runuser and every file is given to that user.
 * Our settings are one marked block in postgresql.conf (a standby rewrites it for itself); pg_hba.conf is written
 * whole: the superuser from loopback only, each member's replication role only over TLS from its allowed source.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PG_ADMIN_USER } from './cluster-node.js';

export const PG_SERVER_DEFAULTS = {
  /** Debian 12's postgresql-15 (deps/apt/cluster.txt). */
  binDir: '/usr/lib/postgresql/15/bin',
  /** The system user that runs the server when we are root. */
  osUser: 'postgres',
  /** Seconds pg_ctl waits for a start or stop. */
  startTimeoutSeconds: 60,
  /** WAL senders: one per subscriber plus a base backup in progress; CUCM caps a cluster at 20 nodes. */
  maxWalSenders: 24,
} as const;

export interface PgLayout {
  dir: string;
  data: string;
  tlsDir: string;
  cert: string;
  key: string;
  /** The node certificates this node accepts when it connects to a primary (verify-ca). */
  roots: string;
  socketDir: string;
  log: string;
}

export function pgLayout(dir: string): PgLayout {
  const tlsDir = join(dir, 'tls');
  return {
    dir,
    data: join(dir, 'data'),
    tlsDir,
    cert: join(tlsDir, 'server.crt'),
    key: join(tlsDir, 'server.key'),
    roots: join(tlsDir, 'nodes.crt'),
    socketDir: join(dir, 'run'),
    log: join(dir, 'log'),
  };
}

function osOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', PG_SERVER_DEFAULTS.osUser], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', PG_SERVER_DEFAULTS.osUser], { encoding: 'utf8' }));
  return { uid, gid };
}

/** Runs a PostgreSQL tool, as the server's user when we are root; `env` is handed over explicitly (PGPASSWORD). */
export function runPgTool(bin: string, args: string[], env: Record<string, string> = {}): string {
  const cmd = join(PG_SERVER_DEFAULTS.binDir, bin);
  const full =
    process.getuid?.() === 0
      ? ['runuser', '-u', PG_SERVER_DEFAULTS.osUser, '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args]
      : [cmd, ...args];
  return execFileSync(full[0]!, full.slice(1), {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: '/',
  });
}

/** Writes a file the server will read, owned by its user. */
function writeOwned(path: string, text: string, mode: number): void {
  writeFileSync(path, text, { mode });
  const o = osOwner();
  if (o) chownSync(path, o.uid, o.gid);
}

/**
 * The node's folder and its sub-folders, owned by the server's user. The folder and `tls/` are 0755: a subscriber's
 * daemons (their own users) read `tls/nodes.crt` to verify the primary; the key in it is 0600, `data/` 0700 (initdb,
 * pg_basebackup) and the socket folder 0700.
 */
export function preparePgDir(layout: PgLayout): void {
  const o = osOwner();
  for (const [d, mode] of [
    [layout.dir, 0o755],
    [layout.tlsDir, 0o755],
    [layout.socketDir, 0o700],
  ] as const) {
    mkdirSync(d, { recursive: true, mode });
    chmodSync(d, mode);
    if (o) chownSync(d, o.uid, o.gid);
  }
}

/** initdb for a new primary: C locale, UTF-8, the superuser `sbd` with the given password. */
export function initPrimary(layout: PgLayout, adminPassword: string): void {
  preparePgDir(layout);
  const pwfile = join(layout.dir, 'initdb-pw');
  writeOwned(pwfile, `${adminPassword}\n`, 0o600);
  try {
    runPgTool('initdb', ['-D', layout.data, '-U', PG_ADMIN_USER, '--pwfile', pwfile, '--auth=scram-sha-256', '--locale=C', '-E', 'UTF8']);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

export function writeTls(layout: PgLayout, tls: { certPem: string; keyPem: string; rootsPem: string }): void {
  preparePgDir(layout);
  writeOwned(layout.cert, tls.certPem, 0o644);
  writeOwned(layout.key, tls.keyPem, 0o600);
  writeOwned(layout.roots, tls.rootsPem, 0o644);
}

export function writeRoots(layout: PgLayout, rootsPem: string): void {
  writeOwned(layout.roots, rootsPem, 0o644);
}

const BEGIN = '# sbd cluster settings: begin (written by sbd, rewritten on every node)';
const END = '# sbd cluster settings: end';

/** Our block of postgresql.conf: where this node listens, TLS, and what replication needs (hot standby). */
export function writeServerConf(layout: PgLayout, listen: { host: string; port: number }): void {
  const path = join(layout.data, 'postgresql.conf');
  const old = readFileSync(path, 'utf8');
  const start = old.indexOf(BEGIN);
  const kept = start < 0 ? old : old.slice(0, start) + old.slice(old.indexOf(END) + END.length + 1);
  const block = [
    BEGIN,
    // Loopback too: the node's own tools connect there (pg_hba.conf admits the superuser from loopback only).
    `listen_addresses = '${[...new Set([listen.host, '127.0.0.1'])].join(',')}'`,
    `port = ${listen.port}`,
    `unix_socket_directories = '${layout.socketDir}'`,
    'ssl = on',
    `ssl_cert_file = '${layout.cert}'`,
    `ssl_key_file = '${layout.key}'`,
    "ssl_min_protocol_version = 'TLSv1.2'",
    'password_encryption = scram-sha-256',
    'wal_level = replica',
    `max_wal_senders = ${PG_SERVER_DEFAULTS.maxWalSenders}`,
    `max_replication_slots = ${PG_SERVER_DEFAULTS.maxWalSenders}`,
    'hot_standby = on',
    'hot_standby_feedback = on',
    "recovery_target_timeline = 'latest'",
    // The image ships no JIT provider (llvmjit.so and libllvm14: image/settings.conf); the queries are small.
    'jit = off',
    END,
    '',
  ].join('\n');
  writeOwned(path, `${kept.trimEnd()}\n${block}`, 0o600);
}

export interface HbaMember {
  role: string;
  /** Where the member connects from (CIDR). */
  allowFrom: string;
}

/**
 * pg_hba.conf, whole (first match wins): the superuser over the socket and from loopback (this node's own tools);
 * each member's replication role over TLS only, for replication and for the `postgres` database (submissions, status).
 */
export function writeHba(layout: PgLayout, members: HbaMember[]): void {
  const lines = [
    '# Written by sbd (sbd cluster add-node / remove-node / promote); edits are lost.',
    `local all ${PG_ADMIN_USER} scram-sha-256`,
    `host all ${PG_ADMIN_USER} 127.0.0.1/32 scram-sha-256`,
    `host all ${PG_ADMIN_USER} ::1/128 scram-sha-256`,
    // The node's own daemons (sbd_reader: SELECT only; replication-members.ts).
    'host postgres sbd_reader 127.0.0.1/32 scram-sha-256',
    'host postgres sbd_reader ::1/128 scram-sha-256',
    ...members.flatMap((m) => [
      `hostssl replication ${m.role} ${m.allowFrom} scram-sha-256`,
      `hostssl postgres ${m.role} ${m.allowFrom} scram-sha-256`,
    ]),
    '',
  ];
  writeOwned(join(layout.data, 'pg_hba.conf'), lines.join('\n'), 0o600);
}

export function isRunning(layout: PgLayout): boolean {
  if (!existsSync(join(layout.data, 'postmaster.pid'))) return false;
  try {
    runPgTool('pg_ctl', ['-D', layout.data, 'status']);
    return true;
  } catch {
    return false;
  }
}

export function startServer(layout: PgLayout): void {
  if (isRunning(layout)) return;
  runPgTool('pg_ctl', ['-D', layout.data, '-l', layout.log, '-w', '-t', String(PG_SERVER_DEFAULTS.startTimeoutSeconds), 'start']);
}

/** `fast` ends sessions cleanly; `immediate` is a crash (the tests' "publisher gone"). */
export function stopServer(layout: PgLayout, mode: 'fast' | 'immediate' = 'fast'): void {
  if (!isRunning(layout)) return;
  runPgTool('pg_ctl', ['-D', layout.data, '-m', mode, '-w', '-t', String(PG_SERVER_DEFAULTS.startTimeoutSeconds), 'stop']);
}

/** libpq connection options to a primary over verified TLS (the certificates in `roots`), SCRAM bound to the channel. */
export function primaryConnInfo(layout: PgLayout, to: { host: string; port: number; user: string }): string {
  return `host=${to.host} port=${to.port} user=${to.user} sslmode=verify-ca sslrootcert=${layout.roots} channel_binding=require`;
}

/**
 * A standby's data folder from the primary: pg_basebackup -R (standby.signal + primary_conninfo) with the WAL
 * streamed alongside, creating this node's physical replication slot so the primary keeps WAL it has not received.
 */
export function baseBackup(layout: PgLayout, to: { host: string; port: number; user: string; password: string; slot: string }): void {
  preparePgDir(layout);
  runPgTool(
    'pg_basebackup',
    ['-d', primaryConnInfo(layout, to), '-D', layout.data, '-R', '-X', 'stream', '-c', 'fast', '-C', '-S', to.slot],
    { PGPASSWORD: to.password },
  );
}
