/**
 * The C TVS load client (./client.c): built with `cc -O2 -Wall -Wextra … -lssl -lcrypto` into
 * build/bench/tvs-tls-client on first use (and again whenever client.c is newer than the binary; libssl-dev is in
 * deps/apt/tls.txt; `make build/bench/tvs-tls-client` builds it too), run as its own process per measurement.
 * `verifyRequestFile` writes the one VERIFY_REQUEST every connection sends, made by src/tvs/core/verify.ts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCTool, runCTool } from '../c-tool.js';
import { buildVerifyRequest } from '../../src/tvs/core/verify.js';

const SOURCE = join(import.meta.dirname, 'client.c');
const HEADER = join(import.meta.dirname, '../c-common/load-client.h');

export interface TvsClientConfig {
  port: number;
  connections: number;
  inFlight: number;
  /** A file holding one VERIFY_REQUEST; without it each connection is a bare handshake, then close. */
  request?: string;
  /** PEM the server's certificate must verify against. */
  ca?: string;
  /** Offer the newest session/ticket a server gave (an abbreviated handshake); default a full handshake each. */
  resume?: boolean;
  /** TLS 1.2 with these suites instead of TLS 1.3. */
  tls12?: string;
  /** Spread the lanes over this many source addresses 127.1.0.x (TVS caps connections per address). */
  sources?: number;
}

export interface TvsClientResult {
  ok: number;
  failed: number;
  failedBy: Record<string, number>;
  resumed: number;
  wallMs: number;
  rate: number;
  p50Ms: number;
  p99Ms: number;
  /** The client's own CPU over the run (getrusage). */
  cpuS: number;
  negotiated: string;
  lastError: string;
}

/** Builds build/bench/tvs-tls-client unless it is newer than client.c; returns its path. */
export function buildTvsClient(): string {
  return buildCTool('tvs-tls-client', { sources: [SOURCE], headers: [HEADER], libs: ['-lssl', '-lcrypto'] });
}

/** Writes the VERIFY_REQUEST for `certificate` (DER) as `deviceName` asks it, with a fixed session id. */
export function verifyRequestFile(path: string, deviceName: string, certificate: Uint8Array): string {
  writeFileSync(path, buildVerifyRequest({ sessionId: 0x5bd0020, deviceName, certificate }));
  return path;
}

export async function runTvsClient(c: TvsClientConfig): Promise<TvsClientResult> {
  const args = [
    '--port',
    String(c.port),
    '--connections',
    String(c.connections),
    '--in-flight',
    String(c.inFlight),
    ...(c.request ? ['--request', c.request] : []),
    ...(c.ca ? ['--ca', c.ca] : []),
    ...(c.resume ? ['--resume'] : []),
    ...(c.tls12 ? ['--tls12', '--ciphers', c.tls12] : []),
    ...(c.sources ? ['--sources', String(c.sources)] : []),
  ];
  return runCTool<TvsClientResult>(buildTvsClient(), args);
}
