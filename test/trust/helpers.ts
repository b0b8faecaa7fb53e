/** Shared fixtures for trust tests: fixed keys and certificates from test/fixtures/trust (made with openssl). */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { Signer } from '../../src/trust/build.js';
import { signerIdentityOf } from '../../src/trust/record.js';
import type { ServerCert } from '../../src/trust/lists.js';

const dir = new URL('../fixtures/trust/', import.meta.url);
export const fixturePath = (name: string) => new URL(name, dir).pathname;
export const certDer = (name: string) => new X509Certificate(readFileSync(new URL(`${name}.pem`, dir))).raw;
export const keyPem = (name: string) => readFileSync(new URL(`${name}.key`, dir), 'utf8');

export function signer(name: string): Signer {
  return { ...signerIdentityOf(certDer(name)), privateKey: createPrivateKey(keyPem(name)) };
}

export function server(name: string, hostname: string, ipv4: string): ServerCert {
  return { der: certDer(name), hostname, ipv4 };
}

/** Fixed clock for golden bytes: 2026-11-25T00:00:00Z. */
export const fixedTimestamp = Date.UTC(2026, 10, 25) / 1000;

/** Runs the independent checker shipped in ../shared/tools; returns its exit code and output. */
export function tlvCheck(path: string, signerPem?: string): { status: number; out: string } {
  const tool = new URL('../../../shared/tools/tlv-check.py', import.meta.url).pathname;
  const r = spawnSync('python3', [tool, path, ...(signerPem ? ['--signer', signerPem] : [])], { encoding: 'utf8' });
  return { status: r.status ?? -1, out: r.stdout + r.stderr };
}
