/**
 * The console before first boot is done (issue 19 item 8): the appliance accepts a login while sbd-firstboot still
 * makes the keys, certificates and first ITL; store commands then say what first boot is doing and for how long,
 * never the store's own advice ("run sbd init"), which is wrong on the appliance. The unit states are
 * `systemctl show` texts as systemd 252 prints them (this build host's PID 1 is not systemd); the booted image
 * checks the same path in x86_64-boot.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { adminTable } from '../../src/admin/commands.js';
import { FIRST_BOOT_DONE, firstBootMessage, firstBootProbe, parseUnitShow } from '../../src/admin/first-boot.js';
import type { Systemd } from '../../src/admin/systemd.js';
import { runShell } from '../../src/admin/shell.js';

const show = (lines: string[]) => parseUnitShow(`${lines.join('\n')}\n`);
// Monotonic microseconds: the unit left "inactive" 40 s after start, it is now 87 s after start.
const now = 87_000_000n;
const running = show([
  'LoadState=loaded',
  'ActiveState=activating',
  'SubState=start',
  'Result=success',
  'ConditionResult=yes',
  'ConditionTimestampMonotonic=39998000',
  'InactiveExitTimestampMonotonic=40000000',
]);
const done = show([
  'LoadState=loaded',
  'ActiveState=active',
  'SubState=exited',
  'Result=success',
  'ConditionResult=yes',
  'ConditionTimestampMonotonic=39998000',
  'InactiveExitTimestampMonotonic=40000000',
]);

test('first boot running: what it does and for how long', () => {
  const m = firstBootMessage(running, now, 'generating the keys, certificates and the first ITL for sbd at 198.18.7.2\n');
  assert.match(
    m ?? '',
    /^first boot is still running: generating the keys, certificates and the first ITL for sbd at 198\.18\.7\.2 \(47 s so far;/,
  );
  assert.doesNotMatch(m ?? '', /sbd init/);
  // No phase file yet: still says what first boot does.
  assert.match(
    firstBootMessage(running, now) ?? '',
    /^first boot is still running: generating the keys, certificates and the first ITL \(47 s so far/,
  );
});

test('first boot not started yet, failed, done, skipped on a later boot, no such unit', () => {
  const waiting = show([
    'LoadState=loaded',
    'ActiveState=inactive',
    'SubState=dead',
    'ConditionResult=no',
    'ConditionTimestampMonotonic=0',
  ]);
  assert.match(firstBootMessage(waiting, now) ?? '', /^first boot has not started yet: .* \(87 s since start\)/);
  const failed = show(['LoadState=loaded', 'ActiveState=failed', 'SubState=failed', 'Result=exit-code', 'ConditionResult=yes']);
  assert.match(firstBootMessage(failed, now) ?? '', /^first boot failed \(exit-code\)/);
  assert.equal(firstBootMessage(done, now), undefined);
  // A later boot: the store exists, ConditionPathExists=! fails, the unit stays inactive: first boot is done.
  const skipped = show([
    'LoadState=loaded',
    'ActiveState=inactive',
    'SubState=dead',
    'ConditionResult=no',
    'ConditionTimestampMonotonic=5100000',
  ]);
  assert.equal(firstBootMessage(skipped, now), undefined);
  assert.equal(firstBootMessage(show(['LoadState=not-found', 'ActiveState=inactive']), now), undefined);
});

test('console: store commands answer with the first-boot line until it is done, then run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-first-boot-'));
  try {
    let unit = running;
    const privilege = { canRaise: false, asRoot: (file: string, args: readonly string[]) => ({ file, args: [...args] }) };
    const table = adminTable({
      privilege,
      stateDir: join(dir, 'state'),
      systemd: { unitDir: join(dir, 'no-units') },
      firstBoot: () => firstBootMessage(unit, now),
    });
    const input = new PassThrough();
    const output = new PassThrough();
    let text = '';
    output.on('data', (d: Buffer) => (text += d.toString()));
    const shell = runShell({ input, output, table, terminal: false });
    input.end('show itl\nshow cert list\nhelp show\n');
    await shell;
    assert.match(text, /error: first boot is still running: generating the keys, certificates and the first ITL \(47 s so far;/m);
    assert.equal(text.match(/error: first boot is still running/g)?.length, 2, text);
    assert.doesNotMatch(text, /sbd init/);
    assert.match(text, /show itl/, 'help still lists the commands');

    // Done: the same command reaches the store (empty here, so its own error), no first-boot line.
    unit = done;
    text = '';
    const input2 = new PassThrough();
    const shell2 = runShell({ input: input2, output, table, terminal: false });
    input2.end('show itl\n');
    await shell2;
    assert.match(text, /error: no sbd store at /);
    assert.doesNotMatch(text, /first boot/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("systemctl cannot answer: the first-boot script's phase file still tells a running first boot", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-firstboot-phase-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const phaseFile = join(dir, 'phase');
  // A systemd whose systemctl fails (early in boot, or D-Bus busy): only show() is reached by the probe.
  const failing = {
    booted: true,
    units: () => ['sbd-firstboot', 'sbd-tftpd'],
    show: () => {
      throw new Error('systemctl show failed');
    },
  } as unknown as Systemd;
  const probe = firstBootProbe(failing, { phaseFile, nowUs: () => now });
  assert.equal(probe(), undefined, 'no phase file: the command runs');
  writeFileSync(phaseFile, 'generating the keys, certificates and the first ITL for sbd at 198.18.7.2\n');
  assert.match(probe() ?? '', /^first boot is still running: generating the keys/);
  writeFileSync(phaseFile, `${FIRST_BOOT_DONE}\n`);
  assert.equal(probe(), undefined, 'the script wrote its last phase: first boot is done');
});
