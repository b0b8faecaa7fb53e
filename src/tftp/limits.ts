/**
 * Every numeric bound of sbd-tftpd, once: its option name, the native engine's config key, the `sbd daemon tftp`
 * flag, default, range and help. `tftpServerDefaults` (server.ts), `nativeTftpServerDefaults` and the config sent to
 * the engine (native-server.ts), the CLI's flags, usage and range checks (cli/commands/daemon-tftp.ts) and the C
 * engine's own defaults and range checks (native/tftp-limits.h, generated from this table by c-tables.ts; a test
 * compares) all come from here, so the two engines and the CLI cannot disagree.
 */
import { SbdError } from '../lib/errors.js';
import { TftpLocalErrorCode } from './core/errors.js';

export type TftpLimitScope =
  /** An option of both servers (TftpServerOptions), sent to the engine. */
  | 'server'
  /** An option of the TypeScript server only (the engine has no such machinery). */
  | 'typescript'
  /** An option of NativeTftpServer only. */
  | 'native'
  /** A key the engine gets from the file source's dataPlaneFolder, not from server options. */
  | 'folder';

export interface TftpLimit {
  readonly scope: TftpLimitScope;
  /** The engine's config key (native/tftp-config.c), or undefined for a TypeScript-only option. */
  readonly key?: string;
  /** `sbd daemon tftp --<flag>`, when the CLI sets it. */
  readonly flag?: string;
  readonly default: number;
  readonly min: number;
  readonly max: number;
  /** uint64 in the engine's config (else uint32). */
  readonly wide?: boolean;
  /** A 0/1 option that TypeScript holds as a boolean. */
  readonly boolean?: boolean;
  readonly help: string;
}

const MiB = 1024 * 1024;

/** The table. Ranges are what the engine accepts and what the CLI checks. */
export const tftpLimits = {
  port: { scope: 'server', key: 'port', flag: 'port', default: 69, min: 0, max: 65535, help: 'request port (0: a free port per address)' },
  maxTransfers: {
    scope: 'server',
    key: 'max_transfers',
    flag: 'max-transfers',
    default: 16384,
    min: 1,
    max: 1 << 20,
    help: 'transfers running at once, server-wide (more are dropped; the client retries)',
  },
  maxTransfersPerClient: {
    scope: 'server',
    key: 'max_transfers_per_client',
    flag: 'max-per-client',
    default: 16,
    min: 1,
    max: 1 << 20,
    help: 'transfers running at once per client address',
  },
  maxUnverifiedPerClient: {
    scope: 'server',
    key: 'max_unverified_per_client',
    flag: 'max-unverified-per-client',
    default: 8,
    min: 1,
    max: 1 << 20,
    help: 'transfers per address whose peer acknowledged nothing yet; a request over it evicts the oldest',
  },
  maxRetries: {
    scope: 'server',
    key: 'max_retries',
    flag: 'max-retries',
    default: 5,
    min: 0,
    max: 100,
    help: 'timeouts in a row before a transfer is abandoned, once its peer acknowledged something',
  },
  maxRetriesUnverified: {
    scope: 'server',
    key: 'max_retries_unverified',
    flag: 'max-retries-unverified',
    default: 1,
    min: 0,
    max: 100,
    help: 'resends toward a peer that acknowledged nothing yet (its source may be spoofed)',
  },
  maxTransferLifetimeMs: {
    scope: 'server',
    key: 'max_lifetime_ms',
    flag: 'max-lifetime-ms',
    default: 120_000,
    min: 1000,
    max: 86_400_000,
    help: 'total lifetime of a transfer, ms',
  },
  timeoutMs: {
    scope: 'server',
    key: 'timeout_ms',
    flag: 'timeout-ms',
    default: 1000,
    min: 10,
    max: 255_000,
    help: 'retransmission timeout when the client negotiated none (RFC 2349), ms',
  },
  minTimeoutS: { scope: 'server', key: 'min_timeout_s', default: 1, min: 1, max: 255, help: 'smallest RFC 2349 timeout accepted, s' },
  maxTimeoutS: {
    scope: 'server',
    key: 'max_timeout_s',
    flag: 'max-timeout-s',
    default: 10,
    min: 1,
    max: 255,
    help: 'largest RFC 2349 timeout accepted, s (larger ones are declined)',
  },
  maxBlksize: {
    scope: 'server',
    key: 'max_blksize',
    flag: 'max-blksize',
    default: 65464,
    min: 8,
    max: 65464,
    help: 'largest blksize granted (RFC 2348)',
  },
  maxWindowsize: {
    scope: 'server',
    key: 'max_windowsize',
    flag: 'max-windowsize',
    default: 64,
    min: 1,
    max: 65535,
    help: 'largest windowsize granted (RFC 7440)',
  },
  maxFilenameLength: { scope: 'server', key: 'max_filename_length', default: 255, min: 1, max: 1024, help: 'longest file name accepted' },
  maxRequestBytes: {
    scope: 'server',
    key: 'max_request_bytes',
    default: 512,
    min: 4,
    max: 65535,
    help: 'largest request datagram accepted (RFC 2347 §2: requests fit in 512 bytes)',
  },
  netascii: { scope: 'server', key: 'netascii', default: 1, min: 0, max: 1, boolean: true, help: 'serve netascii mode' },
  recvBufferSize: {
    scope: 'server',
    key: 'recv_buffer_size',
    default: 4 * MiB,
    min: 0,
    max: 1 << 30,
    help: 'kernel receive buffer of each request socket, bytes (capped by net.core.rmem_max)',
  },
  timerResolutionMs: {
    scope: 'server',
    key: 'timer_resolution_ms',
    default: 20,
    min: 1,
    max: 10_000,
    help: 'how often transfer deadlines are checked, ms',
  },
  tidReuseDelayMs: {
    scope: 'server',
    key: 'tid_reuse_delay_ms',
    default: 250,
    min: 0,
    max: 3_600_000,
    help: 'how long a transfer socket rests before another transfer may use its port, ms',
  },
  maxIdleSockets: {
    scope: 'server',
    key: 'max_idle_sockets',
    default: 1024,
    min: 0,
    max: 1 << 20,
    help: 'transfer sockets kept open for reuse (0: a fresh port per transfer)',
  },
  maxLogLinesPerSecond: {
    scope: 'server',
    key: 'max_log_lines_per_second',
    default: 100,
    min: 0,
    max: 1 << 30,
    help: 'log lines a second for refused requests and failed transfers; the rest are counted',
  },
  packetCacheMaxFileBytes: {
    scope: 'typescript',
    default: MiB,
    min: 0,
    max: 1 << 30,
    help: 'files up to this size have their DATA packets built once per blksize (0: per transfer)',
  },
  packetCacheVariantsPerFile: { scope: 'typescript', default: 2, min: 1, max: 64, help: 'blksizes per file whose packets are kept' },
  maxCachedFiles: {
    scope: 'native',
    key: 'max_cached_files',
    default: 65536,
    min: 0,
    max: 1 << 24,
    wide: true,
    help: 'files the data plane keeps',
  },
  maxCacheBytes: {
    scope: 'native',
    key: 'max_cache_bytes',
    default: 256 * MiB,
    min: 0,
    max: 2 ** 40,
    wide: true,
    help: 'bytes the data plane keeps',
  },
  maxPendingOpens: {
    scope: 'native',
    key: 'max_pending_opens',
    default: 4096,
    min: 1,
    max: 1 << 20,
    help: 'requests waiting for Node to open their file (more are dropped; the client retries)',
  },
  folderTtlMs: {
    scope: 'folder',
    key: 'folder_ttl_ms',
    default: 0,
    min: 0,
    max: 3_600_000,
    help: 'how long the engine serves a folder file it read, ms',
  },
  folderMaxFileBytes: {
    scope: 'folder',
    key: 'folder_max_file_bytes',
    default: 256 * MiB,
    min: 0,
    max: 2 ** 40,
    wide: true,
    help: 'largest folder file served',
  },
  folderReadMaxBytes: {
    scope: 'folder',
    key: 'folder_read_max_bytes',
    default: MiB,
    min: 0,
    max: 2 ** 40,
    wide: true,
    help: 'largest folder file the engine reads itself (larger ones go through Node)',
  },
} as const satisfies Record<string, TftpLimit>;

