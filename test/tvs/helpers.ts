/** TVS test helpers: a temporary appliance state (real store, real keys), log capture, openssl as a peer. */
import { spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initAppliance } from '../../src/cluster/init.js';
import { openState, type State } from '../../src/store/state.js';
import { systemClock } from '../../src/lib/clock.js';
import { createLogger, type Logger } from '../../src/lib/log.js';

export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'sbd-tvs-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `sbd init` in a temporary folder, then the state opened; closed when the test ends. */
export function tempState(t: { after: (fn: () => void) => void }, hostname = 'cucm-pub'): State & { dir: string } {
  const dir = tempDir(t);
  initAppliance({ dir, hostname, ipv4: '127.0.0.1', clock: systemClock });
  const state = openState(dir);
  t.after(() => state.store.close());
  return { ...state, dir };
}

export function captureLogger(svc = 'test'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { logger: createLogger(svc, { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }), lines };
}

/**
 * `openssl s_client` as an independent TLS peer: connects, sends `input` after the handshake and returns what it
 * printed (stdout: certificate and, with -quiet, the raw bytes the server sent) once it exits.
 */
export function sClient(
  args: string[],
  input: Buffer = Buffer.alloc(0),
  timeoutMs = 60000,
): Promise<{ status: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** Waits for `emitter` to emit `event` (with a generous timeout so a loaded CI machine does not fail the test). */
export function once<T = unknown>(emitter: NodeJS.EventEmitter, event: string, timeoutMs = 60000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' event within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (v: T) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

/** Starts `sbd daemon …` with port 0 and resolves with the port from its 'listening' log line. */
export function startDaemon(
  t: { after: (fn: () => Promise<void>) => void },
  args: string[],
): Promise<{ port: number; lines: string[]; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    return exited;
  };
  t.after(async () => void (await stop()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        const ev = JSON.parse(line) as { event: string; port?: number };
        if (ev.event === 'listening') resolve({ port: ev.port!, lines, stop });
      }
    });
    void exited.then((code) => reject(new Error(`daemon exited with ${code}: ${stderr}`)));
  });
}

/**
 * Opens `count` TCP connections that never start TLS (half-open from the daemon's point of view), keeps them until
 * the test ends, and returns the daemon's own connection count once it has accepted them all (or after 60 s).
 */
export async function holdHalfOpen(
  t: { after: (fn: () => void) => void },
  port: number,
  count: number,
  connectionCount: () => Promise<number>,
): Promise<number> {
  const idle: net.Socket[] = [];
  t.after(() => idle.forEach((s) => s.destroy()));
  // From many loopback addresses (16 each): the listener caps sockets per source address (issue 16 row 8).
  await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<void>((resolve, reject) => {
          const s = net.connect({ port, host: '127.0.0.1', localAddress: `127.0.${1 + (i >> 12)}.${1 + ((i >> 4) & 0xff)}` }, () =>
            resolve(),
          );
          s.on('error', reject);
          idle.push(s);
        }),
    ),
  );
  // Accept runs behind connect on a loaded machine: poll the server's own count (there is no event for "all in").
  for (let i = 0; i < 600 && (await connectionCount()) < count; i++) await new Promise((r) => setTimeout(r, 100));
  return connectionCount();
}
