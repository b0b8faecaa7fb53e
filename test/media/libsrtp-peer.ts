/** Builds and drives the libsrtp2 interop peer (test/media/peers/libsrtp-peer.c) — one process per exchange. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PEER_OPS = { protectRtp: 0, unprotectRtp: 1, protectRtcp: 2, unprotectRtcp: 3 } as const;

let built: string | undefined;

/** Compiles the peer against Debian's libsrtp2 (pkg-config) into a fresh temp folder; returns its path. */
export function buildLibsrtpPeer(): string {
  if (built) return built;
  const src = fileURLToPath(new URL('./peers/libsrtp-peer.c', import.meta.url));
  const out = join(mkdtempSync(join(tmpdir(), 'sbd-libsrtp-')), 'libsrtp-peer');
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'libsrtp2'], { encoding: 'utf8' }).trim().split(/\s+/);
  execFileSync('cc', ['-O2', '-Wall', '-o', out, src, ...flags], { stdio: 'pipe' });
  built = out;
  return out;
}

export interface PeerResult {
  status: number;
  bytes: Buffer;
}

/** Runs one batch of operations through a fresh libsrtp2 session pair (sender + receiver). */
export function runPeer(
  profile: string,
  keyAndSalt: Buffer,
  ops: { op: number; packet: Buffer }[],
  mki?: Buffer,
): { exit: number; results: PeerResult[]; stderr: string } {
  const input = Buffer.concat(
    ops.flatMap(({ op, packet }) => {
      const h = Buffer.alloc(5);
      h[0] = op;
      h.writeUInt32BE(packet.length, 1);
      return [h, packet];
    }),
  );
  const args = [profile, keyAndSalt.toString('hex'), ...(mki ? [mki.toString('hex')] : [])];
  const r = spawnSync(buildLibsrtpPeer(), args, { input, maxBuffer: 256 * 1024 * 1024, timeout: 120_000 });
  const results: PeerResult[] = [];
  const out = r.stdout ?? Buffer.alloc(0);
  for (let at = 0; at + 8 <= out.length; ) {
    const status = out.readInt32BE(at),
      len = out.readUInt32BE(at + 4);
    results.push({ status, bytes: out.subarray(at + 8, at + 8 + len) });
    at += 8 + len;
  }
  return { exit: r.status ?? -1, results, stderr: r.stderr?.toString() ?? '' };
}
