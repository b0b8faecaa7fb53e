/**
 * ITL File Status from DeviceTLInfo reports: SHA-1 (and MD5) of the exact bytes each TFTP server serves, Not
 * Installed from the phone's own word, the newer of alarm and header reports counting, a repeated report moving
 * only its time (no generation bump), and the status filter on the CLI and the console.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, StoreErrorCode, type Store } from '../../src/store/index.js';
import { formatCsv, recordPhoneItlReport } from '../../src/reports/index.js';
import { itlStatusReport, itlStatusRows, parseItlStatusFilter } from '../../src/reports/itl-status.js';
import { CommandTable } from '../../src/admin/command-table.js';
import { runShell } from '../../src/admin/shell.js';
import { reportCommands } from '../../src/admin/commands/reports.js';

const root = new URL('../../', import.meta.url).pathname;
const ITL_A = Buffer.from('ITL bytes served by pub');
const ITL_B = Buffer.from('ITL bytes served by sub1');
const h = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

function knownStore(): { store: Store; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-itl-tl-'));
  const store = openStore(join(dir, 'sbd.db'), { create: true });
  store.recordServedTrustFile('pub', 'ITLFile.tlv', ITL_A, '2026-11-25T07:00:00.000Z');
  store.recordServedTrustFile('sub1', 'ITLFile.tlv', ITL_B, '2026-11-25T07:00:00.000Z');
  for (let i = 1; i <= 6; i++) store.addDevice({ name: `SEP00000000000${i}`, model: '8845' });
  const at = (m: number) => `2026-11-25T08:0${m}:00.000Z`;
  store.recordDeviceTrustReport(
    'SEP000000000001',
    { itlSignature: h('sha1', ITL_A), itlTftpServer: 'pub', ctlSignature: 'not-installed', ctlTftpServer: null },
    at(1),
  );
  store.recordDeviceTrustReport(
    'SEP000000000002',
    { itlSignature: h('md5', ITL_B), itlTftpServer: '10.0.0.2', ctlSignature: null, ctlTftpServer: null },
    at(2),
  );
  store.recordDeviceTrustReport(
    'SEP000000000003',
    { itlSignature: 'not-installed', itlTftpServer: null, ctlSignature: 'not-installed', ctlTftpServer: null },
    at(3),
  );
  store.recordDeviceTrustReport(
    'SEP000000000004',
    { itlSignature: h('sha1', Buffer.from('old ITL')), itlTftpServer: 'pub', ctlSignature: null, ctlTftpServer: null },
    at(4),
  );
  // The SHA-256 of what pub serves in the SHA-1 column would be a different algorithm: never a match.
  // Device 5: an older alarm (MisMatch) and a newer X-SBD-ITL-Hash report (Match): the newer counts.
  store.recordDeviceTrustReport(
    'SEP000000000005',
    { itlSignature: h('sha1', Buffer.from('old ITL')), itlTftpServer: 'pub', ctlSignature: null, ctlTftpServer: null },
    at(5),
  );
  recordPhoneItlReport(store, { device: 'SEP000000000005', sha256Hex: h('sha256', ITL_A), at: at(6) });
  return { store, dir };
}

test('DeviceTLInfo reports: SHA-1 / MD5 against the served bytes of any server, Not Installed, the newer report counts', () => {
  const { store, dir } = knownStore();
  try {
    const rows = itlStatusRows(store);
    assert.deepEqual(
      rows.map((r) => [r.device, r.status, r.tftpServer]),
      [
        ['SEP000000000001', 'Match', 'pub'],
        ['SEP000000000002', 'Match', '10.0.0.2'],
        ['SEP000000000003', 'Not Installed', null],
        ['SEP000000000004', 'MisMatch', 'pub'],
        ['SEP000000000005', 'Match', null],
        ['SEP000000000006', 'MisMatch', null],
      ],
    );
    assert.equal(rows[0]!.hashHex, h('sha1', ITL_A));
    // pub moves to a new ITL: the phone holding the old one is MisMatch now.
    store.recordServedTrustFile('pub', 'ITLFile.tlv', Buffer.from('new ITL of pub'), '2026-11-25T09:00:00.000Z');
    assert.equal(itlStatusRows(store)[0]!.status, 'MisMatch');
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a repeated report moves only its time, without a generation bump; a changed one bumps once', () => {
  const { store, dir } = knownStore();
  try {
    const report = { itlSignature: h('sha1', ITL_A), itlTftpServer: 'pub', ctlSignature: 'not-installed', ctlTftpServer: null };
    const g = store.generation();
    const r = store.reportsGeneration();
    assert.equal(store.recordDeviceTrustReport('SEP000000000001', report, '2026-11-25T10:00:00.000Z'), 'touched');
    assert.equal(store.generation(), g, 'no generation bump for a repeated report');
    assert.equal(store.getDeviceTrustReport('SEP000000000001')!.at, '2026-11-25T10:00:00.000Z');
    assert.equal(
      store.recordDeviceTrustReport('SEP000000000001', { ...report, itlTftpServer: 'sub1' }, '2026-11-25T10:01:00.000Z'),
      'changed',
    );
    // A changed report moves the reports counter, not the generation every cache follows (a boot storm of
    // phones reporting must not reload sbd-sipd's directory or the TFTP data plane's files).
    assert.equal(store.generation(), g, 'a changed report bumps no generation');
    assert.equal(store.reportsGeneration(), r + 1, 'it moves the reports counter');
    store.recordDeviceItlHash('SEP000000000001', 'ab'.repeat(32), '2026-11-25T10:01:30.000Z');
    assert.equal(store.generation(), g, "a phone's ITL hash bumps no generation");
    assert.equal(store.reportsGeneration(), r + 2);
    store.sip.deleteDeviceItlHash('SEP000000000001');
    assert.equal(store.generation(), g + 1, 'an administrative reset does (the registrar forgets what it saw)');
    assert.throws(() => store.recordDeviceTrustReport('SEP000000000001', { ...report, itlSignature: 'abc' }, '2026-11-25T10:02:00.000Z'), {
      code: StoreErrorCode.itlHashInvalid,
    });
    assert.throws(() => store.recordDeviceTrustReport('SEP0000000000FF', report, '2026-11-25T10:02:00.000Z'), {
      code: StoreErrorCode.deviceUnknown,
    });
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('filter by status: the report API, `sbd report itl-status --status`, `show report itl-status STATUS`', async () => {
  const { store, dir } = knownStore();
  store.close();
  try {
    const s = openStore(join(dir, 'sbd.db'));
    const only = (status: string) => itlStatusReport(s, { status: parseItlStatusFilter(status)! }).rows.map((r) => r[0]);
    assert.deepEqual(only('match'), ['SEP000000000001', 'SEP000000000002', 'SEP000000000005']);
    assert.deepEqual(only('MisMatch'), ['SEP000000000004', 'SEP000000000006']);
    assert.deepEqual(only('not-installed'), ['SEP000000000003']);
    assert.equal(parseItlStatusFilter('matched'), undefined);
    const csv = formatCsv(itlStatusReport(s, { status: parseItlStatusFilter('mismatch')! }));
    s.close();

    const cli = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: root });
    let r = cli(['report', 'itl-status', '--status', 'mismatch', '--csv', '--state', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, csv);
    r = cli(['report', 'itl-status', '--status', 'not-installed', '--state', dir]);
    assert.match(r.stdout, /^ITL File Status \(1 phone: Not Installed\)$/m);
    assert.match(r.stdout, /^SEP000000000003  8845   Not Installed/m);
    assert.match(r.stdout, /^Match: 3  MisMatch: 2  Not Installed: 1$/m, 'the footer counts every phone');
    r = cli(['report', 'itl-status', '--status', 'sideways', '--state', dir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--status must be one of match, mismatch, not-installed/);

    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (d: Buffer) => (text += d.toString()));
    const done = runShell({ input, output, table: new CommandTable(reportCommands(dir)), terminal: false });
    for (const l of ['show report itl-status match csv', 'show report itl-status not-installed', 'show report itl-status sideways'])
      input.write(l + '\n');
    input.end();
    await done;
    assert.match(text, /Device Name,Model,ITL File Status,Phone ITL Hash,ITL TFTP Server,Last Report\r\nSEP000000000001,8845,Match,/m);
    assert.doesNotMatch(text, /SEP000000000004,8845/);
    assert.match(text, /ITL File Status \(1 phone: Not Installed\)/);
    assert.match(text, /error: unexpected "sideways": a status \(match, mismatch, not-installed\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
