/**
 * The admin console's whole command table (src/admin/commands.ts) over pipes and over a pseudo-terminal stream,
 * against a real store made by `sbd init`: the report and disaster-recovery groups are registered; the console's
 * own changes (`set param`, `set cert regen`, `utils itl reset`, `utils ctl set-cluster`) land in the audit log;
 * mixed mode makes the TFTP source serve CTLFile.tlv and `show ctl` list it; the no-echo secret prompt never
 * shows a passphrase, never keeps it in the history file and never recalls it with the up arrow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { adminTable } from '../../src/admin/commands.js';
import { runShell } from '../../src/admin/shell.js';
import { initAppliance } from '../../src/cluster/init.js';
import { systemClock } from '../../src/lib/clock.js';
import { openStore } from '../../src/store/index.js';
import { openApplianceSource } from '../../src/daemons/adapters/tftp-store.js';
import { parseTrustFile } from '../../src/trust/codec.js';
import { plain } from './guest.js';

const dir = mkdtempSync(join(tmpdir(), 'sbd-admin-console-'));
const state = join(dir, 'state');
initAppliance({ dir: state, hostname: 'sbd-test', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
const privilege = { canRaise: false, asRoot: (file: string, args: readonly string[]) => ({ file, args: [...args] }) };
const table = adminTable({ privilege, stateDir: state, systemd: { unitDir: join(dir, 'no-units') } });
const history = join(dir, 'history');
test.after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A console driven line by line. `send` types a line and resolves once the output since then matches `until`
 * (no sleeps: the shell's own output is the event). terminal: true gives readline's terminal mode (echo, history,
 * escape sequences), as on the serial console.
 */
