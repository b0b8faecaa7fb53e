/**
 * The A/B disk layout (issue 19 item 2; docs/image.md "A/B slots and the data partition"), x86_64, built with
 * IMAGE_LAYOUT=ab, booted twice from one disk made 1.5 GB bigger than the image (as when it is flashed to a larger
 * disk):
 *  - the image's GPT (sfdisk on the host): sbd-esp, sbd-root-a, sbd-root-b, sbd-data, in that order;
 *  - boot 1: / is slot a's SquashFS, read-only; /var/lib/sbd and /var/log are on sbd-data; sbd-data and its ext4
 *    grew to the disk's end; first boot done; a store write (`sbd device add`); the admin's new password;
 *  - boot 2, same disk: the device is still in the store, the new password still logs in (/etc overlay on
 *    sbd-data), the same machine id, first boot skipped, the data partition keeps its size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Guest, buildImage, repo, until } from './guest.js';

const BOOT_TIMEOUT_MS = 10 * 60_000;
const NEW_PASSWORD = 'Sbd-Ab-Layout-2026';
const STATE = '/var/lib/sbd/state';
const DEVICE = 'SEP00AB0000A0B0';
const env = { ...process.env, IMAGE_LAYOUT: 'ab' };
const imageDir = process.env.SBD_IMAGE_DIR ?? `${repo}/build/image`;

async function shutdown(g: Guest): Promise<void> {
  g.type('utils system shutdown\r');
  await g.waitFor(/\(yes\/no\) $/m, 300_000, 'shutdown question');
  g.type('yes\r');
  assert.equal(await g.exit(10 * 60_000), 0);
}

async function rootOk(g: Guest, command: string): Promise<string> {
  const [status, out] = await g.root(command);
  assert.equal(status, 0, `${command}:\n${out}`);
  return out;
}

test('A/B layout: four partitions, read-only slot, data partition grown and kept across boots', { timeout: 60 * 60_000 }, async (t) => {
  buildImage('x86_64', env);
  const dir = mkdtempSync(join(imageDir, 'ab-layout-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const overlay = join(dir, 'disk.qcow2');
  const net = 1 + Math.floor(Math.random() * 250);

  await t.test('the GPT names sbd-esp, sbd-root-a, sbd-root-b, sbd-data', () => {
    const r = spawnSync('sfdisk', ['--json', `${imageDir}/x86_64/disk.raw`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const parts = (JSON.parse(r.stdout) as { partitiontable: { partitions: { name: string; size: number }[] } }).partitiontable.partitions;
    assert.deepEqual(
      parts.map((p) => p.name),
      ['sbd-esp', 'sbd-root-a', 'sbd-root-b', 'sbd-data'],
    );
    assert.equal(parts[1]!.size, parts[2]!.size, 'both slots have one size');
  });

  let machineId = '';
  let dataBytes = 0;
  {
    const g = new Guest({ arch: 'x86_64', net, debugShell: true, overlay, diskSize: '+1536M', env });
    t.after(() => g.dispose());
    await g.login('admin', 'sbd-admin', NEW_PASSWORD, BOOT_TIMEOUT_MS);

    await t.test('boot 1: / is slot a, SquashFS, read-only', async () => {
      assert.match(await rootOk(g, 'cat /proc/cmdline'), /root=PARTLABEL=sbd-root-a ro sbd\.slot=a /);
      assert.match(await rootOk(g, 'findmnt -no FSTYPE,OPTIONS /'), /^squashfs\s+ro[,\s]/);
      assert.equal(await rootOk(g, 'readlink -f /dev/disk/by-partlabel/sbd-root-a'), '/dev/vda2');
      const [status, out] = await g.root('touch /usr/lib/sbd/written 2>&1');
      assert.notEqual(status, 0);
      assert.match(out, /Read-only file system/);
    });

    await t.test('boot 1: /var/lib/sbd and /var/log are on sbd-data; /etc and /var are overlays with their upper layer there', async () => {
      assert.equal(await rootOk(g, 'readlink -f /dev/disk/by-partlabel/sbd-data'), '/dev/vda4');
      // Device number and the folder of it each mount shows (SOURCE names the path the initramfs mounted by).
      const dev = await rootOk(g, 'cat /sys/class/block/vda4/dev');
      assert.equal(await rootOk(g, 'findmnt -rno MAJ:MIN,FSROOT,FSTYPE /data'), `${dev} / ext4`);
      assert.equal(await rootOk(g, 'findmnt -rno MAJ:MIN,FSROOT /var/lib/sbd'), `${dev} /sbd`);
      assert.equal(await rootOk(g, 'findmnt -rno MAJ:MIN,FSROOT /var/log'), `${dev} /log`);
      // The options keep the paths the initramfs gave (/root/data/…, before the root moved to /).
      for (const d of ['/etc', '/var'])
        assert.match(await rootOk(g, `findmnt -no FSTYPE,OPTIONS ${d}`), new RegExp(`^overlay\\s.*upperdir=(/root)?/data${d}/upper`));
      assert.equal(await rootOk(g, 'findmnt -no FSTYPE /tmp'), 'tmpfs');
    });

    await t.test('boot 1: sbd-data and its file system grew to the end of the bigger disk', async () => {
      await until(
        g,
        'systemctl show -p ActiveState,Result grow-sbd-data',
        (o) => /ActiveState=active/.test(o),
        5 * 60_000,
        'grow-sbd-data',
      );
      const [total, start, size] = (await rootOk(g, 'cat /sys/class/block/vda/size /sys/class/block/vda4/start /sys/class/block/vda4/size'))
        .split('\n')
        .map(Number);
      // The backup GPT (33 sectors) and 1 MiB alignment are all that may follow it.
      assert.ok(total! - start! - size! <= 4096, `sbd-data ends ${total! - start! - size!} sectors before the disk's end`);
      dataBytes = Number(await rootOk(g, "df -B1 --output=size /data | tail -1 | tr -d ' '"));
      // Built as 256 MB; the disk grew by 1.5 GB.
      assert.ok(dataBytes > 1.5 * 1024 ** 3, `/data is ${dataBytes} bytes`);
      console.log(
        `# /data: ${(dataBytes / 1024 ** 2).toFixed(0)} MiB; ${await rootOk(g, 'journalctl -b -u grow-sbd-data -o cat --no-pager')}`,
      );
    });

    await t.test('boot 1: first boot done, a store write', async () => {
      await until(g, 'systemctl is-active sbd-firstboot', (o) => o === 'active', BOOT_TIMEOUT_MS, 'sbd-firstboot finished');
      assert.equal(await rootOk(g, `test -f ${STATE}/first-boot.done && echo yes`), 'yes');
      await rootOk(g, `runuser -u sbd -- /usr/bin/sbd device add ${DEVICE} --model 8845 --state ${STATE} 2>&1`);
      assert.match(await rootOk(g, `runuser -u sbd -- /usr/bin/sbd device list --state ${STATE}`), new RegExp(`^${DEVICE} `, 'm'));
      machineId = await rootOk(g, 'cat /etc/machine-id');
      assert.match(machineId, /^[0-9a-f]{32}$/);
    });

    await t.test('boot 1: clean power-off', () => shutdown(g));
  }

  {
    const g = new Guest({ arch: 'x86_64', net, debugShell: true, overlay, env });
    t.after(() => g.dispose());

    await t.test('boot 2: the new password logs in (no forced change: /etc/shadow kept on sbd-data)', async () => {
      assert.equal(await g.login('admin', NEW_PASSWORD, 'Sbd-Not-Asked-2026', BOOT_TIMEOUT_MS), NEW_PASSWORD);
    });

    await t.test('boot 2: the store write survived, same machine id, first boot skipped, data keeps its size', async () => {
      assert.match(await rootOk(g, `runuser -u sbd -- /usr/bin/sbd device list --state ${STATE}`), new RegExp(`^${DEVICE} `, 'm'));
      assert.equal(await rootOk(g, 'cat /etc/machine-id'), machineId);
      assert.match(await rootOk(g, 'systemctl show -p ConditionResult sbd-firstboot'), /ConditionResult=no/);
      assert.equal(Number(await rootOk(g, "df -B1 --output=size /data | tail -1 | tr -d ' '")), dataBytes);
    });

    await t.test('boot 2: clean power-off', () => shutdown(g));
  }
});
