/**
 * sbd-tftpd with its packet path in C (native/tftp-*.c, libsbdtftp.so): the data plane owns the request and
 * transfer sockets and runs every transfer on its own thread; this shell only answers the names it has no valid
 * bytes for (OPEN → the file source → FILE or REFUSE), writes the log lines it reports and fetches its counters.
 * Same options, counters and behaviour as `TftpServer` (server.ts), the reference and the fallback when the library
 * is not built (why C: docs/tftp.md). Cacheable bytes (a store generation or a TTL) are served again without a trip
 * to Node; a running transfer ends with the bytes it began with. The engine's loop runs on a thread the library
 * makes (sbd_tftp_engine_start), not in libuv's pool nor a Node worker (its own V8 isolate cost ~15 MB and seconds
 * of start under emulation, issue 19 items 6-7); its sockets serve as soon as listen() returns.
 */
import net from 'node:net';
import koffi from 'koffi';
import { SbdError } from '../lib/errors.js';
import { findNativeLibrary } from '../lib/native-library.js';
import { createLogger, type Logger, type LogLevel } from '../lib/log.js';
import { TftpError, TftpLocalErrorCode, printable, tftpErrors } from './core/errors.js';
import type { OpenedFile, TftpClientInfo, TftpFileSource } from './file-source.js';
import { checkTftpLimits, engineConfigPairs, limitDefaults } from './limits.js';
import type { TftpServerLike } from './server-like.js';
import {
  tftpServerDefaults,
  zeroTftpCounters,
  type ResolvedTftpServerOptions,
  type TftpServerCounters,
  type TftpServerOptions,
} from './server.js';
import { EngineFrameReader, encodeFileHeader, encodeRefuse, encodeStatsRequest, encodeStop, type EngineFrame } from './native/control.js';

export interface NativeTftpServerOptions extends TftpServerOptions {
  /** Files the data plane keeps for later requests (defaults and ranges: limits.ts). */
  maxCachedFiles?: number;
  /** Bytes it keeps. */
  maxCacheBytes?: number;
  /** Requests waiting for Node to open their file; more are dropped (the client retries). */
  maxPendingOpens?: number;
}

type NativeErrorCode = Extract<TftpLocalErrorCode, `ERR_TFTP_NATIVE_${string}`>;

export class NativeEngineError extends SbdError {
  declare readonly code: NativeErrorCode;

  constructor(code: NativeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

interface EngineApi {
  create: (config: string, err: Buffer, errLen: number) => unknown;
  sockets: (e: unknown) => number;
  local: (e: unknown, i: number, buf: Buffer, len: number) => number;
  controlFd: (e: unknown) => number;
  start: (e: unknown) => number;
  join: (e: unknown) => number;
  free: (e: unknown) => void;
  defaults: (buf: Buffer, len: number) => number;
  firstReply: (config: string, req: Buffer, len: number, fileSize: number, out: Buffer, cap: number) => number;
}

let api: EngineApi | undefined;

/** libsbdtftp.so, where `make -C native` put it (src/lib/native-library.ts), or undefined when not built. */
export function nativeEngineLibraryPath(): string | undefined {
  return findNativeLibrary('libsbdtftp.so').path;
}

function engineApi(path: string): EngineApi {
  if (api) return api;
  const lib = koffi.load(path);
  api = {
    create: lib.func('void *sbd_tftp_engine_new(const char *config, uint8_t *err, int errlen)'),
    sockets: lib.func('int sbd_tftp_engine_sockets(void *e)'),
    local: lib.func('int sbd_tftp_engine_local(void *e, int i, uint8_t *buf, int len)'),
    controlFd: lib.func('int sbd_tftp_engine_control_fd(void *e)'),
    start: lib.func('int sbd_tftp_engine_start(void *e)'),
    join: lib.func('int sbd_tftp_engine_join(void *e)'),
    free: lib.func('void sbd_tftp_engine_free(void *e)'),
    defaults: lib.func('int sbd_tftp_engine_defaults(uint8_t *buf, int len)'),
    firstReply: lib.func('int sbd_tftp_first_reply(const char *config, const uint8_t *req, int len, double size, uint8_t *out, int cap)'),
  };
  return api;
}

/** The engine's own defaults for its numeric config keys (native/tftp-config.c), or undefined when not built. */
export function nativeEngineDefaults(): Map<string, number> | undefined {
  const path = nativeEngineLibraryPath();
  if (!path) return undefined;
  const buf = Buffer.alloc(8192);
  const n = engineApi(path).defaults(buf, buf.length);
  if (n < 0) throw new NativeEngineError(TftpLocalErrorCode.nativeDefaults, 'engine defaults do not fit the buffer');
  const out = new Map<string, number>();
  for (const line of buf.toString('latin1', 0, n).split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), Number(line.slice(eq + 1)));
  }
  return out;
}

