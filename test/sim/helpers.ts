/**
 * Shared set-up for the simulator tests: a real appliance state made by `sbd init`'s function in a temporary
 * folder, the real sbd-tftpd server object serving it on 127.0.0.1 (port 0), and a client pool on loopback.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import { initAppliance } from '../../src/cluster/init.js';
import { openState, type State } from '../../src/store/state.js';
import type { ApplianceFileSource } from '../../src/tftp/appliance-source.js';
import { storeApplianceSource, type StoreApplianceSourceOptions } from '../../src/daemons/adapters/tftp-store.js';
import { createServer, type AnyTftpServer } from '../tftp/helpers.js';
import { TftpClientPool } from '../../src/tftp/client.js';
import { TftpFetcher } from '../../src/sim/tftp-fetcher.js';
import { bootSimPhone, type PhoneBootReport, type VerifyUnknownSigner } from '../../src/sim/phone.js';
import { TrustListViewCache } from '../../src/sim/trust-list-view.js';

export function tempDir(prefix = 'sbd-sim-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Appliance {
  dir: string;
  state: State;
  source: ApplianceFileSource;
  server: AnyTftpServer;
  port: number;
}

/** A fresh appliance (node sbd, 127.0.0.1) served by sbd-tftpd on loopback (the TypeScript server, or the native data
 *  plane with SBD_TFTP_ENGINE=native); closed when the test file ends. */
export async function startAppliance(
  options: { hostname?: string; ipv4?: string; source?: Partial<StoreApplianceSourceOptions> } = {},
): Promise<Appliance> {
  const dir = tempDir('sbd-appliance-');
  initAppliance({
    dir,
    hostname: options.hostname ?? 'sbd.example',
    ipv4: options.ipv4 ?? '127.0.0.1',
    clock: systemClock,
    keySpec: { type: 'rsa', bits: 2048 },
  });
  const state = openState(dir);
  const source = storeApplianceSource({ ...options.source, store: state.store });
  const server = createServer({ source, addresses: ['127.0.0.1'], port: 0, logger: silentLogger });
  await server.listen();
  after(async () => {
    await server.close();
    state.store.close();
  });
  return { dir, state, source, server, port: server.port };
}

let pool: TftpClientPool | undefined;
export function clientPool(): TftpClientPool {
  if (!pool) {
    const p = new TftpClientPool({ sockets: 8, localAddresses: ['127.0.0.1'] });
    pool = p;
    // `after` inside a test runs when that test ends: the next test gets a new pool.
    after(() => {
      pool = undefined;
      return p.close();
    });
  }
  return pool;
}

export const views = new TrustListViewCache();

export function boot(
  app: { port: number },
  phoneState: string,
  deviceName: string,
  extra: { model?: string; verifyUnknownSigner?: VerifyUnknownSigner } = {},
): Promise<PhoneBootReport> {
  const fetcher = new TftpFetcher({ host: '127.0.0.1', port: app.port }, clientPool(), { timeoutMs: 2000 });
  return bootSimPhone({ stateDir: phoneState, deviceName, fetcher, views, ...extra });
}

export function texts(r: PhoneBootReport): string[] {
  return r.decisions.map((d) => `${d.file}: ${d.text}`);
}

const repoRoot = new URL('../../', import.meta.url).pathname;
const cliArgs = ['--import', 'tsx', 'src/cli/main.ts'];

/** `sbd ARGS` as a separate process, as an administrator runs it. */
export function sbdCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...cliArgs, ...args], { cwd: repoRoot, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out: stdout, err: stderr });
    });
  });
}

/**
 * `sbd daemon …` as a process, stopped when the test ends; resolves with its first JSON line whose event is
 * 'listening' (the daemons print their ports there), rejects when it exits first.
 */
export function startDaemonProcess(t: { after: (fn: () => Promise<void>) => void }, args: string[]): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [...cliArgs, 'daemon', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const ev = JSON.parse(line) as Record<string, unknown>;
        if (ev.event === 'listening') resolve(ev);
      }
    });
    void exited.then((code) => reject(new Error(`sbd daemon ${args[0]} exited with ${code}: ${stderr}`)));
  });
}
