/**
 * The native data plane reading a plain folder itself (native/tftp-folder.c) must answer exactly as
 * FolderFileSource does through the TypeScript server: the same bytes, the same TFTP error codes and messages, the
 * same log line — for files, sub-folders, symlinks in and out of the root, loops, directories, FIFOs and size
 * limits. Names it does not decide (odd shapes, files above the read bound) still go to Node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TftpServer } from '../../../src/tftp/server.js';
import { NativeTftpServer } from '../../../src/tftp/native-server.js';
import { FolderFileSource, type FolderFileSourceOptions } from '../../../src/tftp/file-source.js';
import { fetchFile } from '../../../src/tftp/client.js';
import { createLogger } from '../../../src/lib/log.js';

const root = mkdtempSync(join(tmpdir(), 'sbd-tftp-folder-'));
const files: Record<string, Buffer> = {
  'a.bin': randomBytes(1500),
  'sub/b.bin': randomBytes(700),
  'SEP001122334455.cnf.xml.sgn': randomBytes(1700),
  'big.bin': randomBytes(5000),
  'mid.bin': randomBytes(3000),
  'sp ace.bin': randomBytes(100),
};
for (const [name, bytes] of Object.entries(files)) {
  mkdirSync(join(root, name, '..'), { recursive: true });
  writeFileSync(join(root, name), bytes);
}
mkdirSync(join(root, 'dir'));
symlinkSync('/etc/hostname', join(root, 'escape'));
symlinkSync('loop', join(root, 'loop'));
symlinkSync('a.bin', join(root, 'inside'));
symlinkSync('nowhere', join(root, 'dangling'));
execFileSync('mkfifo', [join(root, 'fifo')]);
// maxFileBytes 4096: big.bin is refused; syncReadMaxBytes 2048: mid.bin is left to Node (read asynchronously).
const limits: FolderFileSourceOptions = { maxFileBytes: 4096, syncReadMaxBytes: 2048 };

const names = [
  'a.bin',
  'sub/b.bin',
  'SEP001122334455.cnf.xml.sgn',
  'inside',
  'missing.bin',
  'sub/missing/x',
  'a.bin/x',
  'escape',
  'loop',
  'dangling',
  'dir',
  'fifo',
  'big.bin',
  'mid.bin',
  'sp ace.bin',
  'sub',
];

type Outcome = { bytes: string } | { error: string };
interface Served {
  outcomes: Map<string, Outcome>;
  refusals: unknown[];
  stats: Record<string, number>;
}

async function serve(kind: 'node' | 'native', options: FolderFileSourceOptions): Promise<Served> {
  const lines: Record<string, unknown>[] = [];
  const opts = {
    source: new FolderFileSource(root, options),
    port: 0,
    addresses: ['127.0.0.1'],
    logger: createLogger('tftpd', { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
  };
  const server = kind === 'native' ? new NativeTftpServer(opts) : new TftpServer(opts);
  await server.listen();
  const outcomes = new Map<string, Outcome>();
  try {
    for (const name of names) {
      try {
        const r = await fetchFile({ server: '127.0.0.1', port: server.port, name, blksize: 1428, tsize: true });
        outcomes.set(name, { bytes: r.data.toString('hex') });
      } catch (err) {
        outcomes.set(name, { error: (err as Error).message });
      }
    }
    await server.sync();
    const refusals = lines
      .filter((l) => l.event === 'request-refused')
      .map(({ tftpCode, code, message, file }) => ({ tftpCode, code, message, file }));
    return { outcomes, refusals, stats: server instanceof NativeTftpServer ? server.engineStats : {} };
  } finally {
    await server.close();
  }
}

test('native folder reads answer every name exactly as the TypeScript server with FolderFileSource does', async () => {
  const ts = await serve('node', limits);
  const native = await serve('native', limits);
  for (const name of names) assert.deepEqual(native.outcomes.get(name), ts.outcomes.get(name), name);
  assert.deepEqual(native.refusals, ts.refusals);
  // The expected answers themselves (so a change on both sides is noticed too).
  const bytes = (n: string) => ({ bytes: files[n]!.toString('hex') });
  assert.deepEqual(native.outcomes.get('a.bin'), bytes('a.bin'));
  assert.deepEqual(native.outcomes.get('inside'), bytes('a.bin'));
  assert.deepEqual(native.outcomes.get('sub/b.bin'), bytes('sub/b.bin'));
  assert.deepEqual(native.outcomes.get('mid.bin'), bytes('mid.bin'));
  assert.deepEqual(native.outcomes.get('sp ace.bin'), bytes('sp ace.bin'));
  const error = (n: string) => (native.outcomes.get(n) as { error?: string }).error ?? '';
  assert.match(error('missing.bin'), /server error 1: file not found: missing\.bin/);
  assert.match(error('a.bin/x'), /server error 1: file not found/);
  assert.match(error('dangling'), /server error 1: file not found/);
  assert.match(error('escape'), /server error 2: "escape" resolves outside the TFTP root/);
  assert.match(error('loop'), /server error 2: symlink loop: "loop"/);
  assert.match(error('dir'), /server error 2: "dir" is a directory/);
  assert.match(error('sub'), /server error 2: "sub" is a directory/);
  assert.match(error('fifo'), /server error 2: "fifo" is not a regular file/);
  assert.match(error('big.bin'), /server error 2: "big\.bin" is larger than 4096 bytes/);
  // Read in C: a.bin, sub/b.bin, the config, inside. Left to Node: mid.bin (above the read bound), "sp ace.bin".
  assert.equal(native.stats.folderReads, 4);
  assert.equal(native.stats.opensForwarded, 2);
});

test('native folder reads keep bytes for cacheTtlMs like FolderFileSource, and read every time with 0', async () => {
  const name = 'changing.bin';
  const first = randomBytes(900);
  const second = randomBytes(900);
  for (const ttl of [0, 60_000]) {
    writeFileSync(join(root, name), first);
    const server = new NativeTftpServer({
      source: new FolderFileSource(root, { cacheTtlMs: ttl }),
      port: 0,
      addresses: ['127.0.0.1'],
      logger: createLogger('tftpd', { write: () => {} }),
    });
    await server.listen();
    try {
      assert.ok((await fetchFile({ server: '127.0.0.1', port: server.port, name })).data.equals(first));
      writeFileSync(join(root, name), second);
      const again = (await fetchFile({ server: '127.0.0.1', port: server.port, name })).data;
      assert.ok(again.equals(ttl === 0 ? second : first), `cacheTtlMs ${ttl}`);
      await server.sync();
      assert.equal(server.engineStats.folderReads, ttl === 0 ? 2 : 1);
      assert.equal(server.engineStats.opensForwarded, 0);
    } finally {
      await server.close();
    }
  }
});

test.after(() => rmSync(root, { recursive: true, force: true }));
