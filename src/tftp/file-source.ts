/**
 * Where the server's bytes come from. The appliance implements `TftpFileSource` over its generated files (trust
 * lists, configs) later; `FolderFileSource` serves static files from one folder now.
 */
import { closeSync, constants, fstatSync, openSync, read, readSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import { TftpError, accessViolation, fileNotFound, printable } from './core/errors.js';
import { systemClock, type Clock } from '../lib/clock.js';

export interface TftpClientInfo {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export interface TftpFileSource {
  /** Resolve a validated file name for a client. Returns the bytes to send (captured at the start of the
   *  transfer: a transfer already running ends with the bytes it began with) or a TftpError (not found, access),
   *  thrown or rejected. A source may answer synchronously (a Buffer, or a synchronous throw); the server then starts
   *  the transfer without a trip through the microtask queue. */
  open(name: string, client: TftpClientInfo): Promise<Buffer> | Buffer;
  /** `open` plus how long those bytes may be served again without asking, for a server that keeps them outside
   *  this object (sbd-tftpd's native data plane, native-server.ts). One call, so the validity describes exactly the
   *  bytes returned. Sources without it are asked on every request. */
  openCacheable?(name: string, client: TftpClientInfo): Promise<OpenedFile> | OpenedFile;
  /** The file holding the store generation (u64 little-endian) that `generation` validities refer to. */
  readonly generationFile?: string | undefined;
  /** A plain folder the native data plane may read itself with this source's rules (native/tftp-folder.c), so a
   *  miss does not wait for Node. */
  readonly dataPlaneFolder?: DataPlaneFolder | undefined;
}

export interface DataPlaneFolder {
  root: string;
  /** How long bytes read may be served again (the source's cacheTtlMs; 0: read every time). */
  ttlMs: number;
  maxFileBytes: number;
  /** Larger files are left to the source (read asynchronously). */
  readMaxBytes: number;
}

export interface CacheValidity {
  /** Valid while the generation file holds this value. */
  generation?: number | undefined;
  /** Valid for this long from now. */
  ttlMs?: number | undefined;
}

export interface OpenedFile {
  bytes: Buffer;
  /** Undefined: do not keep them. */
  validity?: CacheValidity | undefined;
}

export interface FolderFileSourceOptions {
  /** Largest file served; larger ones are refused with error 2. Default 256 MiB. */
  maxFileBytes?: number;
  /** How long a file read from disk is served from memory before the folder is looked at again. A boot storm
   *  asks for the same CTL and ITL thousands of times a second; a changed file is seen after at most this long.
   *  0 disables the cache (every request reads the folder). Default 0; sbd daemon tftp --root uses 1000. */
  cacheTtlMs?: number;
  /** Bytes kept in that cache (oldest entries leave first). Default 64 MiB. */
  maxCacheBytes?: number;
  /** Files up to this size are read synchronously (resolve, open, fstat, read, close: a few microseconds from the
   *  page cache, against one thread-pool round trip per step asynchronously — in a boot storm every phone's own
   *  config is a miss). Larger files are read asynchronously so a firmware image does not stall the event loop.
   *  Default 1 MiB; 0 reads everything asynchronously. */
  syncReadMaxBytes?: number;
  clock?: Clock;
}

interface Cached {
  data: Buffer;
  until: number;
}

/**
 * Static files under `root`. The name has already passed `checkFilename` (no `..`, no absolute path); on top of
 * that the file's real path must stay inside the root's real path, so a symlink pointing out of the root is
 * refused, and only regular files are served (directories, devices, FIFOs are refused).
 */
export class FolderFileSource implements TftpFileSource {
  readonly root: string;
  readonly maxFileBytes: number;
  readonly cacheTtlMs: number;
  readonly maxCacheBytes: number;
  readonly syncReadMaxBytes: number;
  private readonly clock: Clock;
  private rootReal: string | undefined;
  private readonly cache = new Map<string, Cached>();
  private cacheBytes = 0;

  constructor(root: string, options: FolderFileSourceOptions = {}) {
    this.root = root;
    this.maxFileBytes = options.maxFileBytes ?? 256 * 1024 * 1024;
    this.cacheTtlMs = options.cacheTtlMs ?? 0;
    this.maxCacheBytes = options.maxCacheBytes ?? 64 * 1024 * 1024;
    this.syncReadMaxBytes = options.syncReadMaxBytes ?? 1024 * 1024;
    this.clock = options.clock ?? systemClock;
  }

  /** The data plane keeps time by the system clock: with another clock (tests) every miss comes here. */
  get dataPlaneFolder(): DataPlaneFolder | undefined {
    const whole = [this.cacheTtlMs, this.maxFileBytes, this.syncReadMaxBytes].every((n) => Number.isSafeInteger(n) && n >= 0);
    if (this.clock !== systemClock || /[\r\n]/.test(this.root) || !whole || this.cacheTtlMs > 3_600_000) return undefined;
    return { root: this.root, ttlMs: this.cacheTtlMs, maxFileBytes: this.maxFileBytes, readMaxBytes: this.syncReadMaxBytes };
  }

  /** The bytes of `name` (a Buffer when read synchronously, else a Promise); a TftpError is thrown or rejected. */
  open(name: string): Promise<Buffer> | Buffer {
    if (this.cacheTtlMs <= 0) return this.read(name);
    const now = this.clock.now();
    const hit = this.cache.get(name);
    if (hit && hit.until > now) return hit.data;
    if (hit) this.evict(name, hit);
    const data = this.read(name);
    if (data instanceof Promise) return data.then((d) => this.remember(name, d, now));
    return this.remember(name, data, now);
  }

  /** The bytes and, while they sit in the TTL cache, how much longer they are good for. */
  openCacheable(name: string): Promise<OpenedFile> | OpenedFile {
    const opened = this.open(name);
    return opened instanceof Promise ? opened.then((b) => this.withValidity(name, b)) : this.withValidity(name, opened);
  }

  private withValidity(name: string, bytes: Buffer): OpenedFile {
    const hit = this.cacheTtlMs > 0 ? this.cache.get(name) : undefined;
    const ttlMs = hit && hit.data === bytes ? hit.until - this.clock.now() : 0;
    return ttlMs > 0 ? { bytes, validity: { ttlMs } } : { bytes };
  }

  private remember(name: string, data: Buffer, now: number): Buffer {
    if (data.length <= this.maxCacheBytes) {
      while (this.cacheBytes + data.length > this.maxCacheBytes) {
        const [oldest, entry] = this.cache.entries().next().value as [string, Cached];
        this.evict(oldest, entry);
      }
      const prev = this.cache.get(name);
      if (prev) this.evict(name, prev);
      this.cache.set(name, { data, until: now + this.cacheTtlMs });
      this.cacheBytes += data.length;
    }
    return data;
  }

  private evict(name: string, entry: Cached): void {
    this.cache.delete(name);
    this.cacheBytes -= entry.data.length;
  }

  /** Resolve, confine and read one file (errors are never cached). */
  private read(name: string): Buffer | Promise<Buffer> {
    if (this.rootReal === undefined) {
      try {
        this.rootReal = realpathSync.native(this.root);
      } catch (err) {
        throw new TftpError('ERR_TFTP_ROOT', `TFTP root ${this.root} is not readable`, { cause: err });
      }
    }
    const rootReal = this.rootReal;
    let real: string;
    try {
      real = realpathSync.native(join(rootReal, name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw fileNotFound(name);
      if (code === 'ELOOP') throw accessViolation(`symlink loop: "${printable(name)}"`);
      if (code === 'EACCES') throw accessViolation(`permission denied: "${printable(name)}"`);
      throw new TftpError('ERR_TFTP_IO', `cannot resolve "${printable(name)}"`, { cause: err });
    }
    if (!real.startsWith(rootReal + sep)) throw accessViolation(`"${printable(name)}" resolves outside the TFTP root`);
    let fd: number;
    try {
      // O_NOFOLLOW: the path was just resolved; if it became a symlink since, refuse rather than follow it.
      // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
      fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw fileNotFound(name);
      if (code === 'EACCES' || code === 'ELOOP') throw accessViolation(`cannot open "${printable(name)}"`);
      throw new TftpError('ERR_TFTP_IO', `cannot open "${printable(name)}"`, { cause: err });
    }
    let size: number;
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw accessViolation(`"${printable(name)}" is a directory`);
      if (!st.isFile()) throw accessViolation(`"${printable(name)}" is not a regular file`);
      if (st.size > this.maxFileBytes) throw accessViolation(`"${printable(name)}" is larger than ${this.maxFileBytes} bytes`);
      size = st.size;
      if (size <= this.syncReadMaxBytes) return readAllSync(fd, size, name);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return readAllAsync(fd, size, name).finally(() => closeSync(fd));
  }
}

function ioError(name: string, err: unknown): TftpError {
  return new TftpError('ERR_TFTP_IO', `cannot read "${printable(name)}"`, { cause: err });
}

/** Reads `size` bytes from the start of `fd` (the file may have shrunk since fstat: the bytes read are served). The
 *  caller closes the fd on a throw; here it is closed on success. */
function readAllSync(fd: number, size: number, name: string): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let got = 0;
  try {
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
  } catch (err) {
    throw ioError(name, err);
  }
  closeSync(fd);
  return got === size ? buf : buf.subarray(0, got);
}

function readAllAsync(fd: number, size: number, name: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(size);
  return new Promise((resolve, reject) => {
    const step = (got: number): void => {
      if (got >= size) return resolve(buf);
      read(fd, buf, got, Math.min(size - got, 1024 * 1024), got, (err, n) => {
        if (err) return reject(ioError(name, err));
        if (n === 0) return resolve(buf.subarray(0, got));
        step(got + n);
      });
    };
    step(0);
  });
}
