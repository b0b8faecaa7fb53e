/**
 * The C SIP-over-TLS registration client (./client.c): built with `cc -O2 -Wall -Wextra … -lssl -lcrypto` into
 * build/bench/sip-tls-client on first use (and again whenever client.c is newer than the binary; libssl-dev is in
 * deps/apt/tls.txt), run as its own process per measurement, as bench/tftp-bootstorm runs storm.c.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { buildCTool, runCTool } from '../c-tool.js';

const SOURCE = join(import.meta.dirname, 'client.c');
const HEADER = join(import.meta.dirname, '../c-common/load-client.h');

export interface TlsClientConfig {
  port: number;
  registrations: number;
  inFlight: number;
  /** Users `b100000`… with passwords `pw0`… (as bench/sip provisions them), taken in order. */
  users: number;
  /** PEM the server's certificate must verify against (as stunnel's `verifyPeer`). */
  ca: string;
  /** Offer the last handshake's session (an abbreviated handshake); default a full handshake each. */
  resume?: boolean;
  ciphers?: string;
}

export interface TlsClientResult {
  ok: number;
  failed: number;
  failedBy: Record<string, number>;
  /** --storm: failed attempts that were tried again (0 otherwise). */
  retries: number;
  /** --storm: connections kept open after their 200. */
  held: number;
  resumed: number;
  wallMs: number;
  p50Ms: number;
  p99Ms: number;
  /** The client's own CPU over the run (getrusage). */
  cpuS: number;
  lastError: string;
}

/** Builds build/bench/sip-tls-client unless it is newer than client.c; returns its path. */
export function buildTlsClient(): string {
  return buildCTool('sip-tls-client', { sources: [SOURCE], headers: [HEADER], libs: ['-lssl', '-lcrypto'] });
}

export async function runTlsClient(c: TlsClientConfig): Promise<TlsClientResult> {
  const args = [
    '--port',
    String(c.port),
    '--registrations',
    String(c.registrations),
    '--in-flight',
    String(c.inFlight),
    '--users',
    String(c.users),
    '--ca',
    c.ca,
    ...(c.resume ? ['--resume'] : []),
    ...(c.ciphers ? ['--ciphers', c.ciphers] : []),
  ];
  return runCTool<TlsClientResult>(buildTlsClient(), args);
}

export interface TlsStormConfig {
  port: number;
  /** Phones `<userPrefix><100000 + i>` with passwords `pw<i>`, i = 0…phones-1. */
  phones: number;
  userPrefix: string;
  inFlight: number;
  ca: string;
  ciphers?: string;
  /** Each phone from one of this many loopback addresses from 127.4.0.1 (servers with per-source caps). */
  sources?: number;
}

/**
 * A reconnect storm (client.c --storm --hold): resolves when the last phone is registered (or failed every attempt),
 * with every registered phone's connection still open; `close()` ends the client and with it the connections.
 */
export async function startTlsStorm(c: TlsStormConfig): Promise<{ result: TlsClientResult; close: () => Promise<void> }> {
  const args = [
    '--storm',
    '--hold',
    '--port',
    String(c.port),
    '--registrations',
    String(c.phones),
    '--users',
    String(c.phones),
    '--user-prefix',
    c.userPrefix,
    '--in-flight',
    String(c.inFlight),
    '--ca',
    c.ca,
    ...(c.ciphers ? ['--ciphers', c.ciphers] : []),
    ...(c.sources ? ['--sources', String(c.sources)] : []),
  ];
  const child = spawn(buildTlsClient(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    closed.then((code) => reject(new Error(`sip-tls-client exited with ${code}: ${err.trim().slice(0, 500)}`)), reject);
  });
  const close = async () => {
    child.stdin.end();
    await closed;
  };
  return { result: JSON.parse(line) as TlsClientResult, close };
}