/** The engine's answer to a config (sbd_tftp_engine_new, freed at once): undefined when accepted, else its one-line
 *  error. Binds the request sockets it names, as a real start does. Throws when the library is not built. */
export function nativeConfigError(config: string): string | undefined {
  const path = nativeEngineLibraryPath();
  if (!path)
    throw new NativeEngineError(TftpLocalErrorCode.nativeMissing, 'the native TFTP data plane is not built (run "make -C native")');
  const e = engineApi(path);
  const err = Buffer.alloc(512);
  const engine = e.create(config, err, err.length);
  if (!engine) return err.toString('utf8', 0, err.indexOf(0) < 0 ? err.length : err.indexOf(0));
  e.free(engine);
  return undefined;
}

/** The C engine's answer to one request datagram (sbd_tftp_first_reply: its request checks and RFC 2347
 *  negotiation, no socket): the ERROR or OACK bytes, 'data' (DATA 1 follows) or undefined (nothing is sent). The
 *  shared test vectors run it against core/request.ts firstReply. Throws when the library is not built. */
export function nativeFirstReply(config: string, request: Buffer, fileSize: number): Buffer | 'data' | undefined {
  const path = nativeEngineLibraryPath();
  if (!path)
    throw new NativeEngineError(TftpLocalErrorCode.nativeMissing, 'the native TFTP data plane is not built (run "make -C native")');
  const out = Buffer.alloc(2048);
  const n = engineApi(path).firstReply(config, request, request.length, fileSize, out, out.length);
  if (n === -2) throw new NativeEngineError(TftpLocalErrorCode.nativeConfig, `sbd_tftp_first_reply refused the config: ${config}`);
  return n === -1 ? undefined : n === 0 ? 'data' : out.subarray(0, n);
}

/** The native-only options' defaults (the rest are tftpServerDefaults), from the limits table. */
export const nativeTftpServerDefaults = limitDefaults('native');

type NativeResolved = ResolvedTftpServerOptions &
  Required<Pick<NativeTftpServerOptions, 'maxCachedFiles' | 'maxCacheBytes' | 'maxPendingOpens'>>;

/** The engine's numeric config keys and their values in resolved options (limits.ts names both): every bound is
 *  sent, so the engine runs on the same values as TypeScript; test/tftp/native/defaults.test.ts checks that the C
 *  table's own defaults (generated from the same table) agree. */
export function nativeConfigKeys(o: NativeResolved): [string, number][] {
  return engineConfigPairs(o);
}

export class NativeTftpServer implements TftpServerLike {
  readonly options: NativeResolved;
  counters: TftpServerCounters = zeroTftpCounters();
  /** The data plane's own gauges from the last sync(): cachedFiles, cacheBytes, opensForwarded, cacheHits, … */
  engineStats: Record<string, number> = {};
  readonly #source: TftpFileSource;
  readonly #logger: Logger;
  #engine: unknown;
  #control: net.Socket | undefined;
  #stopped: Promise<number> | undefined;
  #addresses: { address: string; port: number; family: string }[] = [];
  #statsWaiters: (() => void)[] = [];
  #closing = false;
  #engineStopped = false;

