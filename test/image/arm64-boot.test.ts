/**
 * The ARM64 image builds (mmdebstrap through qemu-user, better-sqlite3 and the native helpers cross-compiled) and
 * boots under TCG (-machine virt -cpu cortex-a57; BOOT=efi: AAVMF firmware and the disk's systemd-boot) to the admin
 * prompt on ttyAMA0; `show status` reports an arm64
 * kernel and the same Node; `utils system shutdown` powers it off. One boot, no network.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Guest, buildImage, elapsed, plain } from './guest.js';

test('arm64 image: build, boot to the admin prompt under TCG, shutdown', { timeout: 45 * 60_000 }, async (t) => {
  buildImage('arm64');

  const g = new Guest({ arch: 'arm64', net: 'none' });
  t.after(() => g.dispose());

  await t.test('admin login on ttyAMA0 reaches the admin: prompt', async () => {
    await g.login('admin', 'sbd-admin', 'Sbd-Arm64-Test-2026', 15 * 60_000);
    if (g.boot === 'efi') {
      // AAVMF started the disk's own boot loader (no -kernel): what is tested is what is flashed.
      assert.match(plain(g.console.text), /BdsDxe: starting Boot\d+ /);
    }
  });

  await t.test('show status: arm64 kernel, Node 20', async () => {
    const out = await g.admin('show status', 300_000);
    assert.match(out, /^Kernel\s+: .*arm64$/m);
    assert.match(out, /^Node\.js\s+: 20\./m);
    console.log(out);
  });

  await t.test('utils system shutdown powers off', async () => {
    g.type('utils system shutdown\r');
    await g.waitFor(/\(yes\/no\) $/m, 300_000, 'shutdown question');
    g.type('yes\r');
    assert.equal(await g.exit(10 * 60_000), 0);
    console.log(`# arm64 powered off ${elapsed(g.started)} after QEMU start`);
  });
});
