/**
 * The C boot-storm generator (./storm.c): built with `cc -O2 -Wall -Wextra` into build/bench/storm on first use
 * (and again whenever storm.c is newer than the binary), run as its own process for each storm. Same semantics and
 * result as `runStorm` in ./phones.ts, at a fraction of its CPU per file, so the server — not the generator — is
 * what a run measures.
 */
import { join } from 'node:path';
import { buildCTool, runCTool } from '../c-tool.js';
import type { StormConfig, StormResult } from './phones.js';

const SOURCE = join(import.meta.dirname, 'storm.c');

export interface CStormConfig extends Omit<StormConfig, 'files'> {
  /** Folder the server serves: the generator reads the expected bytes of every file from it before the run. */
  root: string;
  /** File names each phone fetches in order; `{MAC}` becomes the 12 hex digits of `macBase` + the phone's index. */
  fileNames: string[];
  /** Hex, e.g. '001122000000'. */
  macBase: string;
}

/** Builds build/bench/storm unless it is newer than storm.c; returns its path. */
export function buildStorm(): string {
  return buildCTool('storm', { sources: [SOURCE] });
}

interface StormJson {
  booted: number;
  failed: number;
  files: number;
  fileErrors: number;
  fileErrorsBy: Record<string, number>;
  wallMs: number;
  retransmissions: number;
  genCpuS: number;
  bootMs: number[];
}

export async function runStormC(c: CStormConfig): Promise<StormResult & { fileErrorsBy: Record<string, number> }> {
  const bin = buildStorm();
  const args = [
    '--server',
    c.server,
    '--port',
    String(c.port),
    '--root',
    c.root,
    '--files',
    c.fileNames.join(','),
    '--mac-base',
    c.macBase,
    '--phones',
    String(c.phones),
    '--shape',
    c.shape,
    '--in-flight',
    String(c.inFlight),
    '--deadline-ms',
    String(c.deadlineMs),
    '--file-attempts',
    String(c.fileAttempts),
    '--timeout-ms',
    '1000',
    '--retries',
    '5',
    '--boot-times',
  ];
  if (c.request.blksize !== undefined) args.push('--blksize', String(c.request.blksize));
  if (c.request.tsize) args.push('--tsize');
  if (c.request.windowsize !== undefined) args.push('--windowsize', String(c.request.windowsize));
  args.push(...(process.env.SBD_BENCH_STORM_ARGS ?? '').split(' ').filter(Boolean));
  const r = await runCTool<StormJson>(bin, args);
  return {
    booted: r.booted,
    failed: r.failed,
    files: r.files,
    fileErrors: r.fileErrors,
    fileErrorsBy: r.fileErrorsBy,
    wallMs: r.wallMs,
    bootMs: r.bootMs,
    retransmissions: r.retransmissions,
    genCpuS: r.genCpuS,
  };
}
