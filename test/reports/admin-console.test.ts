/**
 * The admin console commands of this issue through the real shell (src/admin/shell.ts over pipes): reports in
 * both forms, the feature-list edit, the audit log, and backup/restore with the passphrase asked by a prompt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandTable } from '../../src/admin/command-table.js';
import { runShell } from '../../src/admin/shell.js';
import { reportCommands } from '../../src/admin/commands/reports.js';
import { disasterRecoveryCommands } from '../../src/admin/commands/disaster-recovery.js';
import { initAppliance } from '../../src/cluster/init.js';
import { systemClock } from '../../src/lib/clock.js';
import { openStore } from '../../src/store/index.js';
import { recordPhoneItlReport } from '../../src/reports/index.js';

async function console_(table: CommandTable, lines: string[]): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.on('data', (d: Buffer) => (text += d.toString()));
  const done = runShell({ input, output, table, terminal: false });
  for (const l of lines) input.write(l + '\n');
  input.end();
  await done;
  return text;
}

/** A console driven line by line: `send` writes a line and resolves once the output matches `until`. */
function interactive(table: CommandTable) {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  let waiter: { re: RegExp; from: number; resolve: () => void } | undefined;
  output.on('data', (d: Buffer) => {
    text += d.toString();
    if (waiter?.re.test(text.slice(waiter.from))) {
      const w = waiter;
      waiter = undefined;
      w.resolve();
    }
  });
  const done = runShell({ input, output, table, terminal: false });
  return {
    send(line: string, until: RegExp): Promise<void> {
      const from = text.length;
      const p = new Promise<void>((resolve) => (waiter = { re: until, from, resolve }));
      input.write(line + '\n');
      return p;
    },
    async end(): Promise<string> {
      input.end();
      await done;
      return text;
    },
  };
}

test('reports, feature edit, audit, backup and restore on the admin console', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-admin-console-'));
  const state = join(dir, 'state');
  initAppliance({ dir: state, hostname: 'sbd-test', ipv4: '127.0.0.1', clock: systemClock });
  const store = openStore(join(state, 'sbd.db'));
  store.addDevice({ name: 'SEP001122334455', model: '8845' });
  const serverHash = store.listServerItlHashes()[0]!.sha256Hex;
  recordPhoneItlReport(store, { device: 'SEP001122334455', sha256Hex: serverHash, at: '2026-11-25T10:00:00.000Z' });
  store.close();
  const prompts: string[] = [];
  const table = new CommandTable([
    ...reportCommands(state),
    ...disasterRecoveryCommands(state, { askSecret: async (p) => (prompts.push(p), 'console passphrase 1') }),
  ]);
  const file = join(dir, 'console.backup');
  let out = await console_(table, [
    'show report itl-status',
    'show report feature-list 8845 csv',
    'set phone-feature 7965 ec-keys yes',
    'set phone-feature 7965 colour yes',
    'show report credentials csv',
    'utils disaster_recovery status',
    `utils disaster_recovery backup ${file}`,
    'utils disaster_recovery status',
    'show audit 2 csv',
  ]);
  assert.match(
    out,
    new RegExp(`SEP001122334455  8845   Match            ${serverHash.slice(0, 16)}\\.\\.\\.  -                2026-11-25T10:00:00\\.000Z`),
  );
  assert.match(out, /Match: 1  MisMatch: 0  Not Installed: 0/);
  assert.match(out, /Model,Security by Default,Encrypted Config,EC Keys\r\n8845,Yes,Yes,Yes\r\n/);
  assert.match(out, /7965   Yes                  Yes               Yes/);
  assert.match(out, /error: feature must be one of security-by-default, encrypted-config, ec-keys/);
  assert.match(out, /User ID,Kind,Credential,Algorithm,Parameters,Last Login\r\nLast backup: never\n/);
  assert.match(
    out,
    /Last backup: never\nA new backup is due: certificates changed since: CAPF@sbd-test, CallManager@sbd-test, ITLRecovery, TVS@sbd-test, tomcat@sbd-test\n/,
  );
  assert.match(out, /Backup written: .*console\.backup \(\d+ bytes, 6 files: the store and 5 private keys\)/);
  assert.match(out, /Last backup: \S+Z\nNo certificate changed since: no backup due\./);
  assert.match(
    out,
    /Time,User,Action,Detail,Result\r\n\S+Z,\S+,backup,\S*console\.backup,success\r\n\S+Z,\S+,feature-set,7965 ec-keys=yes,success\r\n/,
  );
  assert.deepEqual(prompts, ['Backup passphrase']);

  // Restore: asks first; "no" changes nothing, "yes" restores the state of the backup (7965 as edited before it).
  const s2 = openStore(join(state, 'sbd.db'));
  s2.putModelFeatures('7965', { securityByDefault: false, encryptedConfig: false, ecKeys: false });
  s2.close();
  const c = interactive(table);
  await c.send(`utils disaster_recovery restore ${file}`, /\(yes\/no\) $/);
  await c.send('no', /cancelled\n/);
  await c.send(`utils disaster_recovery restore ${file}`, /\(yes\/no\) $/);
  await c.send('yes', /Restart these services: .*\n/);
  await c.send('show report feature-list 7965', /7965 .*\n/);
  out = await c.end();
  assert.match(out, /cancelled/);
  assert.match(out, /Restored the backup of \S+Z\.\nRestart these services: sbd-capfd sbd-mediad sbd-sipd sbd-tftpd sbd-tvsd/);
  assert.match(out, /7965   Yes                  Yes               Yes/);
  assert.deepEqual(readdirSync(dir).sort(), ['console.backup', 'state']);
  rmSync(dir, { recursive: true, force: true });
});
