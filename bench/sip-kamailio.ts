/**
 * Kamailio 5.6 (Debian) as the SIP peer of the benches (bench/sip, bench/tls-storm): the same registrar set-up in
 * both — REGISTER with MD5 qop=auth challenges, HA1 looked up in a db_text `subscriber` table, bindings in memory
 * (usrloc db_mode 0), UDP/TCP on one port and TLS (tls.so) on another with the certificate, key and TLS 1.2 suites
 * the bench gives — plus the process helpers both need (free ports, CPU of a process tree from /proc).
 * tls.so is loaded first, as Kamailio's tls documentation asks: with it last, 5.6.3 on OpenSSL 3 with two TCP
 * workers corrupted its shared memory within 300 new TLS connections (qm_debug_check_frag, a worker aborted).
 * Loaded first it still crashed after ~3,000 (a double free in tls_init.c): OpenSSL 3's per-thread state, made in
 * the main process before the fork, is shared by every worker. bench/kamailio-fork-locals.c (LD_PRELOAD) clears
 * it in each child after fork, as Kamailio 5.8's `tls_threads_mode = 2` does; 5.6.3 has no such setting.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * bench/kamailio-fork-locals.c built once into `dir` (cc, as bench/srtp builds its peer); the path to preload.
 * Without a C compiler Kamailio runs as shipped (children=1 is unaffected; two TLS workers may crash).
 */
function forkLocalsShim(dir: string): string | undefined {
  const out = join(dir, 'kamailio-fork-locals.so');
  if (existsSync(out)) return out;
  const src = join(import.meta.dirname, 'kamailio-fork-locals.c');
  const cc = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-o', out, src, '-lpthread'], { encoding: 'utf8' });
  if (cc.status === 0) return out;
  console.error(`bench: kamailio-fork-locals.c did not build (${cc.stderr.trim() || cc.error?.message}); Kamailio runs without it`);
  return undefined;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a ? a.port : 0;
}

export async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const busy = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (busy) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** CPU seconds (user + system, all threads) of a process, reaped children included. */
export function cpuOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of a process and its live children (Kamailio's workers are forked from its main process). */
export function treeCpu(pid: number): number {
  const kids = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
  return cpuOf(pid) + kids.reduce((sum, k) => sum + treeCpu(k), 0);
}

/** Kamailio's db_text tables for auth_db: one subscriber row per user (HA1 MD5 only), and the version table. */
export function writeKamailioDb(dbDir: string, users: Array<{ user: string; realm: string; ha1Md5: string }>): void {
  mkdirSync(dbDir, { recursive: true });
  const rows = ['id(int,auto) username(string) domain(string) password(string,null) ha1(string) ha1b(string,null)'];
  users.forEach((u, i) => rows.push(`${i + 1}:${u.user}:${u.realm}::${u.ha1Md5}:`));
  writeFileSync(join(dbDir, 'subscriber'), rows.join('\n') + '\n');
  writeFileSync(join(dbDir, 'version'), 'table_name(string) table_version(int)\nsubscriber:7\nlocation:9\n');
}

export interface KamailioOptions {
  /** Folder for kamailio.cfg, tls.cfg and the pid file. */
  dir: string;
  dbDir: string;
  realm: string;
  certPath: string;
  keyPath: string;
  /** TLS 1.2 suites (OpenSSL names). */
  cipherList: string;
  /** SIP worker processes (`children`) and TCP/TLS workers (`tcp_children`). Default 1 and 1. */
  children?: number;
  tcpChildren?: number;
  /** TCP/TLS connections at once (tcp_max_connections, tls_max_connections); default Kamailio's (2048). */
  maxConnections?: number;
  /** Shared memory, MiB (-m); default 512. OpenSSL's per-connection state lives there. */
  shmMb?: number;
  /** Raise the fd limit to the hard limit before exec (many connections). Default false. */
  raiseFdLimit?: boolean;
}

export interface KamailioServer {
  udp: number;
  tcp: number;
  tls: number;
  pid: number;
  process: ChildProcess;
}

/** Ports are picked free and then bound by Kamailio: another process may take one in between, so retry. */
export async function startKamailio(o: KamailioOptions): Promise<KamailioServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKamailioOnce(o);
    } catch (err) {
      if (attempt >= 3) throw err;
      console.error(`kamailio did not start (${(err as Error).message.split('\n')[0]}), retrying with other ports`);
    }
  }
}

async function startKamailioOnce(o: KamailioOptions): Promise<KamailioServer> {
  const [port, tls] = [await freePort(), await freePort()];
  const dir = o.dir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'tls.cfg'),
    `[server:default]\nmethod = TLSv1.2+\ncertificate = ${o.certPath}\nprivate_key = ${o.keyPath}\n` +
      `verify_certificate = no\nrequire_certificate = no\ncipher_list = ${o.cipherList}\n`,
  );
  const mpath = spawnSync('sh', ['-c', 'ls -d /usr/lib/*/kamailio/modules | head -1'], { encoding: 'utf8' }).stdout.trim();
  const max = o.maxConnections ? `tcp_max_connections=${o.maxConnections}\ntls_max_connections=${o.maxConnections}\n` : '';
  writeFileSync(
    join(dir, 'kamailio.cfg'),
    `#!KAMAILIO
debug=0
log_stderror=yes
memdbg=5
memlog=5
children=${o.children ?? 1}
tcp_children=${o.tcpChildren ?? 1}
${max}auto_aliases=no
listen=udp:127.0.0.1:${port}
listen=tcp:127.0.0.1:${port}
listen=tls:127.0.0.1:${tls}
enable_tls=yes
mpath="${mpath}/"
loadmodule "tls.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "db_text.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("usrloc", "db_mode", 0)
modparam("auth_db", "db_url", "text://${o.dbDir}")
modparam("auth_db", "calculate_ha1", 0)
modparam("auth_db", "password_column", "ha1")
modparam("auth_db", "load_credentials", "")
modparam("tls", "config", "${dir}/tls.cfg")
request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (is_method("REGISTER")) {
    if (!auth_check("${o.realm}", "subscriber", "1")) { auth_challenge("${o.realm}", "1"); exit; }
    consume_credentials();
    if (!save("location")) sl_reply_error();
    exit;
  }
  sl_send_reply("404", "Not Found");
}
`,
  );
  const args = [
    '-f',
    join(dir, 'kamailio.cfg'),
    '-DD',
    '-E',
    '-m',
    String(o.shmMb ?? 512),
    '-M',
    '64',
    '-P',
    join(dir, 'k.pid'),
    '-Y',
    dir,
  ];
  const shim = forkLocalsShim(dir);
  const env = shim ? { ...process.env, LD_PRELOAD: shim } : process.env;
  const p = o.raiseFdLimit
    ? spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"', 'kamailio', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env })
    : spawn('kamailio', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  p.stderr!.on('data', (d) => {
    err = (err + d).slice(-4000);
  });
  const exited = new Promise<never>((_, reject) => p.once('exit', (code) => reject(new Error(`kamailio exited ${code}: ${err}`))));
  exited.catch(() => {});
  await Promise.race([waitPort(port).then(() => new Promise((r) => setTimeout(r, 500))), exited]);
  if (p.exitCode !== null) await exited;
  p.once('exit', (code) => {
    if (code) console.error(`kamailio exited ${code}: ${err}`);
  });
  return { udp: port, tcp: port, tls, pid: p.pid!, process: p };
}
