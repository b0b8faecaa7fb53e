/**
 * The admin shell on the host, against a real store made by `sbd init`: command lookup, one-line errors,
 * nearest-command suggestions, incomplete commands, argument checks, tab completion, and the store-backed
 * commands (show itl, show cert list/own, show params, set param). systemd commands are exercised in the booted
 * image (qemu-boot.test.ts); here they must refuse cleanly because systemd is not this host's init.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { adminTable } from '../../src/admin/commands.js';
import { runShell } from '../../src/admin/shell.js';
import { completeLine } from '../../src/admin/complete.js';
import { nearest, editDistance } from '../../src/admin/suggest.js';
import { splitWords } from '../../src/admin/command-table.js';
import { initAppliance } from '../../src/cluster/init.js';
import { systemClock } from '../../src/lib/clock.js';

const dir = mkdtempSync(join(tmpdir(), 'sbd-admin-'));
const state = join(dir, 'state');
initAppliance({ dir: state, hostname: 'sbd-test', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
const privilege = { canRaise: false, asRoot: (file: string, args: readonly string[]) => ({ file, args: [...args] }) };
const table = adminTable({ privilege, stateDir: state, systemd: { unitDir: join(dir, 'no-units') } });

/** Runs the shell over pipes with the given input lines; returns everything it printed. */
async function session(lines: string[]): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.on('data', (d: Buffer) => (text += d.toString()));
  const done = runShell({ input, output, table, terminal: false, historyFile: join(dir, 'history') });
  for (const l of lines) input.write(l + '\n');
  input.end();
  await done;
  // Without a terminal nothing echoes, so output follows the prompt on the same line: one prompt per line here.
  return text.replaceAll('admin: ', '\n').replace(/^\n/, '');
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('prompt, help and exit', async () => {
  const out = await session(['help', 'exit', 'show status']);
  assert.match(out, /^ {2}help \[COMMAND\]/m);
  assert.match(out, /show itl\s+the ITL file/);
  assert.match(out, /utils service restart NAME/);
  assert.doesNotMatch(out, /Host Name/, 'nothing runs after exit');
});

test('unknown commands get one error line and the nearest command', async () => {
  const out = await session(['shwo status', 'show itls', 'frobnicate the widget']);
  assert.match(out, /^error: unknown command "shwo status"; did you mean "show status"\?$/m);
  assert.match(out, /^error: unknown command "show itls"; did you mean "show itl"\?$/m);
  assert.match(out, /^error: unknown command "frobnicate the widget" \(type "help"\)$/m);
  assert.doesNotMatch(out, /\bat .*\.(js|ts):\d+/, 'no stack trace');
});

test('incomplete commands list what can follow; argument counts are checked', async () => {
  const out = await session([
    'show cert',
    'show cert own',
    'set param OnlyName',
    'utils itl reset sideways',
    'utils itl reset remotekey',
    'utils ctl reset localkey',
  ]);
  assert.match(
    out,
    /incomplete command; one of:\n {2}show cert list\n {2}show cert list trust \[tomcat-trust\|phone-sast-trust\]\n {2}show cert own NAME/,
  );
  assert.match(out, /^error: missing parameter: usage: show cert own NAME$/m);
  assert.match(out, /^error: missing parameter: usage: set param NAME VALUE$/m);
  assert.match(out, /^error: unknown step "sideways": localkey, remotekey or complete$/m);
  assert.match(out, /^error: remotekey needs the PKCS#12 file of the key: utils itl reset remotekey FILE\.p12$/m);
  assert.match(out, /^error: the cluster is not in mixed mode: there is no CTL to reset/m);
});

test('show itl lists the records of the ITL built from the store, signature valid', async () => {
  const out = await session(['show itl']);
  assert.match(out, /^File: ITLFile\.tlv$/m);
  assert.match(out, /^records: 5 \(SAST, CCM\+TFTP, SAST, TVS, CAPF\)$/m);
  assert.match(out, /^signature: valid \(signer: record 0 \(CN=ITLRECOVERY_sbd-test;/m);
  assert.doesNotMatch(out, /^error:/m);
});

test('show cert list / own, show params, set param (validated by the store)', async () => {
  const out = await session(['show cert list', 'show cert own capf', 'show cert own Nonsense', 'show params', 'set param NoSuchParam 1']);
  assert.match(out, /^CallManager\s+sbd-test/m);
  assert.match(out, /-----BEGIN CERTIFICATE-----/);
  assert.match(out, /^error: unknown certificate "Nonsense": one of CallManager, TVS, CAPF, ITLRecovery, tomcat/m);
  assert.match(out, /^error: .*NoSuchParam/m);
});

test('systemd commands refuse cleanly when systemd is not the init', async () => {
  const out = await session(['utils service restart tftpd']);
  assert.match(out, /^error: /m);
  assert.equal(out.match(/^error: /gm)?.length, 1);
});

test('history file keeps the commands typed', async () => {
  await session(['show params']);
  assert.match(readFileSync(join(dir, 'history'), 'utf8'), /^show params$/m);
});

test('tab completion: command words, then parameter values', () => {
  assert.deepEqual(completeLine(table, 'sh'), [['show '], 'sh']);
  assert.deepEqual(completeLine(table, 'show c'), [['cert', 'cluster', 'cmgroup', 'ctl'], 'c']);
  assert.deepEqual(completeLine(table, 'show cert own IT'), [['ITLRecovery '], 'IT']);
  assert.deepEqual(completeLine(table, 'utils itl reset '), [['complete', 'localkey', 'remotekey'], '']);
});

test('word splitting and edit distance', () => {
  assert.deepEqual(splitWords(' set param  "Prepare Cluster" true '), ['set', 'param', 'Prepare Cluster', 'true']);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(
    nearest(
      ['utils', 'sytem', 'restart'],
      [
        ['utils', 'system', 'restart'],
        ['show', 'status'],
      ],
    ),
    'utils system restart',
  );
});
