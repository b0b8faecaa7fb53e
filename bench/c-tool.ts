/**
 * The bench's C load tools (bench/tftp-bootstorm/storm.c, bench/sip-tls-client, bench/tvs-tls-client: written
 * because a Node generator's own CPU set the rate): built with `cc -O2 -Wall -Wextra` into build/bench/<name> on
 * first use and again whenever a source or header is newer than the binary, each run as its own process printing
 * one JSON line.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const repo = join(import.meta.dirname, '..');

export interface CToolSource {
  /** Files given to cc. */
  sources: string[];
  /** Headers they include: only their times count. */
  headers?: string[];
  /** e.g. ['-lssl', '-lcrypto']. */
  libs?: string[];
}

/** Builds build/bench/<name> unless it is newer than every source and header; returns its path. */
export function buildCTool(name: string, s: CToolSource): string {
  const binary = join(repo, 'build/bench', name);
  const inputs = [...s.sources, ...(s.headers ?? [])];
  if (existsSync(binary) && inputs.every((f) => statSync(binary).mtimeMs >= statSync(f).mtimeMs)) return binary;
  mkdirSync(join(repo, 'build/bench'), { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', binary, ...s.sources, ...(s.libs ?? [])], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return binary;
}

/** Runs a tool to its end and parses the JSON it printed; a non-zero exit is an error carrying its stderr. */
export async function runCTool<T>(binary: string, args: string[]): Promise<T> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`${binary.split('/').at(-1)} exited with ${code}: ${err.trim().slice(0, 500)}`);
  return JSON.parse(out) as T;
}
