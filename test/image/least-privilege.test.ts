/**
 * Least privilege in the booted x86_64 image (issue 16, row 14 / build item 9), in one boot:
 *  - each daemon runs as its own user (systemctl show -p User, the main process' /proc status), none as root or `sbd`;
 *  - with sbd-tftpd's ids and groups (setpriv --init-groups) the TFTP signing keys open and the CAPF, TVS and SIP
 *    keys do not; TVS cannot write the store; the media daemon's user cannot even enter the state's parent;
 *  - the admin shell's process holds no 0 in its uid, gid or groups;
 *  - `utils disaster_recovery backup` then `restore` on the console: the restore succeeds as the state's owner, the
 *    services it names are restarted through the sudo rule and run again, the state folder is a new one with the
 *    same keys, and the layout (modes, groups) is as before.
 * The host-side half (parsing rootfs/, the privilege drop, key groups) is test/security/row-14-least-privilege.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, buildImage, elapsed, until } from './guest.js';

const BOOT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_PASSWORD = 'sbd-admin';
const NEW_PASSWORD = 'Sbd-Image-Test-2026';
const STATE = '/var/lib/sbd/state';
const BACKUP = '/var/lib/sbd/least-privilege.backup';
const PASSPHRASE = 'Least-Privilege-Backup-2026';
const DAEMONS = ['sbd-tftpd', 'sbd-tvsd', 'sbd-capfd', 'sbd-sipd', 'sbd-mediad'];

/** `read NAME` / `denied NAME` for every file in keys/, tried with USER's ids and groups. */
async function keyAccess(g: Guest, user: string): Promise<Map<string, string>> {
  const [status, out] = await g.root(
    `setpriv --reuid=${user} --regid=${user} --init-groups sh -c 'for f in ${STATE}/keys/*; do if cat "$f" >/dev/null 2>&1; then echo "read \${f##*/}"; else echo "denied \${f##*/}"; fi; done'`,
  );
  assert.equal(status, 0, out);
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(l.indexOf(' ') + 1), l.slice(0, l.indexOf(' '))]),
  );
}

function assertTftpKeys(seen: Map<string, string>): void {
  const names = [...seen.keys()];
  for (const prefix of ['CallManager-', 'ITLRecovery-', 'CAPF-', 'TVS-'])
    assert.ok(
      names.some((n) => n.startsWith(prefix)),
      `a ${prefix} key exists: ${names.join(' ')}`,
    );
  for (const [n, how] of seen) {
    // TFTP signs configs with CallManager, the ITL with ITLRecovery, and writes phones' digest passwords.
    const needed = n.startsWith('CallManager-') || n.startsWith('ITLRecovery-') || n === 'sip-phone.key';
    assert.equal(how, needed ? 'read' : 'denied', `sbd-tftpd ${needed ? 'must' : 'must not'} read ${n}`);
  }
}

