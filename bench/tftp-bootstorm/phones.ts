/**
 * The boot-storm load generator: N simulated phones, each fetching its CTL, ITL and config in order over TFTP,
 * on one `TftpClientPool` (one socket and one loopback address per phone in flight, as real phones have).
 * A phone retries a failed file like a phone does: up to `fileAttempts` times, after a random 1–3 s pause, on
 * top of the TFTP client's own retransmissions (1 s timeout, 5 retries).
 */
import { TftpClientPool, type FetchRequest } from '../../src/tftp/client.js';

export interface StormConfig {
  server: string;
  port: number;
  phones: number;
  shape: 'paced' | 'burst';
  /** Phones in flight at once when paced. */
  inFlight: number;
  request: Pick<FetchRequest, 'blksize' | 'tsize' | 'windowsize'>;
  /** The three files of phone i, with their expected bytes. */
  files: (i: number) => [string, Buffer][];
  /** A phone still booting after this is counted as failed. */
  deadlineMs: number;
  fileAttempts: number;
}

export interface StormResult {
  booted: number;
  failed: number;
  files: number;
  fileErrors: number;
  wallMs: number;
  bootMs: number[];
  retransmissions: number;
  /** CPU seconds the generator used during the run. */
  genCpuS: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 127.1.0.1, 127.1.0.2, …: one loopback address per socket, so per-client-address limits see separate phones. */
function phoneAddress(i: number): string {
  const n = i + 1;
  return `127.1.${(n >> 8) & 255}.${n & 255}`;
}

export async function runStorm(c: StormConfig): Promise<StormResult> {
  const sockets = c.shape === 'paced' ? Math.min(c.inFlight, c.phones) : c.phones;
  const pool = new TftpClientPool({
    sockets,
    localAddresses: Array.from({ length: sockets }, (_, i) => phoneAddress(i)),
    maxTransfersPerSocket: 1,
    recvBufferSize: 256 * 1024,
  });
  await pool.open();
  const result: StormResult = { booted: 0, failed: 0, files: 0, fileErrors: 0, wallMs: 0, bootMs: [], retransmissions: 0, genCpuS: 0 };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + c.deadlineMs;

  const phone = async (i: number): Promise<void> => {
    const start = performance.now();
    for (const [name, want] of c.files(i)) {
      for (let attempt = 1; ; attempt++) {
        try {
          const r = await pool.fetch({ server: c.server, port: c.port, name, ...c.request, timeoutMs: 1000, retries: 5 });
          if (!r.data.equals(want)) throw new Error(`${name}: wrong bytes`);
          result.files++;
          break;
        } catch {
          result.fileErrors++;
          if (attempt >= c.fileAttempts || performance.now() > deadline) {
            result.failed++;
            return;
          }
          await sleep(1000 + Math.random() * 2000);
        }
      }
    }
    result.booted++;
    result.bootMs.push(performance.now() - start);
  };

  if (c.shape === 'burst') await Promise.all(Array.from({ length: c.phones }, (_, i) => phone(i)));
  else {
    let next = 0;
    // Lanes start spread over START_SPREAD_MS, as storm.c's do (started in one instant they stay in lock step).
    const lane = async (_: unknown, k: number) => {
      await new Promise((resolve) => setTimeout(resolve, (START_SPREAD_MS * k) / sockets));
      while (next < c.phones) await phone(next++);
    };
    await Promise.all(Array.from({ length: sockets }, lane));
  }
  result.wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  result.genCpuS = (cpu.user + cpu.system) / 1e6;
  result.retransmissions = pool.retransmissions;
  result.bootMs.sort((a, b) => a - b);
  await pool.close();
  return result;
}

/** Paced lanes start spread over this long (storm.c --start-spread-ms, same default). */
const START_SPREAD_MS = 10;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
