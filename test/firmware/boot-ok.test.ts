/**
 * rootfs/usr/lib/sbd/bin/boot-ok (sbd-boot-ok.service, the boot assessment): every enabled sbd daemon active is a
 * good boot; one inactive or failed fails it at once (the unit then restarts the machine); one still activating is
 * waited for, up to SBD_BOOT_OK_TIMEOUT. systemd is not this host's init, so `systemctl` is a stand-in that answers
 * from a folder of unit states ("STATE [skipped|never]": its conditions not met this boot, or never checked).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const BOOT_OK = join(import.meta.dirname, '../../rootfs/usr/lib/sbd/bin/boot-ok');
const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function run(states: Record<string, string>, timeout = '0') {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-boot-ok-'));
  made.push(dir);
  mkdirSync(join(dir, 'states'));
  for (const [unit, state] of Object.entries(states)) writeFileSync(join(dir, 'states', unit), `${state}\n`);
  writeFileSync(
    join(dir, 'systemctl'),
    `#!/bin/sh
case "$1" in
  list-unit-files) for f in ${dir}/states/*; do echo "$(basename "$f") enabled enabled"; done ;;
  is-active) read -r s c < ${dir}/states/$2; echo "$s"; [ "$s" = active ] ;;
  show) read -r s c < ${dir}/states/$4
    case "$3:$c" in
      ConditionResult:skipped|ConditionResult:never) echo no ;;
      ConditionResult:*) echo yes ;;
      ConditionTimestampMonotonic:never) echo 0 ;;
      ConditionTimestampMonotonic:*) echo 4242 ;;
      *) exit 1 ;;
    esac ;;
  *) exit 1 ;;
esac
`,
  );
  chmodSync(join(dir, 'systemctl'), 0o755);
  return spawnSync(BOOT_OK, [], {
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, SBD_BOOT_OK_TIMEOUT: timeout },
    encoding: 'utf8',
  });
}

const daemons = ['sbd-tftpd.service', 'sbd-tvsd.service', 'sbd-capfd.service', 'sbd-sipd.service', 'sbd-mediad.service'];
const all = (state: string) => Object.fromEntries(daemons.map((d) => [d, state]));

describe('boot-ok (boot assessment)', () => {
  it('every daemon active: a good boot; the boot steps themselves are not waited for', () => {
    const r = run({
      ...all('active'),
      'sbd-firstboot.service': 'inactive',
      'sbd-store-upgrade.service': 'failed',
      'sbd-boot-ok.service': 'activating',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /all daemons ready: sbd-capfd\.service .*sbd-tvsd\.service/);
  });

  it('a daemon inactive (its start was refused) or failed: a bad boot at once', () => {
    for (const state of ['inactive', 'failed']) {
      const r = run({ ...all('active'), 'sbd-sipd.service': state }, '900');
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`sbd-sipd\\.service is ${state}`));
    }
  });

  it('a unit whose conditions were not met this boot (PostgreSQL on a single box, CAPF on a subscriber) is left out', () => {
    const r = run({
      ...all('active'),
      'sbd-capfd.service': 'inactive skipped',
      'sbd-postgresql.service': 'inactive skipped',
      'sbd-clusterd.service': 'inactive skipped',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /not on this box: sbd-capfd\.service sbd-clusterd\.service sbd-postgresql\.service\)/);
    // Inactive without a failed condition (never started, or stopped): still a bad boot.
    const never = run({ ...all('active'), 'sbd-postgresql.service': 'inactive never' }, '900');
    assert.equal(never.status, 1);
    assert.match(never.stderr, /sbd-postgresql\.service is inactive/);
  });

  it('a daemon still activating after SBD_BOOT_OK_TIMEOUT: a bad boot', () => {
    const r = run({ ...all('active'), 'sbd-tvsd.service': 'activating' }, '0');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not ready after 0s: sbd-tvsd\.service/);
  });

  it('no daemon enabled: a bad boot', () => {
    const r = run({ 'sbd-firstboot.service': 'active' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no sbd daemon enabled/);
  });
});
