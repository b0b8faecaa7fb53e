/** `sbd daemon tftp --root` and `sbd tftp get`, as processes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { run } from './helpers.js';

const repo = join(import.meta.dirname, '../..');
const main = join(repo, 'src/cli/main.ts');

test('sbd daemon tftp --root serves a folder; sbd tftp get fetches into --out; SIGTERM stops it', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-tftp-cli-'));
  try {
    const data = randomBytes(20_000);
    writeFileSync(join(dir, 'ITLFile.tlv'), data);
    const daemon = spawn(
      process.execPath,
      ['--import', 'tsx', main, 'daemon', 'tftp', '--root', dir, '--bind', '127.0.0.1', '--port', '0'],
      { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    const port = await new Promise<number>((resolve, reject) => {
      daemon.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /"event":"listening".*?"port":(\d+)/.exec(stdout);
        if (m) resolve(Number(m[1]));
      });
      daemon.once('exit', (code) => reject(new Error(`daemon exited ${code}: ${stdout}`)));
    });
    const out = join(dir, 'got.tlv');
    const ok = await run(
      process.execPath,
      ['--import', 'tsx', main, 'tftp', 'get', `127.0.0.1:${port}`, 'ITLFile.tlv', '--out', out, '--blksize', '1428', '--tsize'],
      repo,
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /ITLFile\.tlv: 20000 bytes in .* ms \(blksize 1428, windowsize 1, 0 retransmissions\)/);
    assert.ok(readFileSync(out).equals(data));

    const missing = await run(
      process.execPath,
      ['--import', 'tsx', main, 'tftp', 'get', `127.0.0.1:${port}`, 'SEP001122334455.cnf.xml', '--out', join(dir, 'x')],
      repo,
    );
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /server error 1: file not found: SEP001122334455\.cnf\.xml \[ERR_TFTP_NOT_FOUND\]/);

    const usage = await run(process.execPath, ['--import', 'tsx', main, 'tftp', 'get', `127.0.0.1:${port}`, 'x', '--blksize', '4'], repo);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--blksize must be an integer from 8 to 65464/);

    daemon.kill('SIGTERM');
    const [code] = (await once(daemon, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.match(stdout, /"event":"stopping".*"transfersCompleted":1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sbd daemon tftp without --root or --state is a usage error', async () => {
  const r = await run(process.execPath, ['--import', 'tsx', main, 'daemon', 'tftp', '--port', '0'], repo);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /give --state DIR, --store-url URL, --root DIR or one of the first two with --root/);
});
