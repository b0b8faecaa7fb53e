/** Test helpers: the openssl CLI as the independent peer, and per-test temporary folders. */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbd-pki-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs openssl; throws with its stderr when it fails. */
export function openssl(args: string[], input?: string | Buffer): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs openssl and returns exit status and both outputs (for commands expected to fail). */
export function opensslStatus(args: string[], input?: string | Buffer): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `openssl x509 -noout -text` of a PEM certificate. */
export function x509Text(pem: string): string {
  return openssl(['x509', '-noout', '-text'], pem);
}

/** The lines following an extension heading in `openssl x509 -text`, e.g. 'X509v3 Key Usage'. */
export function extensionText(text: string, heading: string): { critical: boolean; value: string } | undefined {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.trim().startsWith(`${heading}:`));
  if (i < 0) return undefined;
  return { critical: lines[i]!.includes('critical'), value: lines[i + 1]!.trim() };
}

/** `openssl verify` with the given CA file and certificate, both written to `dir`. Returns the output line. */
export function verify(dir: string, caPem: string, certPem: string, extra: string[] = []): { ok: boolean; output: string } {
  const ca = path.join(dir, `ca-${Math.random().toString(36).slice(2)}.pem`);
  const cert = path.join(dir, `cert-${Math.random().toString(36).slice(2)}.pem`);
  fs.writeFileSync(ca, caPem);
  fs.writeFileSync(cert, certPem);
  const r = opensslStatus(['verify', '-x509_strict', ...extra, '-CAfile', ca, cert]);
  return { ok: r.status === 0 && r.stdout.includes(': OK'), output: r.stdout + r.stderr };
}
