/**
 * Many simulated phones booting at once in one process (`sbd phone storm`): N phones with consecutive MACs, at
 * most `concurrency` booting at a time, all sharing one TFTP client pool and one parsed-list cache. Each phone
 * keeps its own folder, so a second storm boots phones that already hold an ITL.
 */
import { performance } from 'node:perf_hooks';
import { TftpClientPool } from '../tftp/client.js';
import { Verdict } from './decisions.js';
import { SimError, SimErrorCode } from './errors.js';
import { bootSimPhone, type PhoneBootReport, type VerifyUnknownSigner } from './phone.js';
import { deviceNameOfMac } from './phone-folder.js';
import { poolOptionsFor, TftpFetcher, type TftpEndpoint, type TftpFetcherOptions } from './tftp-fetcher.js';
import { TrustListViewCache } from './trust-list-view.js';

export interface StormOptions {
  server: TftpEndpoint;
  stateDir: string;
  count: number;
  /** Phones booting at the same time. Default 250 (a paced boot). */
  concurrency?: number;
  /** First MAC; phone i gets MAC + i. Default 00AA00000000. */
  macBase?: string;
  model?: string;
  /** Client sockets shared by all phones. Default 64. */
  sockets?: number;
  fetch?: TftpFetcherOptions;
  verifyUnknownSigner?: VerifyUnknownSigner;
  /** Called after each phone (progress, or collecting reports). */
  onPhone?: (report: PhoneBootReport) => void;
}

export interface StormSummary {
  phones: number;
  /** Phones that ended with a trusted config. */
  booted: number;
  failed: number;
  durationMs: number;
  phonesPerSecond: number;
  files: number;
  filesPerSecond: number;
  bytes: number;
  notFound: number;
  transferFailures: number;
  retransmissions: number;
  bootP50Ms: number;
  bootP99Ms: number;
  /** "ITL trusted", "config accepted", … → phones. */
  verdicts: Record<string, number>;
  /** A few example lines of what went wrong, for the operator. */
  examples: string[];
}

export const stormLimits = { maxCount: 1_000_000, maxConcurrency: 65_536 } as const;

export function macsFrom(base: string, count: number): string[] {
  const start = BigInt('0x' + deviceNameOfMac(base).slice(3));
  if (start + BigInt(count) > 0xffffffffffffn) throw new SimError(SimErrorCode.mac, `${count} phones from ${base} run past FFFFFFFFFFFF`);
  return Array.from({ length: count }, (_, i) => `SEP${(start + BigInt(i)).toString(16).toUpperCase().padStart(12, '0')}`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runStorm(o: StormOptions): Promise<StormSummary> {
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > stormLimits.maxCount)
    throw new SimError(SimErrorCode.server, `count must be 1..${stormLimits.maxCount}`);
  const concurrency = Math.min(o.concurrency ?? 250, o.count);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > stormLimits.maxConcurrency)
    throw new SimError(SimErrorCode.server, `concurrency must be 1..${stormLimits.maxConcurrency}`);
  const names = macsFrom(o.macBase ?? '00AA00000000', o.count);
  const pool = new TftpClientPool(poolOptionsFor(o.server, o.sockets ?? 64));
  const fetcher = new TftpFetcher(o.server, pool, o.fetch);
  const views = new TrustListViewCache();
  const times: number[] = [];
  const verdicts: Record<string, number> = {};
  const examples: string[] = [];
  let booted = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const deviceName = names[next++]!;
      const start = performance.now();
      let report: PhoneBootReport;
      try {
        report = await bootSimPhone({
          stateDir: o.stateDir,
          deviceName,
          fetcher,
          views,
          ...(o.model ? { model: o.model } : {}),
          ...(o.verifyUnknownSigner ? { verifyUnknownSigner: o.verifyUnknownSigner } : {}),
        });
      } catch (err) {
        verdicts['phone error'] = (verdicts['phone error'] ?? 0) + 1;
        if (examples.length < 5) examples.push(`${deviceName}: ${(err as Error).message}`);
        continue;
      }
      times.push(performance.now() - start);
      if (report.configTrusted) booted++;
      for (const d of report.decisions) {
        const key = `${d.subject} ${d.verdict}`;
        verdicts[key] = (verdicts[key] ?? 0) + 1;
        if ((d.verdict === Verdict.rejected || d.verdict === Verdict.failed) && examples.length < 5)
          examples.push(`${deviceName} ${d.file}: ${d.text}`);
      }
      o.onPhone?.(report);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.close();
  }
  const durationMs = performance.now() - t0;
  times.sort((a, b) => a - b);
  const s = fetcher.stats;
  return {
    phones: o.count,
    booted,
    failed: o.count - booted,
    durationMs,
    phonesPerSecond: (booted * 1000) / durationMs,
    files: s.files,
    filesPerSecond: (s.files * 1000) / durationMs,
    bytes: s.bytes,
    notFound: s.notFound,
    transferFailures: s.failed,
    retransmissions: s.retransmissions,
    bootP50Ms: percentile(times, 50),
    bootP99Ms: percentile(times, 99),
    verdicts,
    examples,
  };
}

export function formatStormSummary(s: StormSummary): string[] {
  const lines = [
    `phones: ${s.phones}, booted with a trusted config: ${s.booted}, failed: ${s.failed}`,
    `time: ${(s.durationMs / 1000).toFixed(2)} s, ${s.phonesPerSecond.toFixed(0)} phones/s, ${s.files} files (${s.filesPerSecond.toFixed(0)} files/s, ${s.bytes} bytes), ${s.notFound} not found, ${s.transferFailures} transfer failures, ${s.retransmissions} retransmissions`,
    `boot time: p50 ${s.bootP50Ms.toFixed(1)} ms, p99 ${s.bootP99Ms.toFixed(1)} ms`,
    ...Object.entries(s.verdicts)
      .sort()
      .map(([k, n]) => `  ${k}: ${n}`),
  ];
  if (s.examples.length) lines.push('examples:', ...s.examples.map((e) => `  ${e}`));
  return lines;
}
