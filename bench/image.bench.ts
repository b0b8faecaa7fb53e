/**
 * bench/image: the firmware image's size (compressed .img.zst, GPT disk, installed), seconds from QEMU start to the
 * milestones of a first boot under TCG — login prompt, first boot done ("TFTP activated": keys, certificates and
 * the ITL exist), every daemon READY, "ITL served" (the first successful TFTP fetch of ITLFile.tlv from the host:
 * a poller starts with QEMU and asks once a second over the runner's tap network) and a simulated phone booted
 * (ITL trusted, signed config verified) — and the memory the running appliance uses (MemTotal − MemAvailable, and
 * each daemon's RSS).
 * KVM is unusable on these machines (QEMU aborts with -cpu host|max), so there is no KVM column: TCG only.
 *
 *   node --import tsx bench/image.bench.ts [--arch x86_64|arm64]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Guest, elapsed, repo } from '../test/image/guest.js';
import { hostSbd } from '../test/image/phones.js';
import { fetchFile } from '../src/tftp/client.js';
import { parseTrustFile } from '../src/trust/codec.js';

const arch = (process.argv.includes('--arch') ? process.argv[process.argv.indexOf('--arch') + 1] : 'x86_64') as 'x86_64' | 'arm64';
const BOOT_TIMEOUT_MS = 15 * 60_000;

function sec(ms: number): string {
  return (ms / 1000).toFixed(1);
}

const t0 = Date.now();
const build = spawnSync('bash', [`${repo}/image/build.sh`, arch, '--if-stale'], { stdio: 'inherit' });
if (build.status !== 0) throw new Error('image build failed');
console.log(`image ready in ${elapsed(t0)}`);
const out = `${process.env.SBD_IMAGE_DIR ?? `${repo}/build/image`}/${arch}`;
const mb = (f: string) => (statSync(`${out}/${f}`).size / 1048576).toFixed(1);

const net = 1 + Math.floor(Math.random() * 250);
const g = new Guest({ arch, net, debugShell: arch === 'x86_64' });
const rows: [string, string][] = [];
// "ITL served": from QEMU start, one TFTP read request a second (1 s retransmission timeout, 2 tries) until a
// whole, parseable ITLFile.tlv arrives. Before the guest's network and sbd-tftpd are up the requests just time out.
let stopPolling = false;
const itlServed = (async (): Promise<number | undefined> => {
  while (!stopPolling && Date.now() - g.started < BOOT_TIMEOUT_MS) {
    const tried = Date.now();
    try {
      const r = await fetchFile({ server: g.guestIp, name: 'ITLFile.tlv', timeoutMs: 1000, retries: 2 });
      if (parseTrustFile(r.data).records.length > 0) return Date.now() - g.started;
    } catch {
      /* not up yet: timeout, ICMP unreachable, or a TFTP error while first boot runs */
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tried))));
  }
  return undefined;
})();
try {
  await g.waitFor(/login: $/m, BOOT_TIMEOUT_MS, 'login prompt');
  rows.push(['QEMU start → login prompt (s)', sec(Date.now() - g.started)]);
  if (arch === 'x86_64') {
    const poll = async (cmd: string, ok: (s: string) => boolean) => {
      for (;;) {
        const [, o] = await g.root(cmd);
        if (ok(o)) return;
        if (Date.now() - g.started > BOOT_TIMEOUT_MS) throw new Error(`timeout: ${cmd}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    await poll('systemctl is-active sbd-firstboot', (o) => o === 'active');
    rows.push(['QEMU start → first boot done: TFTP activated (s)', sec(Date.now() - g.started)]);
    const daemons = (await g.root('ls /usr/lib/systemd/system | grep -E "^sbd-.*d\\.service$" | sed "s/\\.service//"'))[1]
      .split('\n')
      .filter(Boolean);
    for (const d of daemons) await poll(`systemctl show -p SubState --value ${d}`, (o) => o === 'running');
    rows.push([`QEMU start → daemons READY: ${daemons.join(', ')} (s)`, sec(Date.now() - g.started)]);
    if (daemons.includes('sbd-tftpd')) {
      const served = await itlServed;
      rows.push(['QEMU start → ITL served over TFTP to the host (s)', served === undefined ? 'not served' : sec(served)]);
      // A whole phone boot: ITL trusted on first use and the signed default config verified.
      const phoneState = mkdtempSync(join(tmpdir(), 'sbd-bench-phone-'));
      try {
        const r = await hostSbd(['phone', 'boot', '--server', `${g.guestIp}:69`, '--mac', '00AA11BB22CC', '--state', phoneState]);
        if (r.status !== 0) throw new Error(`phone boot failed: ${r.out}`);
      } finally {
        rmSync(phoneState, { recursive: true, force: true });
      }
      rows.push(['QEMU start → a simulated phone booted: ITL trusted, config verified (s)', sec(Date.now() - g.started)]);
    } else {
      rows.push(['QEMU start → ITL served over TFTP (s)', 'n/a: no sbd-tftpd in this build']);
    }
    const [, mem] = await g.root('awk \'/MemTotal/{t=$2}/MemAvailable/{a=$2}END{printf "%d", (t-a)/1024}\' /proc/meminfo');
    rows.push(['appliance memory used, MemTotal − MemAvailable (MB)', mem]);
    for (const d of daemons) {
      const [, rss] = await g.root(`ps -o rss= -p $(systemctl show -p MainPID --value ${d}) | awk '{printf "%d", $1/1024}'`);
      rows.push([`${d} RSS (MB)`, rss]);
    }
  }
} finally {
  stopPolling = true;
  await itlServed;
  await g.dispose();
}

console.log(`\nsbd image ${arch} — ${g.boot} boot, TCG (KVM unusable here), ${new Date().toISOString().slice(0, 10)}`);
const sizes: [string, string][] = [
  ['compressed image, sbd-ARCH.img.zst (MB)', mb(`sbd-${arch}.img.zst`)],
  ['GPT disk, disk.raw (MB)', mb('disk.raw')],
  ['installed rootfs (MB)', /installed \(rootfs\)\s+(\d+)/.exec(readFileSync(`${out}/size-report.txt`, 'utf8'))?.[1] ?? '?'],
];
const width = Math.max(...[...sizes, ...rows].map((r) => r[0].length));
for (const [k, v] of [...sizes, ...rows]) console.log(`  ${k.padEnd(width)}  ${v}`);