export type TftpLimitName = keyof typeof tftpLimits;
type Table = typeof tftpLimits;
type NamesOf<S extends TftpLimitScope> = { [K in TftpLimitName]: Table[K]['scope'] extends S ? K : never }[TftpLimitName];
type Value<K extends TftpLimitName> = Table[K] extends { boolean: true } ? boolean : number;
export type TftpLimitValues<S extends TftpLimitScope> = { [K in NamesOf<S>]: Value<K> };

export const tftpLimitEntries = Object.entries(tftpLimits) as [TftpLimitName, TftpLimit][];

/** The defaults of one scope's options, as TypeScript holds them (booleans as booleans). */
export function limitDefaults<S extends TftpLimitScope>(...scopes: S[]): TftpLimitValues<S> {
  const out: Record<string, number | boolean> = {};
  for (const [name, l] of tftpLimitEntries)
    if ((scopes as TftpLimitScope[]).includes(l.scope)) out[name] = l.boolean ? l.default === 1 : l.default;
  return out as TftpLimitValues<S>;
}

/** `key=value` pairs of every engine key among the given values (booleans as 0/1), in table order. */
export function engineConfigPairs(values: Partial<Record<TftpLimitName, number | boolean>>): [string, number][] {
  const out: [string, number][] = [];
  for (const [name, l] of tftpLimitEntries) {
    const v = values[name];
    if (l.key !== undefined && v !== undefined) out.push([l.key, typeof v === 'boolean' ? Number(v) : v]);
  }
  return out;
}

/** The limits the CLI exposes as flags, in table order. */
export const tftpLimitFlags = tftpLimitEntries.filter((e): e is [TftpLimitName, TftpLimit & { flag: string }] => e[1].flag !== undefined);

/** An option outside its range in the limits table (both servers refuse it at construction, as the CLI does). */
export class TftpLimitError extends SbdError {
  declare readonly code: typeof TftpLocalErrorCode.limit;

  constructor(message: string) {
    super(TftpLocalErrorCode.limit, message);
  }
}

/** Throws TftpLimitError for the first given numeric option outside its table range (or not an integer). */
export function checkTftpLimits(values: Partial<Record<TftpLimitName, unknown>>): void {
  for (const [name, l] of tftpLimitEntries) {
    const v = values[name];
    if (v === undefined || typeof v === 'boolean') continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < l.min || v > l.max) {
      throw new TftpLimitError(`${name} must be an integer from ${l.min} to ${l.max}, got ${String(v)}`);
    }
  }
}