  constructor(options: NativeTftpServerOptions) {
    this.#source = options.source;
    this.#logger = options.logger ?? createLogger('tftpd');
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    checkTftpLimits(given);
    this.options = { ...tftpServerDefaults, ...nativeTftpServerDefaults, ...given } as NativeResolved;
  }

  /** Whether libsbdtftp.so is built here. */
  static available(): boolean {
    return nativeEngineLibraryPath() !== undefined;
  }

  #config(): string {
    const o = this.options;
    const lines = o.addresses.map((a) => `bind=${a}`);
    for (const [k, v] of nativeConfigKeys(o)) lines.push(`${k}=${v}`);
    if (this.#source.generationFile) lines.push(`generation_file=${this.#source.generationFile}`);
    const folder = this.#source.dataPlaneFolder;
    if (folder) {
      lines.push(`folder_root=${folder.root}`, `folder_ttl_ms=${folder.ttlMs}`, `folder_max_file_bytes=${folder.maxFileBytes}`);
      lines.push(`folder_read_max_bytes=${folder.readMaxBytes}`);
    }
    return lines.join('\n') + '\n';
  }

  async listen(): Promise<void> {
    const lib = nativeEngineLibraryPath();
    if (!lib)
      throw new NativeEngineError(TftpLocalErrorCode.nativeMissing, 'the native TFTP data plane is not built (run "make -C native")');
    const e = engineApi(lib);
    const err = Buffer.alloc(512);
    const engine = e.create(this.#config(), err, err.length);
    if (!engine) {
      const message = err.toString('utf8', 0, Math.max(0, err.indexOf(0))) || 'unknown error';
      throw new NativeEngineError(TftpLocalErrorCode.nativeStart, `TFTP data plane: ${message}`);
    }
    this.#engine = engine;
    const buf = Buffer.alloc(128);
    for (let i = 0; i < e.sockets(engine); i++) {
      const n = e.local(engine, i, buf, buf.length);
      const [fam, address, port] = buf.toString('latin1', 0, Math.max(0, n)).split(' ');
      this.#addresses.push({ address: address!, port: Number(port), family: fam === '6' ? 'IPv6' : 'IPv4' });
    }
    const control = new net.Socket({ fd: e.controlFd(engine), readable: true, writable: true });
    this.#control = control;
    const reader = new EngineFrameReader();
    control.on('data', (chunk: Buffer) => {
      let frames: EngineFrame[];
      try {
        frames = reader.push(chunk);
      } catch (error) {
        this.#logger.error('engine-protocol-error', { err: error });
        control.destroy();
        return;
      }
      for (const f of frames) this.#onFrame(f);
    });
    control.on('error', (error) => {
      if (!this.#closing) this.#logger.error('engine-control-error', { err: error });
    });
    // The engine closes its end when its loop ends (STOP, EOF, a fatal error), and ends at once when Node's end is
    // gone: the join then returns at once. No answer will come once the stream is gone: nobody waits for counters.
    this.#stopped = new Promise<number>((resolve) =>
      control.on('close', () => {
        this.#releaseWaiters();
        resolve(this.#engine ? e.join(this.#engine) : -1);
      }),
    );
    const started = e.start(engine);
    if (started !== 0) {
      control.destroy();
      e.free(engine);
      this.#engine = undefined;
      throw new NativeEngineError(TftpLocalErrorCode.nativeStart, `TFTP data plane: no thread for its loop (errno ${-started})`);
    }
    void this.#stopped.then((rc) => {
      this.#engineStopped = true;
      this.#releaseWaiters();
      if (!this.#closing) this.#logger.error('engine-stopped', { rc });
    });
    this.#logger.info('listening', { addresses: this.addresses(), engine: 'native' });
  }

  addresses(): { address: string; port: number; family: string }[] {
    return this.#addresses.map((a) => ({ ...a }));
  }

  get port(): number {
    return this.#addresses[0]!.port;
  }

  get activeTransfers(): number {
    return this.engineStats.active ?? 0;
  }

  get transferSockets(): number {
    return this.engineStats.transferSockets ?? 0;
  }

  get idleSockets(): number {
    return this.engineStats.idleSockets ?? 0;
  }

  /** Fetches the data plane's counters into `counters` and `engineStats`. */
  sync(): Promise<void> {
    const control = this.#control;
    if (!control || control.destroyed || this.#engineStopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.#statsWaiters.push(resolve);
      control.write(encodeStatsRequest());
    });
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const control = this.#control;
    if (control && !control.destroyed) {
      await this.sync();
      control.write(encodeStop());
    }
    if (this.#stopped) await this.#stopped;
    control?.destroy();
    if (this.#engine) engineApi(nativeEngineLibraryPath()!).free(this.#engine);
    this.#engine = undefined;
    this.#releaseWaiters();
  }

  #releaseWaiters(): void {
    for (const w of this.#statsWaiters.splice(0)) w();
  }

  #onFrame(f: EngineFrame): void {
    if (f.type === 'open') {
      this.#open(f.request, f.name, { address: f.address, port: f.port, family: f.family });
    } else if (f.type === 'log') {
      const { level, event, ...fields } = f.record;
      this.#logger.log((typeof level === 'string' ? level : 'warn') as LogLevel, typeof event === 'string' ? event : 'engine-log', fields);
    } else {
      const { errorsSent, ...rest } = f.counters;
      const numbers: Record<string, number> = {};
      for (const [k, v] of Object.entries(rest)) if (typeof v === 'number') numbers[k] = v;
      const errors: Record<number, number> = {};
      if (errorsSent && typeof errorsSent === 'object') {
        for (const [k, v] of Object.entries(errorsSent)) if (typeof v === 'number' && v > 0) errors[Number(k)] = v;
      }
      const c = zeroTftpCounters();
      for (const k of Object.keys(c) as (keyof TftpServerCounters)[]) if (k !== 'errorsSent' && numbers[k] !== undefined) c[k] = numbers[k];
      c.errorsSent = errors;
      this.counters = c;
      this.engineStats = numbers;
      this.#statsWaiters.shift()?.();
    }
  }

  #open(request: number, name: string, client: TftpClientInfo): void {
    let opened: Promise<OpenedFile> | OpenedFile;
    try {
      opened = this.#source.openCacheable ? this.#source.openCacheable(name, client) : wrap(this.#source.open(name, client));
    } catch (err) {
      return this.#refuse(request, name, err);
    }
    if (opened instanceof Promise)
      opened.then(
        (o) => this.#file(request, name, o),
        (err: unknown) => this.#refuse(request, name, err),
      );
    else this.#file(request, name, opened);
  }

