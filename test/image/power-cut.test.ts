/**
 * Power cuts (issue 19 item 4), x86_64 A/B image (IMAGE_LAYOUT=ab), one disk 1.5 GB larger than the image across
 * four boots; "power cut" = SIGKILL to QEMU (no shutdown, nothing the guest has not yet written reaches the disk):
 *  - during first boot's growing of the data partition (grow-sbd-data), cut once its GPT is written, as its file
 *    system starts to grow (the disk read from the host says what the cut left); the next boot finishes the growing;
 *  - during first boot (while `sbd init` generates the keys): the next boot runs first boot again, completes it,
 *    and a phone on the host boots from its TFTP (ITL trusted, signed config);
 *  - during store writes (`sbd device add` in a loop, each a committed transaction): the next boot's store passes
 *    `PRAGMA integrity_check` and holds every device whose add had returned before the cut.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Guest, buildImage, plain, repo, until } from './guest.js';
import { hostSbd } from './phones.js';

const BOOT_TIMEOUT_MS = 10 * 60_000;
const STATE = '/var/lib/sbd/state';
const env = { ...process.env, IMAGE_LAYOUT: 'ab' };
const imageDir = process.env.SBD_IMAGE_DIR ?? `${repo}/build/image`;
const PHONE = '00AA11BB22CC';
const DISK_GROWTH = '+1536M';

/** `size` bytes at `offset` of a disk image file (qcow2 or raw), read through qemu-img (QEMU is gone). */
function readDisk(file: string, format: 'qcow2' | 'raw', offset: number, size: number, scratch: string): Buffer {
  const out = join(scratch, 'read.bin');
  rmSync(out, { force: true });
  const spec = { driver: 'raw', offset, size, file: { driver: format, file: { driver: 'file', filename: file } } };
  execFileSync('qemu-img', ['convert', '-O', 'raw', `json:${JSON.stringify(spec)}`, out]);
  return readFileSync(out);
}

/** What the primary GPT says of sbd-data (partition 4): its first and last sector. */
function gptOf(file: string, format: 'qcow2' | 'raw', scratch: string): { dataFirst: number; dataLast: number } {
  const gpt = readDisk(file, format, 512, 33 * 512, scratch); // header (LBA 1) and the entries (LBA 2-33)
  assert.equal(gpt.subarray(0, 8).toString('latin1'), 'EFI PART', `${file}: no GPT`);
  const entries = (Number(gpt.readBigUInt64LE(72)) - 1) * 512;
  const entry = entries + 3 * gpt.readUInt32LE(84);
  return { dataFirst: Number(gpt.readBigUInt64LE(entry + 32)), dataLast: Number(gpt.readBigUInt64LE(entry + 40)) };
}

async function rootOk(g: Guest, command: string): Promise<string> {
  const [status, out] = await g.root(command);
  assert.equal(status, 0, `${command}:\n${out}`);
  return out;
}

const devices = async (g: Guest): Promise<string[]> =>
  (await rootOk(g, `runuser -u sbd -- /usr/bin/sbd device list --state ${STATE}`))
    .split('\n')
    .map((l) => l.split(/\s+/)[0]!)
    .filter(Boolean);

