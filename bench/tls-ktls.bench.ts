/**
 * bench/tls-ktls (issue 20 item 4, last part): kernel TLS on vs off inside the firmware image under QEMU.
 * An echo server in the guest, built from the image's own dist (test/image/ktls-guest.ts), on the TLS engine with
 * kTLS on (the record layer in the kernel, Node reads the TCP socket), on the engine with kTLS off (OpenSSL in the
 * engine's worker keeps the record layer and relays plaintext to Node on its stream), and on node:tls for reference.
 * The host drives it, TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384 (what phones use), one row after the other in one boot:
 *  - kept connection: SBD_BENCH_MIB MiB (default 16) each way through one connection, every byte compared;
 *    bytes through the guest's TLS per second (both directions) and the echo server's CPU (all threads) per MiB;
 *  - new connections: SBD_BENCH_CONNECTIONS (default 40) one after another, each a full handshake, a 200-byte
 *    echo and a close; connections/s and the server's CPU per connection.
 * The guest's sbd daemons are stopped first so that only the echo server works. KVM is unusable on these machines:
 * TCG only, so absolute figures are far below hardware; the ratios in one run are what to read.
 *
 *   /work/bin/qemu-slot node --import tsx bench/tls-ktls.bench.ts [--no-build]   (or any way to hold a QEMU slot)
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { Guest, elapsed, repo, until } from '../test/image/guest.js';
import {
  type EchoMode,
  echoKept,
  echoModeName,
  echoNew,
  guestCpu,
  installEcho,
  startEcho,
  stopEcho,
  tlsStat,
} from '../test/image/ktls-guest.js';

const MIB = Number(process.env.SBD_BENCH_MIB ?? 16);
const CONNECTIONS = Number(process.env.SBD_BENCH_CONNECTIONS ?? 40);
const BOOT_TIMEOUT_MS = 15 * 60_000;

interface Row {
  mode: EchoMode;
  mibPerS: number;
  cpuMsPerMib: number;
  connPerS: number;
  cpuMsPerConn: number;
}

const t0 = Date.now();
if (!process.argv.includes('--no-build')) {
  const build = spawnSync('bash', [`${repo}/image/build.sh`, 'x86_64', '--if-stale'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('image build failed');
  console.log(`image ready in ${elapsed(t0)}`);
}
const g = new Guest({ arch: 'x86_64', net: 1 + Math.floor(Math.random() * 250), debugShell: true });
try {
  await g.waitFor(/login: $/m, BOOT_TIMEOUT_MS, 'login prompt'); // the debug shell's socket is up by then
  await g.root('true', 5 * 60_000);
  await until(g, 'systemctl is-active sbd-firstboot', (o) => o === 'active', BOOT_TIMEOUT_MS, 'sbd-firstboot finished');
  await g.root('systemctl stop sbd-tvsd sbd-capfd sbd-sipd sbd-mediad sbd-tftpd; true', 5 * 60_000);
  const [, kernel] = await g.root('uname -r; grep -c ^processor /proc/cpuinfo; grep -m1 -o -w aes /proc/cpuinfo || echo no-aes-ni');
  console.log(`guest: ${kernel.replace(/\n/g, ', ')}`);
  await installEcho(g);
  const rows: Row[] = [];
  for (const mode of ['engine', 'ktls', 'node'] as const) {
    const pid = await startEcho(g, mode);
    try {
      await echoKept(g.guestIp, 1); // warm-up: JIT, the first handshake
      await echoNew(g.guestIp, 3);
      const stat0 = await tlsStat(g);
      let cpu0 = await guestCpu(g, pid);
      const kept = await echoKept(g.guestIp, MIB);
      const cpuKept = (await guestCpu(g, pid)) - cpu0;
      const stat1 = await tlsStat(g);
      const sessions = stat1.TlsTxSw! - stat0.TlsTxSw!;
      if (sessions !== (mode === 'ktls' ? 1 : 0)) throw new Error(`${mode}: ${sessions} kernel TLS sessions on the kept connection`);
      cpu0 = await guestCpu(g, pid);
      const seconds = await echoNew(g.guestIp, CONNECTIONS);
      const cpuNew = (await guestCpu(g, pid)) - cpu0;
      const row: Row = {
        mode,
        mibPerS: (2 * MIB) / kept.seconds,
        cpuMsPerMib: (cpuKept * 1000) / (2 * MIB),
        connPerS: CONNECTIONS / seconds,
        cpuMsPerConn: (cpuNew * 1000) / CONNECTIONS,
      };
      rows.push(row);
      console.log(`${mode}: ${JSON.stringify(row)} (${kept.cipher})`);
    } finally {
      await stopEcho(g, pid);
    }
  }
  const by = (m: EchoMode) => rows.find((r) => r.mode === m)!;
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const on = by('ktls');
  const off = by('engine');
  console.log(
    `\nkTLS in the image under QEMU (TCG, 2 vCPUs), ${new Date().toISOString().slice(0, 16)} UTC, host load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; kept connection ${MIB} MiB each way, ${CONNECTIONS} new connections\n`,
  );
  console.log('| path | kept: MiB/s through guest TLS | kept: guest CPU per MiB | new connections/s | guest CPU per connection |');
  console.log('|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${echoModeName[r.mode]} | ${r.mibPerS.toFixed(2)} | ${r.cpuMsPerMib.toFixed(0)} ms | ${r.connPerS.toFixed(1)} | ${r.cpuMsPerConn.toFixed(0)} ms |`,
    );
  console.log(
    `\nkTLS on against off, same run: kept ${x(on.mibPerS, off.mibPerS)} the bytes/s with ${x(on.cpuMsPerMib, off.cpuMsPerMib)} the CPU per MiB; ` +
      `new connections ${x(on.connPerS, off.connPerS)} the rate with ${x(on.cpuMsPerConn, off.cpuMsPerConn)} the CPU each`,
  );
} finally {
  await g.dispose();
}
