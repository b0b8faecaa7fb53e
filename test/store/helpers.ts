import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openStore, type OpenStoreOptions, type Store } from '../../src/store/index.js';

// One root-level hook for the whole file: hooks registered inside before() would run when that hook ends.
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

/** A fresh folder removed when the test file ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-store-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a store and closes it when the test file ends. */
export function open(path: string, options?: OpenStoreOptions): Store {
  const s = openStore(path, options);
  cleanups.push(() => s.close());
  return s;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function listing(dir: string): string[] {
  return readdirSync(dir).sort();
}

let serial = 0;
/**
 * A self-signed certificate made by the openssl CLI (the independent peer for X.509 parsing). EC P-256 keeps
 * it fast; `rsa: true` gives the RSA-2048 kind the appliance uses.
 */
export function makeCert(dir: string, cn: string, options: { rsa?: boolean; days?: number } = {}): string {
  const n = ++serial;
  const key = join(dir, `k${n}.pem`);
  const crt = join(dir, `c${n}.pem`);
  const keyArgs = options.rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...keyArgs,
      '-nodes',
      '-subj',
      `/O=sbd test/CN=${cn}`,
      '-days',
      String(options.days ?? 30),
      '-keyout',
      key,
      '-out',
      crt,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return readFileSync(crt, 'utf8');
}

/** What `openssl x509` says about a PEM, for cross-checking the fields the store extracts. */
export function opensslX509(pem: string, ...args: string[]): string {
  return execFileSync('openssl', ['x509', '-noout', ...args], { input: pem })
    .toString()
    .trim();
}

/** Runs the sqlite3 CLI (Debian's own libsqlite3, not the one better-sqlite3 bundles). */
export function sqlite3(path: string, sql: string): string {
  return execFileSync('sqlite3', [path, sql]).toString().trim();
}
