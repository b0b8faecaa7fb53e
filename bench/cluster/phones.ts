/**
 * One load-generator process of bench/cluster: `count` simulated phones (src/sim) with consecutive MACs from
 * `macBase`, at most `concurrency` at a time, each booting from one TFTP server (CTL, ITL, its signed config, as
 * `bootSimPhone` does) and then registering over UDP with the line and digest credentials that config delivered,
 * at the first call manager of its config's group (`sip` maps a configured host to the port its SIP daemon really
 * listens on), reporting the ITL it holds. Prints one JSON line with the counts and times.
 *
 *   node --import tsx bench/cluster/phones.ts '<json PhonesJob>'
 */
import { performance } from 'node:perf_hooks';
import { loadPhone, readLineCredentials } from '../../src/sim/phone-folder.js';
import { bootSimPhone } from '../../src/sim/phone.js';
import { SipPhone } from '../../src/sim/sip-ua/user-agent.js';
import { macsFrom } from '../../src/sim/storm.js';
import { poolOptionsFor, TftpFetcher } from '../../src/sim/tftp-fetcher.js';
import { TrustListViewCache } from '../../src/sim/trust-list-view.js';
import { TftpClientPool } from '../../src/tftp/client.js';

export interface PhonesJob {
  tftp: { host: string; port: number };
  /** Configured call-manager host → the UDP port its SIP daemon listens on. */
  sip: Record<string, number>;
  macBase: string;
  count: number;
  concurrency: number;
  phonesDir: string;
  /** This generator's first phone's index in the whole run: each phone sends SIP from its own address (phoneAddress). */
  firstIndex: number;
}

/**
 * Phone `i`'s own loopback address, 127.2.0.1 onwards (the TFTP pool's sockets use 127.1.x.y). From one shared
 * address a boot storm is a crowd behind one NAT: sbd's flood guard bans it after 30 challenges with no success
 * in 10 s (sip/auth/flood-guard.ts), and a simulated UA that does not retransmit loses 20 s per phone.
 */
export function phoneAddress(i: number): string {
  return `127.${2 + Math.floor(i / 65025)}.${Math.floor(i / 255) % 255}.${(i % 255) + 1}`;
}

export interface PhonesResult {
  phones: number;
  booted: number;
  registered: number;
  /** Call manager host → phones registered there. */
  registeredAt: Record<string, number>;
  wallMs: number;
  bootP50Ms: number;
  bootP99Ms: number;
  registerP50Ms: number;
  registerP99Ms: number;
  /** REGISTER attempts that got no final response and were tried again. */
  retried: number;
  /** This generator process's own CPU seconds (user + system). */
  cpuS: number;
  examples: string[];
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function run(job: PhonesJob): Promise<PhonesResult> {
  const names = macsFrom(job.macBase, job.count);
  const pool = new TftpClientPool(poolOptionsFor(job.tftp, 64));
  const fetcher = new TftpFetcher(job.tftp, pool, { timeoutMs: 2000 });
  const views = new TrustListViewCache();
  const bootMs: number[] = [];
  const registerMs: number[] = [];
  const registeredAt: Record<string, number> = {};
  const examples: string[] = [];
  let booted = 0;
  let retried = 0;
  let next = 0;
  const note = (s: string) => {
    if (examples.length < 5) examples.push(s);
  };
  const phone = async (deviceName: string, index: number): Promise<void> => {
    const t0 = performance.now();
    const report = await bootSimPhone({ stateDir: job.phonesDir, deviceName, fetcher, views });
    if (!report.configTrusted) return note(`${deviceName}: no trusted config (${report.decisions.map((d) => d.text).join('; ')})`);
    booted++;
    const t1 = performance.now();
    bootMs.push(t1 - t0);
    const line = await readLineCredentials(job.phonesDir, deviceName);
    if (!line?.authName || !line.authPassword)
      // Which file it took and why (XMLDefault: its own config was answered "not found"): the cause, not just the symptom.
      return note(
        `${deviceName}: the config delivered no digest credentials (config ${report.configFile}; ${report.decisions.map((d) => d.text).join('; ')})`,
      );
    const { services } = await loadPhone(job.phonesDir, deviceName, views);
    const cm = services.callManagers[0];
    const port = cm ? job.sip[cm.host] : undefined;
    if (!cm || port === undefined) return note(`${deviceName}: no call manager with a known SIP port (${cm?.host})`);
    // A phone whose REGISTER gets no final response tries again (as phones do), at most three times in all.
    for (let attempt = 1; ; attempt++) {
      const sip = await SipPhone.connect({
        flow: { transport: 'udp', host: cm.host, port, localAddress: phoneAddress(job.firstIndex + index) },
        line: line.line,
        credentials: { username: line.authName, password: line.authPassword },
        ...(report.itlSha256 ? { itlSha256: report.itlSha256 } : {}),
        requestTimeoutMs: 20_000,
      });
      try {
        const r = await sip.register(3600);
        if (r.status !== 200) return note(`${deviceName}: REGISTER answered ${r.status}`);
        break;
      } catch (err) {
        if (attempt === 3) throw err;
        retried++;
        note(`${deviceName}: attempt ${attempt}: ${(err as Error).message}`);
      } finally {
        sip.close();
      }
    }
    registerMs.push(performance.now() - t1);
    registeredAt[cm.host] = (registeredAt[cm.host] ?? 0) + 1;
  };
  const t0 = performance.now();
  const worker = async () => {
    while (next < names.length) {
      const index = next++;
      const name = names[index]!;
      await phone(name, index).catch((err: Error) => note(`${name}: ${err.message}`));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(job.concurrency, names.length) }, worker));
  } finally {
    await pool.close();
  }
  bootMs.sort((a, b) => a - b);
  registerMs.sort((a, b) => a - b);
  return {
    phones: job.count,
    booted,
    registered: registerMs.length,
    retried,
    registeredAt,
    wallMs: performance.now() - t0,
    bootP50Ms: percentile(bootMs, 50),
    bootP99Ms: percentile(bootMs, 99),
    registerP50Ms: percentile(registerMs, 50),
    registerP99Ms: percentile(registerMs, 99),
    cpuS: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    examples,
  };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const job = JSON.parse(process.argv[2] ?? '') as PhonesJob;
  process.stdout.write(`${JSON.stringify(await run(job))}\n`);
  process.exit(0);
}
