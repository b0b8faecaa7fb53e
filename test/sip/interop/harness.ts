/** Shared set-up for the SIP daemon tests: a real state folder, users, a daemon on loopback, peers spawned. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initAppliance } from '../../../src/cluster/init.js';
import { openState, type State } from '../../../src/cluster/state.js';
import { digestHa1 } from '../../../src/credentials/index.js';
import { systemClock } from '../../../src/lib/clock.js';
import { SipDaemon, type SipDaemonOptions } from '../../../src/sip/daemon.js';

export interface Harness {
  dir: string;
  state: State;
  daemon: SipDaemon;
  ports: { udp: number; tcp: number; tls: number | undefined };
  close(): Promise<void>;
}

/** A state folder made by `sbd init`'s own code path (certificates, first ITL). */
export function makeState(): { dir: string; state: State } {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-sip-'));
  initAppliance({ dir, hostname: 'sbd1', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
  return { dir, state: openState(dir) };
}

export function addLineUser(state: State, userid: string, password: string, kind: 'end' | 'application' = 'end'): void {
  const realm = state.store.getParam('SipStationRealm');
  state.store.putUser({ userid, credentialHash: 'unused-by-sip', algorithm: 'none', kind });
  const h = digestHa1(userid, realm, password);
  state.store.putDigestCredential(userid, realm, h.ha1Md5, h.ha1Sha256);
}

export async function startDaemon(options: Partial<SipDaemonOptions> = {}, made = makeState()): Promise<Harness> {
  const { dir, state } = made;
  const daemon = new SipDaemon({ store: state.store, layout: state.layout, host: '127.0.0.1', port: 0, tlsPort: 0, digestAlgorithms: ['MD5', 'SHA-256'], ...options });
  const ports = await daemon.listen();
  return {
    dir, state, daemon, ports,
    async close() {
      await daemon.close();
      state.store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a peer to completion (bounded by timeoutMs: killed after it). */
export function run(cmd: string, args: string[], options: { cwd?: string; timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    p.stdin.end(options.input ?? '');
  });
}

export function writeFile(dir: string, name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
