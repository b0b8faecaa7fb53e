/**
 * bench/image: the firmware image's size, its boot under TCG stage by stage, twice — the first boot (keys,
 * certificates and the first ITL are made) and a later boot of the same disk — and the memory the running
 * appliance uses (MemTotal − MemAvailable, each daemon's RSS and private anonymous memory).
 * Stages (issue 19 item 7): image/run.sh's own setup (network namespace, overlay, the ESP's run arguments: the
 * runner's, not the machine's), QEMU start → kernel (UEFI firmware, systemd-boot), kernel + initrd,
 * systemd units before sbd, first boot (address, keys, certificates, ITL), sbd-tftpd's ExecStartPre, node start →
 * READY, READY → the first ITL fetched by the host. The guest's stamps are CLOCK_MONOTONIC (from kernel start);
 * /proc/uptime read over the debug shell places kernel start on the host's clock (± half a round trip).
 * "ITL served": a poller on the host asks for ITLFile.tlv over TFTP every 250 ms from QEMU start on.
 * The later boot: the same disk (a kept overlay, image/run.sh --overlay) powered off and booted again.
 * KVM is unusable on these machines: TCG only.
 *
 *   node --import tsx bench/image.bench.ts [--arch x86_64|arm64] [--no-build]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Guest, elapsed, repo } from '../test/image/guest.js';
import { hostSbd } from '../test/image/phones.js';
import { fetchFile } from '../src/tftp/client.js';
import { parseTrustFile } from '../src/trust/codec.js';

const arch = (process.argv.includes('--arch') ? process.argv[process.argv.indexOf('--arch') + 1] : 'x86_64') as 'x86_64' | 'arm64';
const BOOT_TIMEOUT_MS = 15 * 60_000;
/** How often the host asks for the ITL while the guest boots. */
const ITL_POLL_MS = 250;

type Rows = [string, string][];
const sec = (ms: number) => (ms / 1000).toFixed(1);

const t0 = Date.now();
// --no-build: measure the image already in SBD_IMAGE_DIR as it is (e.g. one built from another revision).
if (!process.argv.includes('--no-build')) {
  const build = spawnSync('bash', [`${repo}/image/build.sh`, arch, '--if-stale'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('image build failed');
  console.log(`image ready in ${elapsed(t0)}`);
}
const imageDir = process.env.SBD_IMAGE_DIR ?? `${repo}/build/image`;
const out = `${imageDir}/${arch}`;
const mb = (f: string) => (statSync(`${out}/${f}`).size / 1048576).toFixed(1);
const net = 1 + Math.floor(Math.random() * 250);

/**
 * QEMU's own CPU time so far (user + system, seconds), found by the overlay on its command line: on a loaded host
 * the wall time stretches with the other processes, the emulator's CPU time much less (issue 19 item 7's A/Bs).
 */
function qemuCpuSeconds(overlay: string): number | undefined {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.startsWith('qemu-system-') || !cmd.includes(overlay)) continue;
      // Fields after the parenthesised command name: utime and stime are the 12th and 13th (clock ticks, 100 Hz).
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      /* gone meanwhile */
    }
  }
  return undefined;
}

interface Served {
  /** Host time the ITL arrived. */
  at: number;
  /** QEMU's CPU time then (seconds). */
  qemuCpu: number | undefined;
}

/** Polls TFTP for a whole, parseable ITLFile.tlv from QEMU start; resolves when and at what QEMU CPU time it arrived. */
function pollItl(g: Guest, stop: () => boolean): Promise<Served | undefined> {
  return (async () => {
    while (!stop() && Date.now() - g.started < BOOT_TIMEOUT_MS) {
      const tried = Date.now();
      try {
        const r = await fetchFile({ server: g.guestIp, name: 'ITLFile.tlv', timeoutMs: 500, retries: 1 });
        if (parseTrustFile(r.data).records.length > 0) return { at: Date.now(), qemuCpu: qemuCpuSeconds(overlay) };
      } catch {
        /* not up yet: timeout, ICMP unreachable, or a TFTP error while first boot runs */
      }
      await new Promise((r) => setTimeout(r, Math.max(0, ITL_POLL_MS - (Date.now() - tried))));
    }
    return undefined;
  })();
}

/** `systemctl show` monotonic stamps (µs since kernel start) of one unit, or of the manager when unit is ''. */
async function stamps(g: Guest, unit: string, props: string[]): Promise<Record<string, number>> {
  const [, o] = await g.root(`systemctl show ${props.map((p) => `-p ${p}`).join(' ')} ${unit}`);
  const r: Record<string, number> = {};
  for (const line of o.split('\n')) {
    const [k, v] = line.split('=');
    if (k && v !== undefined) r[k] = Number(v);
  }
  return r;
}

interface BootResult {
  rows: Rows;
  memory: Rows;
}