  /** Hands the data plane bytes ahead of any request (e.g. the appliance's prebuilt files); only cacheable ones. */
  publish(name: string, file: OpenedFile): boolean {
    return this.#file(0, name, file);
  }

  #file(request: number, name: string, o: OpenedFile): boolean {
    const control = this.#control;
    if (!control || control.destroyed) return false;
    const v = o.validity;
    // A generation means nothing to the engine without the file it reads the generation from.
    const generation = v?.generation !== undefined && this.#source.generationFile ? v.generation : undefined;
    const ttlMs = v?.ttlMs !== undefined && v.ttlMs > 0 ? v.ttlMs : undefined;
    const cache = generation !== undefined || ttlMs !== undefined;
    if (request === 0 && !cache) return false;
    control.write(encodeFileHeader({ request, cache, generation, ttlMs, name }, o.bytes.length));
    control.write(o.bytes);
    return true;
  }

  #refuse(request: number, name: string, err: unknown): void {
    const e = err instanceof TftpError ? err : new TftpError('ERR_TFTP_INTERNAL', tftpErrors.ERR_TFTP_INTERNAL.message, { cause: err });
    if (!(err instanceof SbdError)) this.#logger.error('source-error', { filename: printable(name), err });
    const control = this.#control;
    if (control && !control.destroyed) control.write(encodeRefuse(request, e.tftpCode, e.code, e.message));
  }
}

function wrap(opened: Promise<Buffer> | Buffer): Promise<OpenedFile> | OpenedFile {
  return opened instanceof Promise ? opened.then((bytes) => ({ bytes })) : { bytes: opened };
}
