/**
 * `utils system upgrade URL`'s download (src/firmware/fetch-bundle.ts) into a small real file system (a 4 MiB tmpfs,
 * as the appliance's data partition is small next to a bundle), over http on loopback: a download a power cut left
 * behind is removed before the next one (the RAUC image test's second try hit ENOSPC with the first copy still
 * there), and a bundle larger than the free space is refused before a byte is written.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DOWNLOAD_NAME, downloadBundle } from '../../src/firmware/fetch-bundle.js';
import { FirmwareErrorCode } from '../../src/firmware/errors.js';

const MiB = 1 << 20;
// Mounting a tmpfs needs root (CI runs as root); elsewhere the test is skipped, not faked.
const root = process.getuid?.() === 0;

describe('bundle download into a small file system', { skip: !root && 'needs root to mount a tmpfs' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-fetch-'));
  const bodies: Record<string, Buffer> = {
    '/a.raucb': Buffer.alloc(2 * MiB, 0xa1),
    '/b.raucb': Buffer.alloc(2 * MiB + 4096, 0xb2),
    '/big.raucb': Buffer.alloc(5 * MiB, 0xc3),
  };
  let server: Server;
  const url = (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;

  before(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${4 * MiB},mode=0700`, 'sbd-fetch-test', dir]);
    server = createServer((req, res) => {
      const body = bodies[req.url ?? ''];
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  after(() => {
    server?.close();
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a download and a partial one left by a power cut are replaced, not kept beside the new one', async () => {
    // What a cut leaves: the complete download RAUC was installing from, and (of an earlier cut) a partial one.
    writeFileSync(join(dir, DOWNLOAD_NAME), bodies['/a.raucb']!);
    writeFileSync(join(dir, `${DOWNLOAD_NAME}.partial`), Buffer.alloc(MiB, 1));
    // 2 MiB + 1 MiB left over and 2 MiB more to write do not fit in 4 MiB: only the new copy may remain.
    const file = await downloadBundle(url('/b.raucb'), { dir });
    assert.equal(file, join(dir, DOWNLOAD_NAME));
    assert.deepEqual(readFileSync(file), bodies['/b.raucb']);
    assert.deepEqual(readdirSync(dir), [DOWNLOAD_NAME]);
  });

  it('a bundle larger than the free space is refused before a byte is written, naming both sizes', async () => {
    await assert.rejects(downloadBundle(url('/big.raucb'), { dir }), (err: Error & { code?: string }) => {
      assert.equal(err.code, FirmwareErrorCode.space);
      assert.match(err.message, /is 5\.0 MB, more than the [0-4]\.\d MB free in .*: nothing was downloaded/);
      return true;
    });
    // The earlier download was removed first (it is replaced by every new one), and nothing partial stays.
    assert.deepEqual(readdirSync(dir), []);
  });
});
