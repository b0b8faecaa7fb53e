/**
 * Firmware update on the A/B disk (issue 19 item 3, docs/firmware-update.md), x86_64 under TCG, one disk (overlay)
 * across every boot. Two builds of the image, version N (SBD_IMAGE_DIR) and N+1 (SBD_IMAGE_DIR-next); the bundle is
 * N+1's root slot, signed by the development firmware key both images trust (scripts/update-bundle.sh, verity).
 *  - boot 1 (N, slot a): a phone on the host boots with its ITL; `utils system upgrade http://host/…` is cut (QEMU
 *    killed) while RAUC writes slot b; the next boot is N again, an altered bundle is refused, and the retried update
 *    installs N+1 into slot b and restarts;
 *  - boot 2 (N+1, slot b): show version active/inactive, the store was backed up before it was migrated, the boot was
 *    blessed (sbd-b.conf), the phone boots with the same ITL; `utils system switch-version` goes back;
 *  - boot 3 (N, slot a); then slot b made primary with its daemons unable to start: three tries restart the machine
 *    by themselves, the fourth boot is slot a again.
 * N is the image the other image tests boot; N+1 is built beside it (SBD_IMAGE_DIR-next) with N's version + ".next".
 * SBD_NO_BUILD=1 boots the two images as they are (a re-run when only the test changed).
 */
import { type TestContext, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Guest, buildImage, repo, until } from './guest.js';
import { hostSbd } from './phones.js';
import { chooseRunNet, parseIpAddr } from '../../image/run-net.js';

const BOOT_TIMEOUT_MS = 15 * 60_000;
const PASSWORD = 'Sbd-Rauc-Update-2026';
// N is the A/B image the other image tests boot (SBD_IMAGE_DIR; built once, reused when its inputs are the same);
// N+1 is built beside it (SBD_IMAGE_DIR-next) from the same inputs but its version, N's version + ".next".
const imageDir = process.env.SBD_IMAGE_DIR ?? `${repo}/build/image`;
const nextDir = `${imageDir}-next`;
const envOf = (dir: string, version?: string): NodeJS.ProcessEnv => ({
  ...process.env,
  IMAGE_LAYOUT: 'ab',
  SBD_IMAGE_DIR: dir,
  ...(version ? { FIRMWARE_VERSION: version } : {}),
});
/** A version as a regular expression's literal text. */
const esc = (v: string) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const DAEMONS = 'sbd-tftpd sbd-tvsd sbd-capfd sbd-sipd sbd-mediad';

async function rootOk(g: Guest, command: string): Promise<string> {
  const [status, out] = await g.root(command);
  assert.equal(status, 0, `${command}:\n${out}`);
  return out;
}

/** A console command that asks yes/no: answers and returns what it printed up to the question. */
async function answer(g: Guest, command: string, yes: boolean, timeoutMs: number): Promise<string> {
  g.type(`${command}\r`);
  const m = await g.waitFor(/([\s\S]*?)\(yes\/no\) $/, timeoutMs, `${command}: question`);
  g.type(yes ? 'yes\r' : 'no\r');
  return m[1]!;
}

/** Every daemon active; if not in time, what systemd and each daemon's journal say about this boot, then the error. */
async function daemonsReady(g: Guest): Promise<void> {
  try {
    await until(g, `systemctl is-active ${DAEMONS}`, (o) => o.split('\n').every((l) => l === 'active'), BOOT_TIMEOUT_MS, 'daemons ready');
  } catch (err) {
    const [, jobs] = await g.root('systemctl list-jobs --no-pager; systemctl status --no-pager -n0 ' + DAEMONS);
    const [, journal] = await g.root(`journalctl -b --no-pager -o short-monotonic ${DAEMONS.replace(/\S+/g, '-u $&')} | tail -n 150`);
    console.log(`# daemons not ready; jobs and units:\n${jobs}\n# their journal (this boot):\n${journal}`);
    throw err;
  }
}

/**
 * A network slot no address of this host is in now: the guest keeps it across every boot (30 min and more), and a
 * slot another guest already holds is refused by image/run.sh.
 */
function freeNet(): number {
  const addrs = parseIpAddr(execFileSync('ip', ['-j', 'addr'], { encoding: 'utf8' }));
  for (let i = 0; i < 50; i++) {
    try {
      return chooseRunNet(String(1 + Math.floor(Math.random() * 250)), addrs).slot;
    } catch {
      /* taken: another */
    }
  }
  throw new Error('no free 198.18.N.0/24 for the guest');
}

/** The bundles over http on the host's end of the guest's network; the URL of each path. */
async function serve(t: TestContext, g: Guest, files: Record<string, Buffer>): Promise<(path: string) => string> {
  const server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, g.hostIp, r));
  t.after(() => server.close());
  return (path) => `http://${g.hostIp}:${(server.address() as AddressInfo).port}${path}`;
}

