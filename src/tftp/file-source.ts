/**
 * Where the server's bytes come from. The appliance implements `TftpFileSource` over its generated files (trust
 * lists, configs) later; `FolderFileSource` serves static files from one folder now.
 */
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { TftpError, TftpErrorCode, accessViolation, fileNotFound, printable } from './core/errors.js';
import { systemClock, type Clock } from '../lib/clock.js';

export interface TftpClientInfo {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export interface TftpFileSource {
  /** Resolve a validated file name for a client. Returns the bytes to send (captured at the start of the
   *  transfer: a transfer already running ends with the bytes it began with) or a TftpError (not found, access). */
  open(name: string, client: TftpClientInfo): Promise<Buffer> | Buffer;
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
  private readonly clock: Clock;
  private rootReal: Promise<string>;
  private readonly cache = new Map<string, Cached>();
  private cacheBytes = 0;

  constructor(root: string, options: FolderFileSourceOptions = {}) {
    this.root = root;
    this.maxFileBytes = options.maxFileBytes ?? 256 * 1024 * 1024;
    this.cacheTtlMs = options.cacheTtlMs ?? 0;
    this.maxCacheBytes = options.maxCacheBytes ?? 64 * 1024 * 1024;
    this.clock = options.clock ?? systemClock;
    this.rootReal = realpath(root);
    this.rootReal.catch(() => {}); // reported on first use
  }

  async open(name: string): Promise<Buffer> {
    if (this.cacheTtlMs <= 0) return this.read(name);
    const now = this.clock.now();
    const hit = this.cache.get(name);
    if (hit && hit.until > now) return hit.data;
    if (hit) this.evict(name, hit);
    const data = await this.read(name);
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
  private async read(name: string): Promise<Buffer> {
    let rootReal: string;
    try {
      rootReal = await this.rootReal;
    } catch (err) {
      throw new TftpError('ERR_TFTP_ROOT', TftpErrorCode.notDefined, `TFTP root ${this.root} is not readable`, { cause: err });
    }
    let real: string;
    try {
      real = await realpath(join(rootReal, name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw fileNotFound(name);
      if (code === 'ELOOP') throw accessViolation(`symlink loop: "${printable(name)}"`);
      if (code === 'EACCES') throw accessViolation(`permission denied: "${printable(name)}"`);
      throw new TftpError('ERR_TFTP_IO', TftpErrorCode.notDefined, `cannot resolve "${printable(name)}"`, { cause: err });
    }
    if (!real.startsWith(rootReal + sep)) throw accessViolation(`"${printable(name)}" resolves outside the TFTP root`);
    let handle;
    try {
      // O_NOFOLLOW: the path was just resolved; if it became a symlink since, refuse rather than follow it.
      handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw fileNotFound(name);
      if (code === 'EACCES' || code === 'ELOOP') throw accessViolation(`cannot open "${printable(name)}"`);
      throw new TftpError('ERR_TFTP_IO', TftpErrorCode.notDefined, `cannot open "${printable(name)}"`, { cause: err });
    }
    try {
      const st = await handle.stat();
      if (st.isDirectory()) throw accessViolation(`"${printable(name)}" is a directory`);
      if (!st.isFile()) throw accessViolation(`"${printable(name)}" is not a regular file`);
      if (st.size > this.maxFileBytes) throw accessViolation(`"${printable(name)}" is larger than ${this.maxFileBytes} bytes`);
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }
}
