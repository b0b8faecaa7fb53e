/**
 * The phone's file transport: TFTP through the shared client pool (src/tftp/client.ts), so thousands of phones
 * share a few dozen sockets. Phones ask with blksize 1428 and tsize by default, as current Cisco phones do.
 */
import { isIP } from 'node:net';
import type { TftpClientPool, TftpClientPoolOptions } from '../tftp/client.js';
import { TftpError, TftpErrorCode } from '../tftp/core/errors.js';
import type { FetchResult } from './boot.js';
import { SimError, SimErrorCode } from './errors.js';
import type { FileFetcher } from './phone.js';

export interface TftpEndpoint {
  host: string;
  port: number;
}

/** `HOST:PORT`, `[v6]:PORT` or a bare host (`defaultPort`). Host must be an IP literal (phones are given addresses). */
export function parseServer(text: string, defaultPort = 69): TftpEndpoint {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  const host = m?.[1];
  const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
  if (!host || !isIP(host) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SimError(SimErrorCode.server, `"${text}" is not HOST:PORT with an IP address (e.g. 127.0.0.1:6969 or [::1]:6969)`);
  }
  return { host, port };
}

export interface TftpFetcherOptions {
  /** RFC 2348 blksize asked for. Default 1428 (fits an Ethernet MTU with IP/UDP/TFTP headers). */
  blksize?: number;
  /** Ask for tsize (RFC 2349). Default true. */
  tsize?: boolean;
  /** RFC 7440 windowsize asked for. Default none (1). */
  windowsize?: number;
  /** Retransmission timeout. Default 1000 ms. */
  timeoutMs?: number;
  /** Timeouts in a row before a transfer fails. Default 5. */
  retries?: number;
  /** Largest file a phone accepts. Default 16 MiB (firmware is not fetched by the simulator). */
  maxBytes?: number;
}

/**
 * Local addresses for the pool. On IPv4 loopback every socket gets its own source address (127.1.x.y; all of
 * 127/8 is local on Linux), so the server sees many clients as it would see many phones, and its per-client
 * transfer limit applies per socket rather than to the whole simulator.
 */
export function poolOptionsFor(server: TftpEndpoint, sockets: number): TftpClientPoolOptions {
  const v6 = isIP(server.host) === 6;
  if (v6) return { sockets, family: 'IPv6', ...(server.host === '::1' ? { localAddresses: ['::1'] } : {}) };
  if (!server.host.startsWith('127.')) return { sockets, family: 'IPv4' };
  const localAddresses =
    sockets === 1 ? ['127.0.0.1'] : Array.from({ length: sockets }, (_, i) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`);
  return { sockets, family: 'IPv4', localAddresses };
}

export class TftpFetcher implements FileFetcher {
  readonly server: TftpEndpoint;
  readonly pool: TftpClientPool;
  readonly #options: TftpFetcherOptions;
  /** Files fetched and bytes received, for summaries. */
  readonly stats = { files: 0, bytes: 0, notFound: 0, failed: 0, retransmissions: 0 };

  constructor(server: TftpEndpoint, pool: TftpClientPool, options: TftpFetcherOptions = {}) {
    this.server = server;
    this.pool = pool;
    this.#options = options;
  }

  async fetch(name: string): Promise<FetchResult> {
    const o = this.#options;
    try {
      const r = await this.pool.fetch({
        server: this.server.host,
        port: this.server.port,
        name,
        blksize: o.blksize ?? 1428,
        tsize: o.tsize ?? true,
        ...(o.windowsize && o.windowsize > 1 ? { windowsize: o.windowsize } : {}),
        timeoutMs: o.timeoutMs ?? 1000,
        retries: o.retries ?? 5,
        maxBytes: o.maxBytes ?? 16 * 1024 * 1024,
      });
      this.stats.files++;
      this.stats.bytes += r.data.length;
      this.stats.retransmissions += r.retransmissions;
      return { kind: 'file', bytes: r.data };
    } catch (err) {
      if (err instanceof TftpError && err.tftpCode === TftpErrorCode.fileNotFound) {
        this.stats.notFound++;
        return { kind: 'not-found', message: err.message };
      }
      this.stats.failed++;
      return { kind: 'error', message: (err as Error).message };
    }
  }
}
