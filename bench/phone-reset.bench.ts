/**
 * bench/phone-reset: a bulk reset paced by the default (issue 18 "Must show"). `sbd daemon sip` and `sbd daemon tftp
 * --state` (the appliance's TFTP as shipped: native data plane when built) each in its own process; in this one
 * SBD_BENCH_PHONES (default 5000) simulated phones,
 * each registered over UDP with its digest credentials. `reset --all` through the control socket, as
 * `sbd phone reset --all` sends it: every phone gets its NOTIFY, boots again over TFTP (CTL, ITL, signed config)
 * and re-registers by itself. Printed: the progress lines, the wave's duration, the time until the last phone is
 * back, and the TFTP retransmissions — the server's counter and the phones' own — which the default pace must keep
 * at zero. `SBD_BENCH_PACE` overrides the pace (phones/s).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { initAppliance } from '../src/cluster/init.js';
import { openState } from '../src/store/state.js';
import { systemClock } from '../src/lib/clock.js';
import { digestHa1 } from '../src/credentials/digest-ha1.js';
import { TftpClientPool } from '../src/tftp/client.js';
import { poolOptionsFor, TftpFetcher } from '../src/sim/tftp-fetcher.js';
import { TrustListViewCache } from '../src/sim/trust-list-view.js';
import { refetchOnReset } from '../src/sim/phone.js';
import { SipPhone } from '../src/sim/sip-ua/user-agent.js';
import { controlSocketPath, requestReset } from '../src/sip/phone-control/control-socket.js';
import { resetPacingDefaults } from '../src/sip/phone-control/wave.js';

const n = Number(process.env.SBD_BENCH_PHONES ?? 5000);
const pace = Number(process.env.SBD_BENCH_PACE ?? resetPacingDefaults.phonesPerSecond);
const dir = mkdtempSync(join(tmpdir(), 'sbd-bench-reset-'));
const phonesDir = mkdtempSync(join(tmpdir(), 'sbd-bench-reset-phones-'));
initAppliance({ dir, hostname: 'sbd-bench', ipv4: '127.0.0.1', clock: systemClock });
const { store } = openState(dir);
const realm = store.getParam('SipStationRealm');
const names: string[] = [];
store.transaction(() => {
  for (let i = 0; i < n; i++) {
    const name = `SEP${(0x00ee00000000 + i).toString(16).toUpperCase().padStart(12, '0')}`;
    const dn = String(200000 + i);
    store.putUser({ userid: `u${dn}`, credentialHash: 'unused-by-sip', algorithm: 'none', kind: 'end' });
    const h = digestHa1(`u${dn}`, realm, `pw-${dn}`);
    store.putDigestCredential(`u${dn}`, realm, h.ha1Md5, h.ha1Sha256);
    store.addDevice({ name, model: '8845', directoryNumber: dn, digestUser: `u${dn}` });
    names.push(name);
  }
});

const tftpd = spawn(
  process.execPath,
  ['--import', 'tsx', 'src/cli/main.ts', 'daemon', 'tftp', '--state', dir, '--bind', '127.0.0.1', '--port', '0'],
  { stdio: ['ignore', 'pipe', 'ignore'] },
);
const tftpLog: Array<Record<string, unknown>> = [];
const tftpLines = createInterface({ input: tftpd.stdout! });
tftpLines.on('line', (l) => tftpLog.push(JSON.parse(l) as Record<string, unknown>));
while (!tftpLog.some((l) => l.event === 'listening')) await new Promise((r) => setTimeout(r, 50));
const tftp = { port: (tftpLog.find((l) => l.event === 'listening')!.addresses as Array<{ port: number }>)[0]!.port };
const sipd = spawn(
  process.execPath,
  ['--import', 'tsx', 'src/cli/main.ts', 'daemon', 'sip', '--state', dir, '--bind', '127.0.0.1', '--port', '0', '--no-tls'],
  { stdio: ['ignore', 'pipe', 'ignore'] },
);
const [line] = (await once(createInterface({ input: sipd.stdout! }), 'line')) as [string];
const ports = JSON.parse(line) as { udp: number };

const pool = new TftpClientPool(poolOptionsFor({ host: '127.0.0.1', port: tftp.port }, 64));
const fetcher = new TftpFetcher({ host: '127.0.0.1', port: tftp.port }, pool, { timeoutMs: 1000, retries: 5 });
const views = new TrustListViewCache();
const phones: SipPhone[] = [];
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: 100 }, async () => {
    while (next < n) {
      const i = next++;
      const dn = String(200000 + i);
      const p = await SipPhone.connect({
        flow: { transport: 'udp', host: '127.0.0.1', port: ports.udp },
        line: dn,
        credentials: { username: `u${dn}`, password: `pw-${dn}` },
        refetch: refetchOnReset({ stateDir: phonesDir, deviceName: names[i]!, model: '8845', fetcher, views }),
      });
      await p.register();
      phones[i] = p;
    }
  }),
);
console.log(`${n} phones registered over UDP in ${((performance.now() - t0) / 1000).toFixed(1)} s; reset --all at ${pace} phones/s`);

const before = { client: fetcher.stats.retransmissions };
const t1 = performance.now();
const last = await requestReset(
  controlSocketPath(dir),
  { op: 'reset', kind: 'reset', select: { all: true }, phonesPerSecond: pace },
  (e) => {
    if (e.event === 'progress')
      console.log(
        `reset: ${e.sent} of ${e.total} sent, ${e.acknowledged} acknowledged, ${e.reregistered} re-registered, ${e.failed} failed`,
      );
  },
);
const waveS = (performance.now() - t1) / 1000;
for (const end = Date.now() + 120_000; phones.some((p) => p.control.resets < 1) && Date.now() < end; )
  await new Promise((r) => setTimeout(r, 100));
const backS = (performance.now() - t1) / 1000;
const summary = {
  phones: n,
  phonesPerSecond: pace,
  event: last.event,
  ...(last.event === 'done'
    ? {
        acknowledged: last.acknowledged,
        reregistered: last.reregistered,
        failed: last.failed,
        unregistered: last.unregistered.length,
        waveMs: last.durationMs,
      }
    : {}),
  phonesBack: phones.filter((p) => p.control.resets === 1).length,
  waveSeconds: Number(waveS.toFixed(1)),
  lastPhoneBackSeconds: Number(backS.toFixed(1)),
  tftpClientRetransmissions: fetcher.stats.retransmissions - before.client,
  tftpFiles: fetcher.stats.files,
  tftpFailed: fetcher.stats.failed,
  refetchFailures: phones.reduce((k, p) => k + p.control.refetchFailures, 0),
  ...(last.event === 'done' && last.notReregistered.length > 0 ? { notReregistered: last.notReregistered.length } : {}),
};
for (const p of phones) p.close();
sipd.kill('SIGTERM');
await once(sipd, 'exit');
await pool.close();
// The server's own counters come in its `stopping` line (the whole run: no phone booted before the wave).
tftpd.kill('SIGTERM');
await once(tftpd, 'exit');
const stop = tftpLog.find((l) => l.event === 'stopping') ?? {};
console.log(
  JSON.stringify({
    ...summary,
    tftpEngine: tftpLog.find((l) => l.event === 'listening')?.engine,
    tftpServerRetransmissions: stop.retransmissions,
    tftpServerTransfersFailed: stop.transfersFailed,
    tftpServerTransfersCompleted: stop.transfersCompleted,
  }),
);
store.close();
rmSync(dir, { recursive: true, force: true });
rmSync(phonesDir, { recursive: true, force: true });
