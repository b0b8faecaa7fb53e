/**
 * One limits table (src/tftp/limits.ts) for both engines and the CLI: the committed C header is what the table
 * renders, the C engine refuses exactly the values outside each range, tftpServerDefaults and the CLI's flags come
 * from it (issue 17 build item 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cTables } from '../../src/tftp/c-tables.js';
import { TftpLimitError, tftpLimitEntries, tftpLimitFlags, tftpLimits } from '../../src/tftp/limits.js';
import { TftpServer, tftpServerDefaults } from '../../src/tftp/server.js';
import { FolderFileSource } from '../../src/tftp/file-source.js';
import { NativeTftpServer, nativeConfigError } from '../../src/tftp/native-server.js';
import { commands } from '../../src/cli/commands/daemon-tftp.js';

const repo = new URL('../../', import.meta.url);

test('the committed C tables are what src/tftp/c-tables.ts renders (regenerate: node --import tsx src/tftp/c-tables.ts)', () => {
  for (const [path, render] of Object.entries(cTables)) assert.equal(readFileSync(new URL(path, repo), 'utf8'), render(), path);
});

test("tftpServerDefaults are the table's defaults", () => {
  for (const [name, l] of tftpLimitEntries) {
    if (l.scope !== 'server' && l.scope !== 'typescript') continue;
    const v = (tftpServerDefaults as unknown as Record<string, number | boolean>)[name];
    assert.equal(typeof v === 'boolean' ? Number(v) : v, l.default, name);
  }
  assert.ok(tftpLimits.maxRetries.max === 100 && tftpLimits.maxRetriesUnverified.max === 100, 'one max_retries range: 0..100');
});

test("the C engine refuses a value just outside each key's range, and takes the defaults", {
  skip: !NativeTftpServer.available() && 'libsbdtftp.so not built',
}, () => {
  for (const [, l] of tftpLimitEntries) {
    if (l.key === undefined) continue;
    const outside = [l.max + 1, ...(l.min > 0 ? [l.min - 1] : [])];
    for (const v of outside)
      assert.equal(nativeConfigError(`port=0\n${l.key}=${v}\n`), `bad value for config key: ${l.key}=${v}`, `${l.key}=${v}`);
  }
  assert.equal(nativeConfigError('port=0\n'), undefined);
  assert.equal(nativeConfigError('port=0\nmax_retries=100\nmax_retries_unverified=100\n'), undefined);
});

test('sbd daemon tftp: every limit flag with its help, default and range in the usage', () => {
  const usage = commands.find((c) => c.path.join(' ') === 'daemon tftp')!.usage;
  assert.equal(tftpLimitFlags.length, 11);
  for (const [, l] of tftpLimitFlags)
    assert.ok(usage.includes(`[--${l.flag} N (${l.help}; default ${l.default}, ${l.min}..${l.max})]`), l.flag);
  assert.match(usage, /--max-retries N \([^)]*default 5, 0\.\.100\)/);
});

test("both servers refuse an option outside the table's range at construction (ERR_TFTP_LIMIT), as the C engine and the CLI do", () => {
  const source = new FolderFileSource('/nonexistent-sbd-tftp-root');
  const servers = [(o: object) => new TftpServer({ source, ...o }), (o: object) => new NativeTftpServer({ source, ...o })];
  for (const make of servers) {
    assert.throws(
      () => make({ maxRetries: 101 }),
      (e: unknown) => e instanceof TftpLimitError && e.code === 'ERR_TFTP_LIMIT',
    );
    assert.throws(
      () => make({ timeoutMs: 1.5 }),
      (e: unknown) => e instanceof TftpLimitError && e.code === 'ERR_TFTP_LIMIT',
    );
    assert.throws(
      () => make({ maxTransferLifetimeMs: 999 }),
      (e: unknown) => e instanceof TftpLimitError && e.code === 'ERR_TFTP_LIMIT',
    );
    assert.equal(make({ maxRetries: 100, maxRetriesUnverified: 0 }).options.maxRetries, 100);
  }
});