test('RAUC update N -> N+1, switch back, fallback after three failed tries', { timeout: 120 * 60_000 }, async (t) => {
  // SBD_NO_BUILD=1: boot the two images as they are (built before, e.g. while another guest held the QEMU lock).
  if (!process.env.SBD_NO_BUILD) {
    buildImage('x86_64', envOf(imageDir));
    buildImage('x86_64', envOf(nextDir, `${readFileSync(`${imageDir}/x86_64/firmware-version`, 'utf8').trim()}.next`));
  }
  const N = readFileSync(`${imageDir}/x86_64/firmware-version`, 'utf8').trim();
  const N1 = readFileSync(`${nextDir}/x86_64/firmware-version`, 'utf8').trim();
  assert.notEqual(N, N1, 'two builds with different versions');
  const work = mkdtempSync(join(imageDir, 'rauc-update-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const bundle = join(work, 'n1.raucb');
  const b = spawnSync(`${repo}/scripts/update-bundle.sh`, ['x86_64', bundle], { env: envOf(nextDir, N1), encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);
  const bytes = readFileSync(bundle);
  const altered = Buffer.from(bytes);
  altered[Math.floor(altered.length / 3)]! ^= 0x40; // inside the root image: dm-verity's hash tree no longer matches
  const overlay = join(work, 'disk.qcow2');
  const net = freeNet();
  const phoneDir = mkdtempSync(join(tmpdir(), 'sbd-rauc-phone-'));
  t.after(() => rmSync(phoneDir, { recursive: true, force: true }));
  const boot = () => new Guest({ arch: 'x86_64', net, debugShell: true, overlay, env: envOf(imageDir) });
  const phoneBoots = async (g: Guest, first: boolean) => {
    const r = await hostSbd([
      'phone',
      'boot',
      '--server',
      `${g.guestIp}:69`,
      '--mac',
      '00AA11BB22EE',
      '--state',
      phoneDir,
      '--tvs',
      g.guestIp,
    ]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, first ? /ITL trusted \(first use\): signer ITLRECOVERY_sbd/ : /ITL/);
    assert.match(r.out, /config signature valid/);
  };

  {
    const g = boot();
    t.after(() => g.dispose());
    await g.login('admin', 'sbd-admin', PASSWORD, BOOT_TIMEOUT_MS);
    await daemonsReady(g);
    await t.test('boot 1: version N in slot a, nothing in b; a phone boots with its ITL', async () => {
      assert.match(await rootOk(g, 'cat /proc/cmdline'), /sbd\.slot=a /);
      assert.match(await g.admin('show version active'), new RegExp(`Active version: ${esc(N)} \\(slot a`));
      assert.match(await g.admin('show version inactive'), /Inactive version: none installed \(slot b\)/);
      await rootOk(g, 'runuser -u sbd -- /usr/bin/sbd device add SEP00AA11BB22EE --model 8845 --state /var/lib/sbd/state');
      await phoneBoots(g, true);
    });

    const url = await serve(t, g, { '/n1.raucb': bytes, '/altered.raucb': altered });

    await t.test('boot 1: power cut while RAUC writes slot b (issue 19 item 4)', async () => {
      g.type(`utils system upgrade ${url('/n1.raucb')}\r`);
      await g.waitFor(/Installing http:\/\/\S+ into slot b/, 10 * 60_000, 'install started');
      // RAUC marks the target bad (+0) before it writes it: from then on a cut leaves slot a booting.
      await until(g, 'ls -1 /efi/loader/entries', (o) => /^sbd-b\+0\.conf$/m.test(o), 10 * 60_000, 'slot b marked bad');
      await g.powerCut();
    });
  }

  {
    const g = boot();
    t.after(() => g.dispose());
    await g.login('admin', PASSWORD, PASSWORD, BOOT_TIMEOUT_MS);
    await daemonsReady(g);
    const url = await serve(t, g, { '/n1.raucb': bytes, '/altered.raucb': altered });

    await t.test('after the cut: slot b stays marked bad; an altered bundle is refused, nothing changes', async () => {
      // The cut came after RAUC marked slot b bad and before the new version was recorded or made primary.
      const inactive = await g.admin('show version inactive');
      assert.match(inactive, /Inactive version: none installed \(slot b, marked bad\)/);
      const entries = await rootOk(g, 'ls -1 /efi/loader/entries');
      assert.match(entries, /^sbd-a\.conf$/m);
      const out = await g.admin(`utils system upgrade ${url('/altered.raucb')}`, 30 * 60_000);
      assert.match(out, /update refused: /);
      assert.equal(await g.admin('show version inactive'), inactive);
      assert.equal(await rootOk(g, 'ls -1 /efi/loader/entries'), entries);
      assert.match(await g.admin('show version active'), new RegExp(`Active version: ${esc(N)} \\(slot a, boots next\\)`));
    });

    await t.test(
      'after the cut: N still runs from slot a; the update, retried, installs N+1 into slot b (a phone boots meanwhile) and restarts',
      async () => {
        assert.match(await rootOk(g, 'cat /proc/cmdline'), /sbd\.slot=a /);
        assert.match(await g.admin('show version active'), new RegExp(`Active version: ${esc(N)} \\(slot a`));
        // A phone boots with its ITL while RAUC writes slot b.
        const [out] = await Promise.all([answer(g, `utils system upgrade ${url('/n1.raucb')}`, true, 30 * 60_000), phoneBoots(g, false)]);
        assert.match(out, new RegExp(`Installed ${esc(N1)} \\(slot b, boots next\\)`));
        assert.equal(await g.exit(10 * 60_000), 0);
      },
    );
  }

  {
    const g = boot();
    t.after(() => g.dispose());
    await g.login('admin', PASSWORD, PASSWORD, BOOT_TIMEOUT_MS);
    await daemonsReady(g);
    await t.test('boot 2: N+1 runs from slot b, N waits in a; the store was backed up, the boot blessed; the phone boots', async () => {
      assert.match(await rootOk(g, 'cat /proc/cmdline'), /sbd\.slot=b /);
      assert.match(await g.admin('show version active'), new RegExp(`Active version: ${esc(N1)} \\(slot b`));
      assert.match(await g.admin('show version inactive'), new RegExp(`Inactive version: ${esc(N)} \\(slot a\\)`));
      assert.match(await rootOk(g, 'ls -1 /var/lib/sbd/firmware/backups'), new RegExp(`-to-${esc(N1)}\\.sbdbackup$`, 'm'));
      await until(g, 'ls -1 /efi/loader/entries', (o) => /^sbd-b\.conf$/m.test(o), 10 * 60_000, 'slot b blessed');
      await phoneBoots(g, false);
    });
    await t.test('boot 2: utils system switch-version goes back to N', async () => {
      const out = await answer(g, 'utils system switch-version', true, 120_000);
      assert.match(out, new RegExp(`Switch from ${esc(N1)} to ${esc(N)} and restart\\?`));
      assert.equal(await g.exit(10 * 60_000), 0);
    });
  }

  {
    const g = boot();
    t.after(() => g.dispose());
    await g.login('admin', PASSWORD, PASSWORD, BOOT_TIMEOUT_MS);
    await daemonsReady(g);
    await t.test('boot 3: N from slot a again, the phone boots; then slot b made primary with daemons that cannot start', async () => {
      assert.match(await rootOk(g, 'cat /proc/cmdline'), /sbd\.slot=a /);
      assert.match(await g.admin('show version active'), new RegExp(`Active version: ${esc(N)} \\(slot a`));
      await phoneBoots(g, false);
      await rootOk(g, 'rauc status mark-active other');
      // A version whose TFTP daemon cannot start: a drop-in on the persistent /etc overlay (both slots see it) fails
      // sbd-tftpd at once when the running slot is b, with no restart, so sbd-boot-ok sees it failed on every try
      // there; slot a starts it as usual.
      await rootOk(
        g,
        "mkdir -p /etc/systemd/system/sbd-tftpd.service.d && printf '%s\\n' '[Service]' " +
          "\"ExecStartPre=/bin/sh -c '! grep -qw sbd.slot=b /proc/cmdline'\" 'Restart=no' " +
          '> /etc/systemd/system/sbd-tftpd.service.d/90-broken-on-b.conf',
      );
      // Not waited for: the debug shell may go before it could answer.
      await g.rootStart('sync; systemctl reboot');
      assert.equal(await g.exit(10 * 60_000), 0);
    });
  }

  for (let attempt = 1; attempt <= 3; attempt++) {
    await t.test(`slot b, try ${attempt}: sbd-boot-ok fails and restarts the machine by itself`, async () => {
      const g = boot();
      try {
        // No login needed: the machine restarts by itself (QEMU runs with --no-reboot, so it exits).
        assert.equal(await g.exit(BOOT_TIMEOUT_MS), 0);
      } finally {
        await g.dispose();
      }
    });
  }

  {
    const g = boot();
    t.after(() => g.dispose());
    await g.login('admin', PASSWORD, PASSWORD, BOOT_TIMEOUT_MS);
    await t.test('after three failed tries slot a boots by itself; slot b has no try left', async () => {
      assert.match(await rootOk(g, 'cat /proc/cmdline'), /sbd\.slot=a /);
      assert.match(await rootOk(g, 'ls -1 /efi/loader/entries'), /^sbd-b\+0-3\.conf$/m);
      assert.match(await g.admin('show version active'), new RegExp(`Active version: ${esc(N)} \\(slot a`));
      await daemonsReady(g);
      await rootOk(g, 'rm -r /etc/systemd/system/sbd-tftpd.service.d/90-broken-on-b.conf && systemctl daemon-reload');
    });
  }
});
