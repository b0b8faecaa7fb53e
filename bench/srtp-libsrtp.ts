/**
 * bench/srtp helpers: builds the libsrtp2 comparison peers.
 *  - Debian's libsrtp2 as shipped (NSS backend), from libsrtp2-dev.
 *  - libsrtp2 built with --enable-openssl from Debian's own source package (`apt-get source libsrtp2`), in a
 *    scratch folder outside the repository (SBD_BENCH_SCRATCH, default /var/tmp/sbd-bench), never committed.
 *    `apt-get source` needs a deb-src entry for the running suite: when none exists, one is added under
 *    /etc/apt/sources.list.d/ by copying the system's own Debian entries with Types: deb-src.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCRATCH = process.env.SBD_BENCH_SCRATCH ?? '/var/tmp/sbd-bench';
const PEER_SRC = fileURLToPath(new URL('./srtp-peer.c', import.meta.url));
const DEB_SRC_FILE = '/etc/apt/sources.list.d/sbd-bench-deb-src.sources';

function sh(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

function hasDebSrc(): boolean {
  const dir = '/etc/apt/sources.list.d';
  const texts = [
    existsSync('/etc/apt/sources.list') ? readFileSync('/etc/apt/sources.list', 'utf8') : '',
    ...readdirSync(dir)
      .filter((f) => /\.(list|sources)$/.test(f))
      .map((f) => readFileSync(join(dir, f), 'utf8')),
  ];
  return texts.some((t) => /^\s*deb-src\s/m.test(t) || /^Types:.*\bdeb-src\b/m.test(t));
}

/** Adds deb-src twins of the system's deb822 Debian entries (same URIs, suites, components, keys). */
export function ensureDebSrc(): void {
  if (hasDebSrc()) return;
  const dir = '/etc/apt/sources.list.d';
  const stanzas: string[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.sources') && !n.startsWith('sbd-'))) {
    for (const stanza of readFileSync(join(dir, f), 'utf8').split(/\n\s*\n/)) {
      if (/^Types:.*\bdeb\b/m.test(stanza) && /debian-archive-keyring/.test(stanza)) {
        stanzas.push(stanza.replace(/^Types:.*$/m, 'Types: deb-src').trim());
      }
    }
  }
  if (stanzas.length === 0) throw new Error('no deb822 Debian entry to derive a deb-src entry from');
  writeFileSync(DEB_SRC_FILE, '# added by sbd bench/srtp for `apt-get source libsrtp2`\n' + stanzas.join('\n\n') + '\n');
  sh('apt-get', ['update', '-qq']);
}

/** Debian's libsrtp2 (NSS): the bench peer linked against it. */
export function buildNssPeer(): string {
  const out = join(SCRATCH, 'srtp-peer-nss');
  mkdirSync(SCRATCH, { recursive: true });
  sh('cc', ['-O2', '-I/usr/include/srtp2', '-o', out, PEER_SRC, '-lsrtp2']);
  return out;
}

/** libsrtp2 from Debian's source package configured --enable-openssl, and the bench peer linked against it. */
export function buildOpensslPeer(log: (s: string) => void): string {
  const root = join(SCRATCH, 'libsrtp2-openssl');
  const out = join(SCRATCH, 'srtp-peer-openssl');
  mkdirSync(root, { recursive: true });
  let src = readdirSync(root).find((d) => /^libsrtp2-\d/.test(d));
  if (!src) {
    log('fetching Debian source package libsrtp2 (apt-get source)');
    ensureDebSrc();
    sh('apt-get', ['source', '-qq', 'libsrtp2'], root);
    src = readdirSync(root).find((d) => /^libsrtp2-\d/.test(d));
    if (!src) throw new Error('apt-get source libsrtp2 produced no source tree');
  }
  const dir = join(root, src);
  if (!existsSync(join(dir, 'libsrtp2.a'))) {
    log(`building ${src} with --enable-openssl`);
    sh('./configure', ['--enable-openssl', '--disable-pcap'], dir);
    sh('make', ['-j2', 'libsrtp2.a'], dir);
  }
  sh('cc', [
    '-O2',
    `-I${join(dir, 'include')}`,
    `-I${join(dir, 'crypto', 'include')}`,
    '-o',
    out,
    PEER_SRC,
    join(dir, 'libsrtp2.a'),
    '-lcrypto',
  ]);
  return out;
}

/** One measurement by a peer process: packets per CPU-second for protect and unprotect. */
export function runPeer(peer: string, suite: string, size: number, count: number): { protect: number; unprotect: number } {
  const [p, u] = sh(peer, [suite, String(size), String(count)])
    .trim()
    .split(/\s+/)
    .map(Number);
  return { protect: p!, unprotect: u! };
}
