/** Shared set-up for the SIP daemon tests: a real state folder, users, a daemon on loopback, peers spawned. */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initAppliance } from '../../../src/cluster/init.js';
import { openState, type State } from '../../../src/store/state.js';
import { digestHa1 } from '../../../src/credentials/index.js';
import { systemClock } from '../../../src/lib/clock.js';
import { SipDaemon, type SipDaemonOptions } from '../../../src/daemons/sipd.js';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import type { SipRequest } from '../../../src/sip/core/messages/message.js';

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
  const daemon = new SipDaemon({
    store: state.store,
    layout: state.layout,
    host: '127.0.0.1',
    port: 0,
    tlsPort: 0,
    digestAlgorithms: ['MD5', 'SHA-256'],
    // test/tls/sip-*.test.ts run the daemon tests again with SBD_TLS_ENGINE=node (node:tls; the default is the C engine).
    ...(process.env.SBD_TLS_ENGINE === 'native' || process.env.SBD_TLS_ENGINE === 'node' ? { tlsEngine: process.env.SBD_TLS_ENGINE } : {}),
    ...options,
  });
  const ports = await daemon.listen();
  return {
    dir,
    state,
    daemon,
    ports,
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
export function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
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

/** A port free on `host` right now (bound and released): for peers that take their port on the command line. */
export async function freePort(kind: 'udp' | 'tcp', host: string): Promise<number> {
  if (kind === 'udp') {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, host, r));
    const p = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    return p;
  }
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a ? a.port : 0;
}

/** sipp run in `dir` with its error file appended to stdout (what it aborted on), for assertion messages. */
export async function runSipp(dir: string, args: string[], name: string, timeoutS = 30): Promise<{ code: number | null; stdout: string }> {
  const errFile = join(dir, `${name}.err`);
  const r = await run('sipp', [...args, '-nostdin', '-timeout', String(timeoutS), '-timeout_error', '-trace_err', '-error_file', errFile], {
    cwd: dir,
    timeoutMs: (timeoutS + 15) * 1000,
  });
  let stdout = r.stdout;
  if (existsSync(errFile)) stdout += '\n' + readFileSync(errFile, 'utf8').slice(0, 4000);
  return { code: r.code, stdout };
}

/**
 * The requests a sipp instance received, parsed from its -trace_msg file. Blocks: "----- <time>", "UDP message
 * received [n] bytes :", blank, the message; headers only are kept.
 */
export function sippReceivedRequests(file: string): SipRequest[] {
  const text = readFileSync(file, 'utf8');
  return text
    .split(/^-{20,}.*$/m)
    .map((b) => b.trim())
    .filter((b) => /^\S+ message received/.test(b))
    .map((b) =>
      b
        .slice(b.indexOf('\n') + 1)
        .trim()
        .split(/\r?\n\r?\n/)[0]!
        .split(/\r?\n/)
        .filter((l) => !/^(Content-Length|l):/i.test(l)),
    )
    .map((lines) => parseMessage(Buffer.from([...lines, 'Content-Length: 0', '', ''].join('\r\n'))) as SipRequest);
}