test('x86_64 image: one user per daemon, per-role keys, the admin shell without root, backup and restore', {
  timeout: 45 * 60_000,
}, async (t) => {
  buildImage('x86_64');
  const g = new Guest({ arch: 'x86_64', net: 1 + Math.floor(Math.random() * 250), debugShell: true });
  t.after(() => g.dispose());
  // On a failure, what the guest's console showed (first boot and unit failures are printed there).
  t.after(() => console.log(`# guest console (tail):\n${g.console.text.slice(-4000)}`));
  await g.login('admin', DEFAULT_PASSWORD, NEW_PASSWORD, BOOT_TIMEOUT_MS);
  const t0 = Date.now();
  await g.root('true', 5 * 60_000);
  console.log(`# debug shell answers: ${elapsed(t0)}`);
  await until(g, 'systemctl is-active sbd-firstboot', (o) => o === 'active', BOOT_TIMEOUT_MS, 'sbd-firstboot finished');
  for (const d of DAEMONS) await until(g, `systemctl show -p SubState --value ${d}`, (o) => o === 'running', 5 * 60_000, `${d} running`);

  await t.test('each daemon runs as its own user, never root nor the state owner', async () => {
    for (const d of DAEMONS) {
      assert.equal((await g.root(`systemctl show -p User --value ${d}`))[1], d);
      const [, status] = await g.root(`grep -E '^(Uid|Gid|Groups):' /proc/$(systemctl show -p MainPID --value ${d})/status`);
      const uid = /^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/);
      const [, id] = await g.root(`id -u ${d}`);
      assert.deepEqual(uid, [id, id, id, id], `${d}: ${status}`);
      console.log(`# ${d}: ${status.replace(/\n/g, ' | ')} (${(await g.root(`id ${d}`))[1]})`);
    }
  });

  await t.test('sbd-tftpd reads only the keys it signs with; TVS cannot write the store; media cannot enter the state', async () => {
    console.log(`# ${(await g.root(`ls -la /var/lib/sbd ${STATE} ${STATE}/keys`))[1]}`);
    assertTftpKeys(await keyAccess(g, 'sbd-tftpd'));
    const tvs = await keyAccess(g, 'sbd-tvsd');
    for (const [n, how] of tvs) assert.equal(how, n.startsWith('TVS-') ? 'read' : 'denied', `sbd-tvsd and ${n}`);
    const [w] = await g.root(`setpriv --reuid=sbd-tvsd --regid=sbd-tvsd --init-groups test -w ${STATE}/sbd.db`);
    assert.notEqual(w, 0, 'sbd-tvsd must not be able to write the store');
    const [r] = await g.root(`setpriv --reuid=sbd-tvsd --regid=sbd-tvsd --init-groups test -r ${STATE}/sbd.db`);
    assert.equal(r, 0, 'sbd-tvsd reads the store');
    const [wt] = await g.root(`setpriv --reuid=sbd-tftpd --regid=sbd-tftpd --init-groups test -w ${STATE}/sbd.db`);
    assert.equal(wt, 0, 'sbd-tftpd writes the store (ITL File Status)');
    const [m] = await g.root(`setpriv --reuid=sbd-mediad --regid=sbd-mediad --init-groups ls ${STATE}`);
    assert.notEqual(m, 0, 'sbd-mediad must not enter the state');
  });

  await t.test('the admin shell holds no root id and no root group', async () => {
    const [, pid] = await g.root('pgrep -f "dist/src/admin/main.js" | head -1');
    const [, status] = await g.root(`grep -E '^(Uid|Gid|Groups):' /proc/${pid}/status`);
    console.log(`# admin shell: ${status.replace(/\n/g, ' | ')}`);
    const ids = (key: string) =>
      /^[A-Za-z]+:\s*(.*)$/m
        .exec(status.split('\n').find((l) => l.startsWith(key)) ?? '')![1]!
        .split(/\s+/)
        .filter(Boolean);
    assert.equal(ids('Uid:').length, 4);
    for (const k of ['Uid:', 'Gid:', 'Groups:']) assert.ok(!ids(k).includes('0'), `${k} ${ids(k).join(' ')}`);
    assert.equal(ids('Uid:')[0], (await g.root('id -u sbd'))[1]);
  });

  await t.test('utils disaster_recovery backup, then restore: as the state owner, services restarted, same keys, same layout', async () => {
    const layout = `stat -c '%n %a %U %G' ${STATE} ${STATE}/sbd.db ${STATE}/keys ${STATE}/keys/*`;
    const before = (await g.root(layout))[1];
    const keysBefore = (await g.root(`cd ${STATE}/keys && sha256sum *`))[1];
    const inodeBefore = (await g.root(`stat -c %i ${STATE}`))[1];
    g.type(`utils disaster_recovery backup ${BACKUP}\r`);
    await g.waitFor(/Backup passphrase: $/m, 120_000, 'backup passphrase');
    g.type(`${PASSPHRASE}\r`);
    await g.waitFor(/Backup passphrase again: $/m, 60_000, 'backup passphrase again');
    const backup = await g.admin(PASSPHRASE, 10 * 60_000);
    assert.match(backup, /Backup written: /, backup);

    g.type(`utils disaster_recovery restore ${BACKUP}\r`);
    await g.waitFor(/\(yes\/no\) $/m, 120_000, 'restore confirmation');
    g.type('yes\r');
    await g.waitFor(/Backup passphrase: $/m, 60_000, 'restore passphrase');
    const restored = await g.admin(PASSPHRASE, 20 * 60_000);
    console.log(restored);
    // Each assertion carries the console's answer: CI shows only the failing assertion's message.
    assert.match(restored, /Restored the backup of /, restored);
    assert.doesNotMatch(restored, /error|warning/i, restored);
    for (const d of ['sbd-tftpd', 'sbd-tvsd', 'sbd-capfd', 'sbd-sipd'])
      assert.match(restored, new RegExp(`^${d}: active \\(running\\)$`, 'm'), restored);

    assert.notEqual((await g.root(`stat -c %i ${STATE}`))[1], inodeBefore, 'the state folder was swapped for the restored one');
    assert.equal((await g.root(`cd ${STATE}/keys && sha256sum *`))[1], keysBefore, 'the same keys');
    assert.equal((await g.root(layout))[1], before, 'the same owners, groups and modes');
    assert.equal((await g.root(`ls /var/lib/sbd | grep -c restore- || true`))[1], '0', 'no staging folder left');
    for (const d of DAEMONS)
      await until(g, `systemctl show -p SubState --value ${d}`, (o) => o === 'running', 5 * 60_000, `${d} running after the restore`);
    assertTftpKeys(await keyAccess(g, 'sbd-tftpd'));
    const [, failed] = await g.root('systemctl list-units --failed --no-legend --plain');
    assert.equal(failed, '', `failed units:\n${failed}`);
  });
});