test('power cuts during first boot and during store writes', { timeout: 75 * 60_000 }, async (t) => {
  buildImage('x86_64', env);
  const dir = mkdtempSync(join(imageDir, 'power-cut-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const overlay = join(dir, 'disk.qcow2');
  const net = 1 + Math.floor(Math.random() * 250);
  const committedBeforeCut: string[] = [];
  const boot = (): Guest => {
    const g = new Guest({ arch: 'x86_64', net, debugShell: true, overlay, diskSize: DISK_GROWTH, env });
    t.after(() => g.dispose());
    return g;
  };

  await t.test('boot 0: power cut while first boot grows the data partition', async () => {
    const g = boot();
    // grow-data says this (journal+console) once the GPT is written (backup moved to the disk's end, sbd-data grown
    // to it) and before systemd-growfs grows the mounted ext4: the cut comes as the host reads it.
    await g.waitFor(/grow-sbd-data: \S+ now ends at the end of \S+: growing \/data/, BOOT_TIMEOUT_MS, 'file system growing');
    await g.powerCut();
    assert.doesNotMatch(g.console.text, /grow-sbd-data: \/data is/, 'the growing ended before the cut: nothing was tested');
    const image = gptOf(`${imageDir}/x86_64/disk.raw`, 'raw', dir);
    const cut = gptOf(overlay, 'qcow2', dir);
    assert.ok(cut.dataLast > image.dataLast, `sbd-data's last sector ${cut.dataLast}: the GPT step was done before the line`);
    const blocks = (file: string, format: 'qcow2' | 'raw') =>
      readDisk(file, format, image.dataFirst * 512 + 1024, 1024, dir).readUInt32LE(4);
    console.log(
      `# the cut left: sbd-data's last sector ${image.dataLast} -> ${cut.dataLast}; ext4 blocks in the superblock as on the disk (journal not replayed) ${blocks(`${imageDir}/x86_64/disk.raw`, 'raw')} -> ${blocks(overlay, 'qcow2')}`,
    );
  });

  await t.test('boot 1: power cut while first boot generates the keys', async () => {
    const g = boot();
    // The first-boot script prints this line on the console just before `sbd init`.
    await g.waitFor(/sbd-firstboot: initialising /, BOOT_TIMEOUT_MS, 'first boot started');
    await new Promise((r) => setTimeout(r, 1000 + Math.random() * 2000));
    await g.powerCut();
    assert.doesNotMatch(g.console.text, /sbd-firstboot: done|TFTP activated/, 'first boot ended before the cut: nothing was tested');
    // grow-sbd-data runs before first boot: this boot finished what boot 0's cut left.
    const text = plain(g.console.text);
    const grown = /grow-sbd-data: \/data is (\d+) MiB/.exec(text);
    assert.ok(grown && Number(grown[1]) > 1536, `boot 1 did not finish growing /data:\n${text.slice(-3000)}`);
    console.log(
      `# boot 1 finished the growing (${/growing it/.test(text) ? 'the GPT again, then' : 'only'} the file system): /data ${grown[1]} MiB`,
    );
  });

  await t.test('boot 2: first boot runs again and completes; a phone boots from the TFTP server', async () => {
    const g = boot();
    await g.login('admin', 'sbd-admin', 'Sbd-Power-Cut-2026', BOOT_TIMEOUT_MS);
    await until(g, 'systemctl is-active sbd-firstboot', (o) => o === 'active', BOOT_TIMEOUT_MS, 'sbd-firstboot finished');
    // The growing cut in boot 0, finished in boot 1: sbd-data and its file system reach the disk's end.
    const [total, start, size] = (await rootOk(g, 'cat /sys/class/block/vda/size /sys/class/block/vda4/start /sys/class/block/vda4/size'))
      .split('\n')
      .map(Number);
    assert.ok(total! - start! - size! <= 4096, `sbd-data ends ${total! - start! - size!} sectors before the disk's end`);
    const dataBytes = Number(await rootOk(g, "df -B1 --output=size /data | tail -1 | tr -d ' '"));
    assert.ok(dataBytes > 1.5 * 1024 ** 3, `/data is ${dataBytes} bytes (built as 256 MB, the disk grew by 1.5 GB)`);
    assert.match(await rootOk(g, 'journalctl -b -u sbd-firstboot -o cat --no-pager'), /TFTP activated: ITLFile\.tlv \d+ bytes/);
    await until(g, 'systemctl show -p SubState --value sbd-tftpd', (o) => o === 'running', 5 * 60_000, 'sbd-tftpd running');
    await rootOk(g, `runuser -u sbd -- /usr/bin/sbd device add SEP${PHONE} --model 8845 --state ${STATE} 2>&1`);
    const phones = mkdtempSync(join(tmpdir(), 'sbd-power-cut-phones-'));
    t.after(() => rmSync(phones, { recursive: true, force: true }));
    const r = await hostSbd(['phone', 'boot', '--server', `${g.guestIp}:69`, '--mac', PHONE, '--state', phones, '--tvs', g.guestIp]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /ITL trusted \(first use\): signer ITLRECOVERY_sbd/);
    assert.match(r.out, /config signature valid/);

    // Store writes until the power goes: each line "committed N" comes after `sbd device add` returned (its
    // transaction committed: WAL, synchronous=FULL).
    await g.rootStart(
      `i=0; while [ $i -lt 500 ]; do i=$((i+1)); n=$(printf 'SEP%012X' $((0x0A0000000000 + i))); runuser -u sbd -- /usr/bin/sbd device add $n --model 8845 --state ${STATE} >/dev/null 2>&1 && echo "committed $n"; done`,
    );
    await g.debug.waitFor(/committed SEP0A0000000003\n/, 10 * 60_000, 'three devices added', () => g.exited);
    await new Promise((r) => setTimeout(r, Math.random() * 4000));
    await g.powerCut();
    const committed = [...plain(g.debug.text).matchAll(/committed (SEP[0-9A-F]{12})\n/g)].map((m) => m[1]!);
    console.log(`# ${committed.length} devices committed before the cut, the last ${committed.at(-1)}`);
    committedBeforeCut.push(...committed);
  });

  await t.test('boot 3: the store passes integrity_check and holds every committed device', async () => {
    assert.ok(committedBeforeCut.length >= 3, 'boot 2 recorded its writes');
    const g = boot();
    await g.waitFor(/login: $/m, BOOT_TIMEOUT_MS, 'login prompt');
    await until(g, 'systemctl show -p SubState --value sbd-tftpd', (o) => o === 'running', BOOT_TIMEOUT_MS, 'sbd-tftpd running');
    const check = await rootOk(
      g,
      `runuser -u sbd -- /usr/local/bin/node -e "const D = require('/usr/lib/sbd/node_modules/better-sqlite3'); const db = new D('${STATE}/sbd.db'); console.log(db.pragma('integrity_check', { simple: true })); db.close()"`,
    );
    assert.equal(check, 'ok');
    const have = new Set(await devices(g));
    for (const d of committedBeforeCut) assert.ok(have.has(d), `${d} was committed before the cut and is missing`);
    assert.ok(have.has(`SEP${PHONE}`));
    console.log(`# after the cut: ${have.size} devices, ${committedBeforeCut.length} committed before it`);
  });
});