/** One boot, measured; `first`: the store is made in it. */
async function measureBoot(g: Guest, first: boolean): Promise<BootResult> {
  const rows: Rows = [];
  const memory: Rows = [];
  let stop = false;
  const itl = pollItl(g, () => stop);
  try {
    await g.waitFor(/login: $/m, BOOT_TIMEOUT_MS, 'login prompt');
    const login = Date.now() - g.started;
    const poll = async (cmd: string, ok: (s: string) => boolean) => {
      for (;;) {
        const [, o] = await g.root(cmd);
        if (ok(o)) return;
        if (Date.now() - g.started > BOOT_TIMEOUT_MS) throw new Error(`timeout: ${cmd}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    // Kernel start on the host's clock.
    const asked = Date.now();
    const [, up] = await g.root('cut -d" " -f1 /proc/uptime');
    const kernel = (asked + Date.now()) / 2 - Number(up) * 1000;
    if (first) await poll('systemctl is-active sbd-firstboot', (o) => o === 'active');
    // The daemons this image starts (sbd-clusterd, say, is installed but disabled on a single node).
    const daemons = (
      await g.root("systemctl list-unit-files --state=enabled --no-legend 'sbd-*d.service' | awk '{print $1}' | sed 's/\\.service$//'")
    )[1]
      .split('\n')
      .filter(Boolean);
    for (const d of daemons) await poll(`systemctl show -p SubState --value ${d}`, (o) => o === 'running');
    const ready = Date.now() - g.started;
    const itlServed = await itl;
    const served = itlServed?.at;
    stop = true;
    const m = await stamps(g, '', ['UserspaceTimestampMonotonic']);
    const fb = await stamps(g, 'sbd-firstboot', ['ExecMainStartTimestampMonotonic', 'ExecMainExitTimestampMonotonic']);
    // First boot's own steps, from its journal (monotonic µs): the address found ("initialising"), then `sbd init`.
    const [, fbLog] = first
      ? await g.root('journalctl -b -o short-monotonic --no-pager -u sbd-firstboot | grep -m1 "sbd-firstboot: initialising"')
      : [0, ''];
    const addressAt = /^\[\s*([\d.]+)\]/.exec(fbLog)?.[1];
    const tf = await stamps(g, 'sbd-tftpd', [
      'InactiveExitTimestampMonotonic',
      'ExecMainStartTimestampMonotonic',
      'ActiveEnterTimestampMonotonic',
    ]);
    const [, analyze] = await g.root('systemd-analyze 2>&1 | head -1');
    // What stood on the way to the first ITL, for the log (not the table): the critical chain and the slowest units.
    const [, chain] = await g.root(
      `systemd-analyze critical-chain --no-pager ${first ? 'sbd-firstboot.service ' : ''}sbd-tftpd.service 2>&1; systemd-analyze blame --no-pager 2>&1 | head -12; echo clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource); ls -l /var/lib/sbd/firmware; journalctl -b -o cat --no-pager -u sbd-store-upgrade | tail -3; journalctl -b -k -o short-monotonic --no-pager | grep -m8 -E 'Run /init|sbd-initrd|EXT4-fs .vda4.|systemd 2[0-9]+ running'`,
    );
    console.log(`# ${first ? 'first' : 'later'} boot, critical chain and blame:\n${chain.replace(/^/gm, '#   ')}`);
    const s = (us: number) => sec(us / 1000);
    const userspace = m.UserspaceTimestampMonotonic!;
    // QEMU's start as run.sh marks it; the milestones below count from it (the goals are "after QEMU start").
    const q = g.qemuStarted ?? g.started;
    rows.push(['(run.sh setup before QEMU: namespace, overlay, ESP arguments; not counted)', sec(q - g.started)]);
    rows.push(['QEMU start → kernel start: UEFI firmware, systemd-boot', sec(kernel - q)]);
    rows.push(['kernel + initrd (→ systemd in the root)', s(userspace)]);
    if (first) {
      rows.push(['systemd units before sbd-firstboot', s(fb.ExecMainStartTimestampMonotonic! - userspace)]);
      rows.push([
        'first boot: address, keys, certificates, first ITL',
        s(fb.ExecMainExitTimestampMonotonic! - fb.ExecMainStartTimestampMonotonic!),
      ]);
      if (addressAt !== undefined) {
        const at = Number(addressAt) * 1e6;
        rows.push(['  of which waiting for the network address', s(at - fb.ExecMainStartTimestampMonotonic!)]);
        rows.push(['  of which sbd init (node start, keys, certificates, ITL)', s(fb.ExecMainExitTimestampMonotonic! - at)]);
      }
      rows.push(['first boot done → sbd-tftpd starting', s(tf.InactiveExitTimestampMonotonic! - fb.ExecMainExitTimestampMonotonic!)]);
    } else {
      rows.push(['systemd units before sbd-tftpd', s(tf.InactiveExitTimestampMonotonic! - userspace)]);
    }
    rows.push(['sbd-tftpd ExecStartPre (state-permissions)', s(tf.ExecMainStartTimestampMonotonic! - tf.InactiveExitTimestampMonotonic!)]);
    rows.push(['sbd-tftpd: node start → READY', s(tf.ActiveEnterTimestampMonotonic! - tf.ExecMainStartTimestampMonotonic!)]);
    if (served !== undefined) {
      rows.push(['sbd-tftpd READY → first ITL fetched by the host', sec(served - kernel - tf.ActiveEnterTimestampMonotonic! / 1000)]);
    }
    rows.push(['= QEMU start → ITL served over TFTP to the host', served === undefined ? 'not served' : sec(served - q)]);
    rows.push([
      '(QEMU CPU time at ITL served, both vCPUs and I/O threads; the load-robust figure)',
      itlServed?.qemuCpu === undefined ? '?' : itlServed.qemuCpu.toFixed(1),
    ]);
    rows.push([
      '(run.sh start → ITL served, as measured before 2026-12-07)',
      served === undefined ? 'not served' : sec(served - g.started),
    ]);
    rows.push(['(QEMU start → login prompt)', sec(login - (q - g.started))]);
    rows.push([`(QEMU start → all daemons READY: ${daemons.join(', ')})`, sec(ready - (q - g.started))]);
    rows.push(['(systemd-analyze)', analyze.replace(/^Startup finished in /, '')]);
    // A whole phone boot: ITL trusted on first use and the signed default config verified.
    const phoneState = mkdtempSync(join(tmpdir(), 'sbd-bench-phone-'));
    try {
      const r = await hostSbd(['phone', 'boot', '--server', `${g.guestIp}:69`, '--mac', '00AA11BB22CC', '--state', phoneState]);
      if (r.status !== 0) throw new Error(`phone boot failed: ${r.out}`);
    } finally {
      rmSync(phoneState, { recursive: true, force: true });
    }
    rows.push(['(QEMU start → a simulated phone booted: ITL trusted, config verified)', sec(Date.now() - q)]);
    await new Promise((r) => setTimeout(r, 5000)); // settle
    const [, mem] = await g.root('awk \'/MemTotal/{t=$2}/MemAvailable/{a=$2}END{printf "%d", (t-a)/1024}\' /proc/meminfo');
    memory.push(['appliance memory used, MemTotal − MemAvailable (MB)', mem]);
    for (const d of daemons) {
      const pid = `$(systemctl show -p MainPID --value ${d})`;
      const [, rss] = await g.root(`ps -o rss= -p ${pid} | awk '{printf "%d", $1/1024}'`);
      const [, anon] = await g.root(`awk '/^Pss_Anon/{printf "%d", $2/1024}' /proc/${pid}/smaps_rollup`);
      memory.push([`${d} RSS / private anonymous (MB)`, `${rss} / ${anon}`]);
    }
    return { rows, memory };
  } finally {
    stop = true;
    await itl;
  }
}

if (arch !== 'x86_64') {
  // No debug shell on arm64 (image/run.sh): the login prompt is the one milestone.
  const g = new Guest({ arch, net, debugShell: false });
  try {
    await g.waitFor(/login: $/m, BOOT_TIMEOUT_MS, 'login prompt');
    console.log(
      `\nsbd image ${arch}: ${mb(`sbd-${arch}.img.zst`)} MB compressed; QEMU start → login prompt ${sec(Date.now() - g.started)} s`,
    );
  } finally {
    await g.dispose();
  }
  process.exit(0);
}

const results: [string, BootResult][] = [];
// One machine's disk across both boots: a kept overlay (image/run.sh --overlay), removed at the end.
const work = mkdtempSync(join(tmpdir(), 'sbd-bench-image-'));
const overlay = join(work, 'disk.qcow2');
const g1 = new Guest({ arch, net, debugShell: true, overlay });
try {
  try {
    results.push(['first boot', await measureBoot(g1, true)]);
    await g1.root('systemctl --no-block poweroff');
    await g1.exit(180_000);
  } finally {
    await g1.dispose();
  }
  const g2 = new Guest({ arch, net, debugShell: true, overlay });
  try {
    results.push(['later boot', await measureBoot(g2, false)]);
  } finally {
    await g2.dispose();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(
  `\nsbd image ${arch} — ${g1.boot} boot, TCG (KVM unusable here), CPU ${process.env.QEMU_CPU || 'QEMU default'}, tsc=${process.env.QEMU_TSC || '(kernel default)'}, ${new Date().toISOString().slice(0, 10)}`,
);
const sizes: Rows = [
  ['compressed image, sbd-ARCH.img.zst (MB)', mb(`sbd-${arch}.img.zst`)],
  ['GPT disk, disk.raw (MB)', mb('disk.raw')],
  ['installed rootfs (MB)', /installed \(rootfs\)\s+(\d+)/.exec(readFileSync(`${out}/size-report.txt`, 'utf8'))?.[1] ?? '?'],
];
const all = [...sizes, ...results.flatMap(([, r]) => [...r.rows, ...r.memory])];
const width = Math.max(...all.map((r) => r[0].length));
const print = (rows: Rows) => {
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
};
print(sizes);
for (const [name, r] of results) {
  console.log(`\n ${name}, seconds`);
  print(r.rows);
  console.log(` ${name}, memory (5 s after the phone boot)`);
  print(r.memory);
}
