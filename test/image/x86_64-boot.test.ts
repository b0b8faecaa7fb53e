/**
 * The x86_64 image end to end, in ONE boot (boots are the expensive part under TCG): build (or reuse), boot in
 * QEMU (BOOT=efi: OVMF firmware and the disk's own systemd-boot, as on a machine) with the runner's network namespace, log in on the serial console as admin (forced change of the default
 * password), `show status` and `show itl`; then, through systemd's debug shell on a second serial port: no
 * failed units, a daemon killed with SIGKILL comes back, a daemon that stops answering its watchdog (SIGSTOP)
 * is restarted, `systemd-analyze security` exposure; from the host, the guest's services answer on the tap
 * network and simulated phones boot against its TFTP, TVS and CAPF (phones.ts); finally `utils system shutdown` powers the guest off cleanly. Timings are printed as it goes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Guest, buildImage, elapsed, plain, repo, until } from './guest.js';
import { phoneChecks } from './phones.js';

const BOOT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_PASSWORD = 'sbd-admin';
const NEW_PASSWORD = 'Sbd-Image-Test-2026';

function unitProps(out: string): Record<string, string> {
  return Object.fromEntries(
    out
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

const show = (unit: string) => `systemctl show -p ActiveState,SubState,MainPID,NRestarts,Result ${unit}`;

test('x86_64 image: build, boot, console, services, restart policies, shutdown', { timeout: 45 * 60_000 }, async (t) => {
  buildImage('x86_64');
  const net = 1 + Math.floor(Math.random() * 250);
  const g = new Guest({ arch: 'x86_64', net, debugShell: true });
  t.after(() => g.dispose());

  await t.test('serial console: admin login with the forced change of the default password', async () => {
    const pw = await g.login('admin', DEFAULT_PASSWORD, NEW_PASSWORD, BOOT_TIMEOUT_MS);
    assert.equal(pw, NEW_PASSWORD);
    if (g.boot === 'efi') {
      // OVMF started the disk's own boot loader (no -kernel): what is tested is what is flashed.
      assert.match(plain(g.console.text), /BdsDxe: starting Boot\d+ "UEFI Misc Device"/);
    }
  });

  await t.test('admin: a store command right after login says what first boot is doing, never "run sbd init"', async () => {
    const out = await g.admin('show itl');
    // Either first boot is still running (the console says so) or it is done (the ITL): never the store's advice.
    assert.doesNotMatch(out, /sbd init/, out);
    assert.match(out, /^(error: first boot (is still running|has not started yet): .* s (so far|since start)|records: \d+ )/m, out);
    console.log(`# show itl right after login:\n${out}`);
  });

  await t.test('first boot generated the keys, certificates and first ITL', async () => {
    await until(g, 'systemctl is-active sbd-firstboot', (o) => o === 'active', BOOT_TIMEOUT_MS, 'sbd-firstboot finished');
    const [, journal] = await g.root('journalctl -b -u sbd-firstboot --no-pager -o cat');
    assert.match(journal, /TFTP activated: ITLFile\.tlv \d+ bytes/);
    assert.match(journal, new RegExp(`initialising /var/lib/sbd/state for sbd at ${g.guestIp.replace(/\./g, '\\.')}`));
  });

  // The enabled ones: sbd-clusterd is installed but disabled on a single node (a publisher enables it, issue 21).
  const daemons = (
    await g.root(
      'for u in $(ls /usr/lib/systemd/system | grep -E "^sbd-.*d\\.service$"); do systemctl is-enabled -q "$u" && basename "$u" .service; done',
    )
  )[1]
    .split('\n')
    .filter(Boolean);
  console.log(`# daemons in this image: ${daemons.join(', ') || '(none)'}`);

  await t.test('every daemon is up, READY through sd_notify', async () => {
    for (const d of daemons) {
      await until(g, show(d), (o) => unitProps(o).SubState === 'running', 5 * 60_000, `${d} running`);
    }
    // A restart this early means a start or watchdog timeout: the journal says which (kept in the CI log).
    for (const d of daemons) {
      if (Number(unitProps((await g.root(show(d)))[1]).NRestarts) > 0) {
        console.log(
          `# ${d} restarted during boot:\n${(await g.root(`journalctl -b -u ${d} --no-pager -o cat | grep -iE 'timeout|watchdog|fail|exit' | tail -6`))[1]}`,
        );
      }
    }
  });

  await t.test('admin: show status', async () => {
    const out = await g.admin('show status');
    assert.match(out, /^Host Name\s+: sbd$/m);
    assert.match(out, /^Node\.js\s+: 20\./m);
    assert.match(out, /^Kernel\s+: .*amd64$/m);
    assert.match(out, /^sbd-firstboot\s+active \(exited\)/m);
    // The last column is each listener's TLS path (issue 20): the C TLS engine by default, '-' for daemons without TLS.
    for (const d of daemons)
      assert.match(out, new RegExp(`^${d}\\s+active \\(running\\)\\s+\\d+\\s+0\\s+\\d+/(udp|tcp) listening\\s+(engine|-)$`, 'm'));
    for (const d of ['sbd-tvsd', 'sbd-capfd', 'sbd-sipd'].filter((x) => daemons.includes(x)))
      assert.match(out, new RegExp(`^${d}\\s.*\\sengine$`, 'm'));
    console.log(out);
  });

  await t.test('admin: show itl lists the ITL records with a valid signature', async () => {
    const out = await g.admin('show itl');
    assert.match(out, /^records: 5 \(SAST, CCM\+TFTP, SAST, TVS, CAPF\)$/m);
    assert.match(out, /^signature: valid \(signer: record 0 \(CN=ITLRECOVERY_sbd;/m);
  });

  await t.test('admin: unknown command gets a suggestion, no stack trace', async () => {
    const out = await g.admin('shwo itl');
    assert.match(out, /^error: unknown command "shwo itl"; did you mean "show itl"\?$/m);
  });

  await t.test('systemctl --failed is empty', async () => {
    const [status, out] = await g.root('systemctl list-units --failed --no-legend --plain');
    assert.equal(status, 0);
    assert.equal(out, '', `failed units:\n${out}`);
  });

  await t.test('the daemons answer from the host over the tap network', async () => {
    if (daemons.includes('sbd-tvsd')) {
      await new Promise<void>((resolve, reject) => {
        const s = connect({ host: g.guestIp, port: 2445, timeout: 60_000 });
        s.once('connect', () => {
          s.destroy();
          resolve();
        });
        s.once('timeout', () => reject(new Error('TVS: connect timeout')));
        s.once('error', reject);
      });
      console.log(`# TVS accepts TCP on ${g.guestIp}:2445 from the host`);
    }
  });

  // Simulated phones on the host against the guest's TFTP, TVS and CAPF; regeneration and mixed mode on the console.
  if (daemons.includes('sbd-tftpd')) await phoneChecks(t, g);

  const victim = daemons[0];
  await t.test(
    'kill -9 of a daemon: systemd restarts it (Restart=on-failure)',
    { skip: !victim && 'no daemon in this image' },
    async () => {
      const before = unitProps((await g.root(show(victim!)))[1]);
      await g.root(`kill -9 ${before.MainPID}`);
      const after = unitProps(
        await until(
          g,
          show(victim!),
          (o) => {
            const p = unitProps(o);
            return p.SubState === 'running' && p.MainPID !== before.MainPID && Number(p.NRestarts) > Number(before.NRestarts);
          },
          5 * 60_000,
          `${victim} back after SIGKILL`,
        ),
      );
      assert.notEqual(after.MainPID, before.MainPID);
    },
  );

  await t.test('a daemon that stops answering its watchdog is restarted', { skip: !victim && 'no daemon in this image' }, async () => {
    const before = unitProps((await g.root(show(victim!)))[1]);
    // SIGSTOP freezes the event loop, as a hang would: no more WATCHDOG=1 pings.
    await g.root(`kill -STOP ${before.MainPID}`);
    await until(
      g,
      show(victim!),
      (o) => {
        const p = unitProps(o);
        return p.SubState === 'running' && p.MainPID !== before.MainPID;
      },
      5 * 60_000,
      `${victim} restarted by the watchdog`,
    );
    const [, journal] = await g.root(`journalctl -b -u ${victim} --no-pager -o cat | grep -i watchdog | tail -3`);
    assert.match(journal, /Watchdog timeout/i);
  });

  await t.test("SRTP engine self-test on the guest kernel's crypto API (AF_ALG; the build host has none)", async (st) => {
    const [, help] = await g.root('sbd help srtp');
    if (!help.includes('srtp selftest')) return st.skip('no `sbd srtp selftest` in this build');
    const [status, out] = await g.root('sbd srtp selftest --backend af_alg > /tmp/st 2>&1; r=$?; tail -5 /tmp/st; (exit $r)');
    console.log(`# srtp selftest (af_alg, in the guest):\n${out}`);
    assert.equal(status, 0, out);
  });

  await t.test('systemd-analyze security exposure of each daemon', async () => {
    for (const d of daemons) {
      const [, out] = await g.root(`systemd-analyze security --no-pager ${d}.service | tail -1`);
      console.log(`# ${d}: ${out}`);
      assert.match(out, /Overall exposure level for .*: \d+\.\d/);
    }
  });

  await t.test('admin: utils system shutdown powers off cleanly', async () => {
    g.type('utils system shutdown\r');
    await g.waitFor(/\(yes\/no\) $/m, 120_000, 'shutdown question');
    g.type('yes\r');
    const code = await g.exit(5 * 60_000);
    assert.equal(code, 0, 'QEMU exits by itself after the guest powers off');
    assert.match(g.console.text, /reboot: Power down/);
    console.log(`# powered off ${elapsed(g.started)} after QEMU start`);
  });
});

test('the image artifacts: a GPT disk with an ESP that boots its root, flashable with bmaptool', () => {
  const out = `${process.env.SBD_IMAGE_DIR ?? `${repo}/build/image`}/x86_64`;
  for (const f of ['sbd-x86_64.img.zst', 'sbd-x86_64.img.bmap', 'disk.raw', 'vmlinuz', 'initrd.img', 'size-report.txt']) {
    assert.ok(existsSync(`${out}/${f}`), f);
  }
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const table = JSON.parse(run('sfdisk', ['--json', `${out}/disk.raw`])) as {
    partitiontable: { label: string; partitions: { start: number; type: string; uuid: string; name: string }[] };
  };
  assert.equal(table.partitiontable.label, 'gpt');
  const [esp, root] = table.partitiontable.partitions;
  assert.equal(esp?.type, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'partition 1 is the EFI system partition');
  assert.equal(root?.type, '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709', 'partition 2 is an x86-64 root');
  // The ESP: the removable-media boot path holds systemd-boot; its entry boots partition 2 (single layout: by its
  // GPT id; A/B layout, docs/image.md: slot a by its GPT name, sbd-root-a).
  const ab = root!.name === 'sbd-root-a';
  const espImage = `${out}/disk.raw@@${esp!.start * 512}`;
  const files = run('mdir', ['-/', '-b', '-i', espImage, '::/']);
  const entryFile = ab ? '::/loader/entries/sbd-a.conf' : '::/loader/entries/sbd.conf';
  const kernelDir = ab ? '::/sbd/a' : '::/sbd';
  for (const f of ['::/EFI/BOOT/BOOTX64.EFI', '::/loader/loader.conf', entryFile, `${kernelDir}/vmlinuz`, `${kernelDir}/initrd.img`]) {
    assert.ok(files.split('\n').includes(f), `${f} in the ESP:\n${files}`);
  }
  const entry = run('mtype', ['-i', espImage, entryFile]);
  assert.match(
    entry,
    ab ? /^options root=PARTLABEL=sbd-root-a ro sbd\.slot=a /m : new RegExp(`^options root=PARTUUID=${root!.uuid.toLowerCase()} `, 'm'),
  );
  assert.match(run('mtype', ['-i', espImage, '::/loader/loader.conf']), /^editor no$/m, 'no kernel command line editing at the console');
  // The flashing steps of docs/image.md, onto a file: bmaptool checks each mapped range's SHA-256 as it writes.
  const dir = mkdtempSync(join(tmpdir(), 'sbd-flash-'));
  try {
    run('bmaptool', ['copy', '--bmap', `${out}/sbd-x86_64.img.bmap`, `${out}/sbd-x86_64.img.zst`, `${dir}/disk`]);
    run('cmp', [`${dir}/disk`, `${out}/disk.raw`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the ESP's kernel: Debian's, re-wrapped with an LZ4 payload (image/kernel-lz4.sh)", () => {
  const out = `${process.env.SBD_IMAGE_DIR ?? `${repo}/build/image`}/x86_64`;
  const kernel = readFileSync(`${out}/vmlinuz`);
  // Boot protocol setup header: setup sectors at 0x1f1, payload offset/length at 0x248/0x24c, version string at 0x20e.
  const payloadStart = (kernel[0x1f1]! + 1) * 512 + kernel.readUInt32LE(0x248);
  const payload = kernel.subarray(payloadStart, payloadStart + kernel.readUInt32LE(0x24c));
  assert.equal(payload.readUInt32LE(0), 0x184c2102, 'the payload is LZ4 (legacy frames), not XZ');
  const bannerAt = kernel.readUInt16LE(0x20e) + 0x200;
  const banner = kernel.subarray(bannerAt, kernel.indexOf(0, bannerAt)).toString('latin1');
  assert.match(banner, /^\d+\.\d+\.\d+-\d+-amd64 \(debian-kernel@lists\.debian\.org\) #1 SMP .* Debian \S+ \(\d{4}-\d\d-\d\d\)$/);
  // The payload unpacks (lz4; kbuild appends the unpacked size as 4 bytes) to the kernel's ELF.
  const unpacked = spawnSync('lz4', ['-dc'], { input: payload.subarray(0, payload.length - 4), maxBuffer: 256 << 20 });
  assert.equal(unpacked.status, 0, String(unpacked.stderr));
  assert.equal(unpacked.stdout.subarray(0, 4).toString('latin1'), '\x7fELF');
  assert.equal(unpacked.stdout.length, payload.readUInt32LE(payload.length - 4));
  assert.match(readFileSync(`${out}/size-report.txt`, 'utf8'), /kernel \(vmlinuz\) .* payload LZ4/);
});
