/**
 * sbd-tftpd against real third-party clients on loopback (Debian's tftp-hpa, atftp and curl): every file fetched,
 * bytes compared. Needs the packages in deps/apt/tftp.txt (`make check` installs them).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { has, portOf, run, standardFiles, startFixture, type Fixture } from './helpers.js';

let fx: Fixture;
let out: string;
const hostOf = { IPv4: '127.0.0.1', IPv6: '::1' } as const;

before(async () => {
  const files = standardFiles();
  files.set('notes.txt', Buffer.from('first line\nsecond line\r\nbare CR\rend\n'.repeat(200)));
  fx = await startFixture(files);
  out = mkdtempSync(join(tmpdir(), 'sbd-tftp-out-'));
});
after(async () => {
  await fx.close();
  rmSync(out, { recursive: true, force: true });
});

function fetched(local: string, name: string): void {
  const got = readFileSync(join(out, local));
  const want = fx.files.get(name)!;
  assert.equal(got.length, want.length, `${name}: length`);
  assert.ok(got.equals(want), `${name}: bytes differ`);
}

const names = () => [...fx.files.keys()].filter((n) => n !== 'notes.txt');
let seq = 0;
const local = () => `out-${++seq}`;

describe('tftp-hpa client', { skip: !has('tftp') && 'tftp-hpa not installed' }, () => {
  for (const family of ['IPv4', 'IPv6'] as const) {
    test(`octet, every file, ${family}`, async () => {
      for (const name of names()) {
        if (family === 'IPv6' && name === 'big.bin') continue;
        const l = local();
        const args = [
          ...(family === 'IPv6' ? ['-6'] : []),
          '-m',
          'binary',
          hostOf[family],
          String(portOf(fx.server, family)),
          '-c',
          'get',
          name,
          l,
        ];
        const r = await run('tftp', args, out);
        assert.equal(r.stderr + r.stdout, '', `${name}: ${r.stderr}${r.stdout}`);
        fetched(l, name);
      }
    });
  }

  test('netascii (-m ascii): the client converts CR LF back to the local file', async () => {
    const l = local();
    const r = await run('tftp', ['-m', 'ascii', '127.0.0.1', String(portOf(fx.server, 'IPv4')), '-c', 'get', 'notes.txt', l], out);
    assert.equal(r.stderr + r.stdout, '');
    fetched(l, 'notes.txt');
  });

  test('block numbers roll over: a 33 MiB file at blksize 512 (67,585 blocks)', async () => {
    const name = 'rollover.bin';
    const data = randomBytes(33 * 1024 * 1024 + 77);
    writeFileSync(join(fx.root, name), data);
    const l = local();
    const r = await run('tftp', ['-m', 'binary', '127.0.0.1', String(portOf(fx.server, 'IPv4')), '-c', 'get', name, l], out, 120_000);
    assert.equal(r.stderr + r.stdout, '');
    assert.ok(readFileSync(join(out, l)).equals(data));
    rmSync(join(fx.root, name));
  });

  test('refusals: unknown file → error 1, "..", absolute path → error 2, write request → error 2', async () => {
    const port = String(portOf(fx.server, 'IPv4'));
    const cases: [string[], RegExp][] = [
      [['get', 'nosuch.cnf.xml', local()], /Error code 1: file not found: nosuch\.cnf\.xml/],
      [['get', '../../etc/passwd', local()], /Error code 2: "\.\." in file name refused/],
      [['get', '/etc/passwd', local()], /Error code 2: absolute path refused/],
      [['get', 'a\\b', local()], /Error code 2: file name contains a backslash/],
    ];
    writeFileSync(join(out, 'upload'), 'x');
    cases.push([['put', 'upload', 'upload'], /Error code 2: write requests are refused/]);
    for (const [cmd, re] of cases) {
      await fx.server.sync(); // the native server's log lines arrive over its control socket, before its counters
      const before = fx.logLines.length;
      const r = await run('tftp', ['-m', 'binary', '127.0.0.1', port, '-c', ...cmd], out);
      await fx.server.sync();
      assert.match(r.stdout + r.stderr, re);
      const lines = fx.logLines.slice(before).filter((l) => l.event === 'request-refused');
      assert.equal(lines.length, 1, `one log line for ${cmd.join(' ')}`);
    }
  });
});

describe('atftp client', { skip: !has('atftp') && 'atftp not installed' }, () => {
  for (const options of [['blksize 1428', 'tsize 0'], ['blksize 512'], ['blksize 1428', 'tsize 0', 'windowsize 8']]) {
    test(`every file with --option ${options.join(', ')}`, async () => {
      for (const name of names()) {
        const l = local();
        const args = [
          ...options.flatMap((o) => ['--option', o]),
          '-g',
          '-r',
          name,
          '-l',
          l,
          '127.0.0.1',
          String(portOf(fx.server, 'IPv4')),
        ];
        const r = await run('atftp', args, out);
        assert.equal(r.code, 0, `${name}: ${r.stderr}`);
        fetched(l, name);
      }
    });
  }

  test('IPv6', async () => {
    const l = local();
    const r = await run(
      'atftp',
      ['--option', 'blksize 1428', '-g', '-r', 'ITLSEP001122334455.tlv', '-l', l, '::1', String(portOf(fx.server, 'IPv6'))],
      out,
    );
    assert.equal(r.code, 0, r.stderr);
    fetched(l, 'ITLSEP001122334455.tlv');
  });
});

describe('curl tftp://', { skip: !has('curl') && 'curl not installed' }, () => {
  for (const blksize of [8, 512, 1428, 65464]) {
    test(`every file with --tftp-blksize ${blksize}`, async () => {
      for (const name of names()) {
        if (blksize === 8 && name === 'big.bin') continue; // 131k round trips: covered by the rollover tests
        const l = local();
        const r = await run(
          'curl',
          ['-sS', '--fail', '-o', l, '--tftp-blksize', String(blksize), `tftp://127.0.0.1:${portOf(fx.server, 'IPv4')}/${name}`],
          out,
        );
        assert.equal(r.code, 0, `${name}: ${r.stderr}`);
        fetched(l, name);
      }
    });
  }

  test('IPv6 [::1]', async () => {
    for (const name of ['f513.bin', 'CTLSEP001122334455.tlv', 'big.bin']) {
      const l = local();
      const r = await run(
        'curl',
        ['-sS', '--fail', '-o', l, '--tftp-blksize', '1428', `tftp://[::1]:${portOf(fx.server, 'IPv6')}/${name}`],
        out,
      );
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      fetched(l, name);
    }
  });

  test('an unknown file fails with TFTP error 1 in curl', async () => {
    const r = await run('curl', ['-sS', '-o', local(), `tftp://127.0.0.1:${portOf(fx.server, 'IPv4')}/nosuch.bin`], out);
    assert.equal(r.code, 68, r.stderr); // CURLE_TFTP_NOTFOUND
  });
});

test('server counters after every interop transfer: none failed, none retransmitted on loopback', async () => {
  await fx.server.sync();
  const c = fx.server.counters;
  assert.ok(c.transfersCompleted > 100, `completed ${c.transfersCompleted}`);
  assert.equal(c.transfersFailed, 0);
  assert.equal(fx.server.activeTransfers, 0);
});