function open(terminal: boolean) {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  let waiter: { re: RegExp; from: number; resolve: () => void } | undefined;
  output.on('data', (d: Buffer) => {
    text += d.toString();
    if (waiter?.re.test(plain(text.slice(waiter.from)))) {
      const w = waiter;
      waiter = undefined;
      w.resolve();
    }
  });
  const done = runShell({ input, output, table, terminal, historyFile: history });
  const eol = terminal ? '\r' : '\n';
  return {
    send(line: string, until: RegExp): Promise<string> {
      const from = text.length;
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${until} after "${line}"; output:\n${plain(text.slice(from))}`)), 120_000);
        waiter = { re: until, from, resolve: () => (clearTimeout(timer), resolve(plain(text.slice(from)))) };
        input.write(line.startsWith('\x1b') || line.startsWith('\x15') ? line : line + eol);
      });
    },
    async end(): Promise<string> {
      input.end();
      await done;
      return text;
    },
  };
}

function auditRows(limit: number): string[] {
  const store = openStore(join(state, 'sbd.db'), { readonly: true });
  try {
    return store.listAudit({ limit }).map((e) => `${e.action} ${e.detail} ${e.result}`);
  } finally {
    store.close();
  }
}

const prompt = /admin: $/;

test('help lists the report, disaster-recovery and cluster-security groups', async () => {
  const c = open(false);
  const out = await c.send('help', prompt);
  await c.end();
  for (const usage of [
    'show report itl-status [match|mismatch|not-installed] [csv]',
    'show audit [LIMIT] [csv]',
    'set phone-feature MODEL',
    'utils disaster_recovery backup FILE',
    'utils disaster_recovery restore FILE',
    'utils disaster_recovery status',
    'utils ctl set-cluster mixed-mode|non-secure',
  ]) {
    assert.ok(out.includes(usage), `help shows "${usage}"`);
  }
});

test('set param, set cert regen and utils itl reset on the console are audited; refusals are not', async () => {
  const c = open(false);
  await c.send('set param PrepareClusterForRollback true', prompt);
  await c.send('set param PrepareClusterForRollback false', prompt);
  const bad = await c.send('set param NoSuchParam 1', prompt);
  assert.match(bad, /^error: .*NoSuchParam/m);
  await c.send('set cert regen TVS', /\(yes\/no\) $/);
  assert.match(await c.send('no', prompt), /^cancelled$/m);
  await c.send('set cert regen TVS', /\(yes\/no\) $/);
  // Each step the seeds end with "reset the phones" asks "Reset all phones now?" (issue 18 item 2): answered no here.
  const regen = await c.send('yes', /Reset all phones now\? \(yes\/no\) $/);
  assert.match(regen, /^Regenerated TVS: serial [0-9A-F]+/im);
  assert.match(regen, /^BACKUP: Take a new backup: the TVS key changed/m);
  assert.match(await c.send('no', prompt), /^Phones not reset/m);
  assert.match(await c.send('utils itl reset localkey', /Reset all phones now\? \(yes\/no\) $/), /^ITL signed by /m);
  await c.send('no', prompt);
  assert.match(await c.send('utils itl reset complete', /Reset all phones now\? \(yes\/no\) $/), /^ITL signed by /m);
  await c.send('no', prompt);
  const audit = await c.send('show audit 5 csv', prompt);
  await c.end();
  assert.deepEqual(auditRows(5), [
    'itl-reset complete success',
    'itl-reset localkey success',
    'cert-regen TVS success',
    'param-set PrepareClusterForRollback=false success',
    'param-set PrepareClusterForRollback=true success',
  ]);
  assert.match(audit, /^\S+Z,\S+,itl-reset,complete,success$/m);
});

test('utils ctl set-cluster: mixed mode serves a CTL that show ctl lists; back to non-secure', async () => {
  const { source, close } = openApplianceSource(state);
  const client = { address: '127.0.0.1', port: 50000, family: 'IPv4' } as const;
  try {
    await assert.rejects(async () => source.open('CTLFile.tlv', client), 'no CTL in non-secure mode');
    const c = open(false);
    assert.match(await c.send('show ctl', prompt), /^No CTL file: the cluster is in non-secure mode\.$/m);
    assert.match(await c.send('utils ctl set-cluster sideways', prompt), /^error: unknown mode "sideways": mixed-mode or non-secure$/m);
    await c.send('utils ctl set-cluster mixed-mode', /\(yes\/no\) $/);
    assert.match(await c.send('n', prompt), /^cancelled$/m);
    await c.send('utils ctl set-cluster mixed-mode', /\(yes\/no\) $/);
    const set = await c.send('yes', prompt);
    assert.match(set, /^ClusterSecurityMode = mixed$/m);
    const built = /^CTL file built: (\d+) bytes, (\d+) records, sha256 ([0-9a-f]{64}); served as CTLFile\.tlv/m.exec(set);
    assert.ok(built, set);
    const ctl = await c.send('show ctl', prompt);
    assert.match(ctl, /^File: CTLFile\.tlv$/m);
    assert.match(ctl, /^signature: valid /m);
    assert.match(ctl, new RegExp(`^records: ${built[2]} \\(`, 'm'));
    const served = await source.open('CTLFile.tlv', client);
    assert.equal(parseTrustFile(served).records.length, Number(built[2]));
    assert.match(await c.send('utils ctl set-cluster mixed-mode', prompt), /already in mixed-mode .*nothing changed/);
    await c.send('utils ctl set-cluster non-secure', /\(yes\/no\) $/);
    assert.match(await c.send('yes', prompt), /^No CTL file is served now/m);
    assert.match(await c.send('show ctl', prompt), /^No CTL file/m);
    await c.end();
    await assert.rejects(async () => source.open('CTLFile.tlv', client), 'no CTL after non-secure');
    assert.deepEqual(auditRows(2), ['param-set ClusterSecurityMode=non-secure success', 'param-set ClusterSecurityMode=mixed success']);
  } finally {
    close();
  }
});

test('secret prompt on a terminal: no echo, not in the history file, not recalled by the up arrow', async () => {
  const passphrase = 'Zebra-Quartz-Moon-42';
  const file = join(dir, 'console.backup');
  const c = open(true);
  await c.send(`utils disaster_recovery backup ${file}`, /Backup passphrase: $/);
  await c.send(passphrase, /Backup passphrase again: $/);
  assert.match(await c.send(passphrase, prompt), /Backup written: .*console\.backup/);
  assert.ok(existsSync(file));
  // A mistyped repeat is refused before anything is written.
  await c.send(`utils disaster_recovery backup ${file}.2`, /Backup passphrase: $/);
  await c.send(passphrase, /Backup passphrase again: $/);
  assert.match(await c.send('not the same one', prompt), /error: the two passphrases differ/);
  assert.equal(existsSync(`${file}.2`), false);
  // Up arrow: the previous command comes back, never a passphrase.
  const recalled = await c.send('\x1b[A', /utils disaster_recovery backup \S+\.2$/);
  await c.send('\x15', prompt);
  const text = await c.end();
  assert.doesNotMatch(recalled, /Zebra/);
  assert.equal(text.includes(passphrase), false, 'the passphrase never reaches the console');
  assert.equal(text.includes('not the same one'), false);
  const kept = readFileSync(history, 'utf8');
  assert.match(kept, /^utils disaster_recovery backup /m);
  assert.equal(kept.includes(passphrase), false, 'the passphrase is not in the history file');
  assert.match(auditRows(1)[0]!, /^backup .*console\.backup success$/);
});
