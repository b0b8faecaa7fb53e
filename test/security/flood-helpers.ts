/**
 * Shared pieces of the flood tests (test/security/flood-*.test.ts, issue 16 build item 11) and bench/sip-abuse:
 * the native sender (./flood-sender.c, built with cc into a temporary folder), its shapes file, a daemon started as
 * its own process (`node --import tsx src/cli/main.ts daemon …`, so its RSS is the daemon's alone) and /proc
 * readings of that process.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repo = join(import.meta.dirname, '../..');
const cliMain = join(repo, 'src/cli/main.ts');

/**
 * One message shape: `bytes` as given (every "@@@@@@@@" becomes the message's index in 8 hex digits), or random
 * bytes (`framed`: without CR/LF, then CRLF "Content-Length: 0" CRLF CRLF). `weight`: its share of the messages.
 */
export type FloodShape =
  | { name: string; weight: number; bytes: Buffer | string }
  | { name: string; weight: number; random: number; framed?: boolean };

/** Folder with the built sender; removed by `dispose`. */
export interface FloodSender {
  binary: string;
  dir: string;
  dispose(): void;
}

/** Builds ./flood-sender.c with cc into a new temporary folder. */
export function buildSender(): FloodSender {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-flood-'));
  const binary = join(dir, 'flood-sender');
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', binary, join(import.meta.dirname, 'flood-sender.c')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return { binary, dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The shapes file the sender reads: records of { u8 kind, u32 weight, u32 length, bytes }. */
export function encodeShapes(shapes: readonly FloodShape[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of shapes) {
    const head = Buffer.alloc(9);
    if ('random' in s) {
      head.writeUInt8(s.framed ? 2 : 1, 0);
      head.writeUInt32BE(s.weight, 1);
      head.writeUInt32BE(s.random, 5);
      parts.push(head);
    } else {
      const bytes = typeof s.bytes === 'string' ? Buffer.from(s.bytes, 'latin1') : s.bytes;
      if (bytes.length > 65507) throw new Error(`shape ${s.name}: ${bytes.length} bytes is more than one UDP datagram`);
      head.writeUInt8(0, 0);
      head.writeUInt32BE(s.weight, 1);
      head.writeUInt32BE(bytes.length, 5);
      parts.push(head, bytes);
    }
  }
  return Buffer.concat(parts);
}

export interface FloodResult {
  sent: number;
  bytes: number;
  reconnects: number;
  received: number;
  cpuS: number;
  /** tcp: connections the server had not closed after our FIN by the drain deadline (it had not read all). */
  undrained?: number;
}

/**
 * Sends `count` messages of `shapes` to 127.0.0.1:`port` and resolves with the sender's counts. udp: from `sources`
 * loopback addresses 127.66.x.y (default 64; `freshPorts`: a new source port every 16 datagrams). tcp: over `conns`
 * connections, then waits until the server has read everything (`perConnection`: each message on a connection of its
 * own). Killed after `timeoutMs` (default 300 s).
 */
export function runSender(
  sender: FloodSender,
  mode: 'udp' | 'tcp',
  port: number,
  count: number,
  shapes: readonly FloodShape[],
  options: SenderOptions & { timeoutMs?: number } = {},
): Promise<FloodResult> {
  const { child: p, file } = spawnSender(sender, mode, port, count, shapes, options);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('close', (code) => {
      clearTimeout(timer);
      rmSync(file, { force: true });
      if (code !== 0) reject(new Error(`flood-sender ${mode} exited ${code}: ${err.trim().slice(0, 500)}`));
      else resolve(JSON.parse(out) as FloodResult);
    });
  });
}

export interface SenderOptions {
  conns?: number;
  sources?: number;
  paceUs?: number;
  drainMs?: number;
  freshPorts?: boolean;
  perConnection?: boolean;
  batch?: number;
  /** Every datagram/connection from this one loopback address instead of 127.66.x.y. */
  source?: string;
}

/** The sender as a child process (for a flood that runs until killed); `file` is its shapes file, removed by the caller. */
export function spawnSender(
  sender: FloodSender,
  mode: 'udp' | 'tcp',
  port: number,
  count: number,
  shapes: readonly FloodShape[],
  options: SenderOptions = {},
): { child: ChildProcess; file: string } {
  const file = join(sender.dir, `shapes-${process.pid}-${Math.random().toString(16).slice(2)}.bin`);
  writeFileSync(file, encodeShapes(shapes));
  const args = [mode, '127.0.0.1', String(port), String(count), file];
  if (options.conns !== undefined) args.push('--conns', String(options.conns));
  if (options.sources !== undefined) args.push('--sources', String(options.sources));
  if (options.paceUs !== undefined) args.push('--pace-us', String(options.paceUs));
  if (options.drainMs !== undefined) args.push('--drain-ms', String(options.drainMs));
  if (options.freshPorts) args.push('--fresh-ports', '1');
  if (options.perConnection) args.push('--per-connection', '1');
  if (options.batch !== undefined) args.push('--batch', String(options.batch));
  if (options.source !== undefined) args.push('--source', options.source);
  return { child: spawn(sender.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] }), file };
}

/** A daemon run as `node --import tsx src/cli/main.ts …`: its pid, its first JSON line with a port, its log tail. */
export interface DaemonProcess {
  child: ChildProcess;
  pid: number;
  /** The 'listening' line, parsed. */
  listening: Record<string, unknown>;
  /** The last ~64 KiB of stdout and stderr (the daemon's log lines). */
  tail(): string;
  stop(): Promise<number | null>;
}

export function startDaemonProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<DaemonProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', cliMain, ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-65536);
  };
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  child.stderr!.on('data', keep);
  return new Promise((resolve, reject) => {
    let buf = '';
    let found = false;
    child.stdout!.on('data', (d: Buffer) => {
      keep(d);
      if (found) return;
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0 && !found; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let ev: Record<string, unknown>;
        try {
          ev = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (ev.event === 'listening') {
          found = true;
          buf = '';
          resolve({ child, pid: child.pid!, listening: ev, tail: () => tail, stop });
        }
      }
    });
    void exited.then((code) => {
      if (!found) reject(new Error(`daemon exited with ${code}: ${tail.slice(-2000)}`));
    });
  });
}

/** The port in a 'listening' line: `port`, or the first of `addresses[].port` (TFTP). */
export function listeningPort(ev: Record<string, unknown>): number {
  if (typeof ev.port === 'number') return ev.port;
  const a = ev.addresses as Array<{ port: number }> | undefined;
  if (a?.[0]) return a[0].port;
  throw new Error(`no port in ${JSON.stringify(ev)}`);
}

/** VmRSS and VmHWM (peak RSS since the process started), in KiB, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rssKb: number; hwmKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (utime + stime) of a process from /proc/<pid>/stat. */
export function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
