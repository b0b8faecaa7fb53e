/**
 * Issue 16, build item 11: the native TFTP request/option parser (native/tftp-packet.c, tftp-options.c) fuzzed
 * with AFL++ through native/fuzz/tftp-request-fuzz.c (scripts/fuzz-tftp.sh) for a bounded time; any crash or hang
 * fails the test. The seeds and everything AFL kept then go through the same harness built with
 * -fsanitize=address,undefined (gcc), which turns a silent out-of-bounds read into a failure. A planted bug
 * (-DSBD_FUZZ_CANARY) shows the pipeline does report a crash. Longer runs by hand: scripts/fuzz-tftp.sh 3600.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const script = join(root, 'scripts', 'fuzz-tftp.sh');
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
/** AFL's time budget here, seconds (the CI bound); FUZZ_TFTP_SECONDS overrides it. */
const seconds = Number(process.env.FUZZ_TFTP_SECONDS ?? 30);
const skip = !has('afl-fuzz') || !has('gcc') ? 'afl++ or gcc not installed' : false;

test(`AFL++ finds no crash or hang in the TFTP request parser in ${seconds} s; ASan/UBSan pass over its corpus`, {
  skip,
  timeout: (seconds + 120) * 1000,
}, () => {
  const out = mkdtempSync(join(tmpdir(), 'sbd-afl-tftp-'));
  try {
    const r = spawnSync('sh', [script, String(seconds)], { env: { ...process.env, FUZZ_OUT: out }, encoding: 'utf8' });
    assert.equal(r.status, 0, `fuzz-tftp.sh: ${r.stdout}${r.stderr}`);
    const m = /(\d+) executions, \d+ paths, (\d+) crashes, (\d+) hangs/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) > 1000, `AFL ran (${m[1]} executions)`);
    assert.equal(m[2], '0');
    assert.equal(m[3], '0');

    const asan = join(out, 'tftp-request-fuzz-asan');
    const native = join(root, 'native');
    const cc = spawnSync(
      'gcc',
      [
        '-std=c11',
        '-D_GNU_SOURCE',
        '-O1',
        '-g',
        '-fsanitize=address,undefined',
        '-fno-sanitize-recover=all',
        '-o',
        asan,
        join(native, 'fuzz', 'tftp-request-fuzz.c'),
        join(native, 'tftp-packet.c'),
        join(native, 'tftp-options.c'),
        join(native, 'tftp-text.c'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(cc.status, 0, cc.stderr);
    const seeds = join(native, 'fuzz', 'seeds');
    const queue = join(out, 'findings', 'default', 'queue');
    const inputs = [
      ...readdirSync(seeds).map((f) => join(seeds, f)),
      ...readdirSync(queue)
        .filter((f) => f.startsWith('id:'))
        .map((f) => join(queue, f)),
    ];
    assert.ok(inputs.length > 10, `${inputs.length} inputs`);
    const run = spawnSync(asan, inputs, { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0' } });
    assert.equal(run.status, 0, `sanitizers: ${run.stderr.slice(0, 4000)}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the pipeline reports a crash: a planted bug one byte from the seeds is found', { skip, timeout: 150_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'sbd-afl-tftp-canary-'));
  try {
    const r = spawnSync('sh', [script, '60'], {
      env: { ...process.env, FUZZ_OUT: out, FUZZ_CFLAGS: '-DSBD_FUZZ_CANARY', AFL_BENCH_UNTIL_CRASH: '1' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, `fuzz-tftp.sh: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /[1-9]\d* crashes/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
