/**
 * Encoded DATA packets (RFC 1350 §5) shared by every transfer of the same bytes at the same blksize. Sans-I/O.
 * In a boot storm thousands of phones fetch the very same CTL and ITL (one Buffer per content), so building each
 * block's header + copy per transfer is the same work again and again, and its garbage is most of what the
 * collector sees. Block b's packet is built on first use and served to every later transfer of that Buffer and
 * blksize; entries are keyed weakly by the Buffer, so they leave with the file.
 */
import { encodeData } from './packet.js';

export interface DataPacketCacheLimits {
  /** Largest file whose packets are cached. Default 1 MiB; 0 disables the cache. */
  maxFileBytes: number;
  /** Blksize variants kept per file. Default 2. */
  maxVariantsPerFile: number;
}

export const defaultDataPacketCacheLimits: DataPacketCacheLimits = { maxFileBytes: 1024 * 1024, maxVariantsPerFile: 2 };

/** The DATA packets of one file at one blksize, by absolute block number (1-based). */
export class DataPackets {
  readonly blksize: number;
  readonly blockCount: number;
  private readonly file: Buffer;
  /** Built packets; undefined until first asked for. Undefined as a whole when caching is off for this file. */
  private readonly built: (Buffer | undefined)[] | undefined;

  constructor(file: Buffer, blksize: number, cached: boolean) {
    this.file = file;
    this.blksize = blksize;
    // The last block is always shorter than blksize, possibly empty (RFC 1350 §6).
    this.blockCount = Math.floor(file.length / blksize) + 1;
    this.built = cached ? new Array<Buffer | undefined>(this.blockCount) : undefined;
  }

  /** DATA packet of absolute block `block` (1..blockCount); its wire number is `block & 0xffff`. */
  packet(block: number): Buffer {
    const built = this.built;
    if (built === undefined) return this.encode(block);
    return (built[block - 1] ??= this.encode(block));
  }

  private encode(block: number): Buffer {
    const start = (block - 1) * this.blksize;
    return encodeData(block, this.file.subarray(start, Math.min(start + this.blksize, this.file.length)));
  }
}

/**
 * Bounds (both named options of the server): only files up to `maxFileBytes` are cached — a firmware image is
 * encoded per transfer, so the cache never doubles a large file in memory — and at most `maxVariantsPerFile`
 * blksizes per file (a client choosing a new blksize on every request displaces the oldest variant rather than
 * growing the cache).
 */
export class DataPacketCache {
  readonly limits: DataPacketCacheLimits;
  private readonly byFile = new WeakMap<Buffer, DataPackets[]>();

  constructor(limits: Partial<DataPacketCacheLimits> = {}) {
    this.limits = { ...defaultDataPacketCacheLimits, ...limits };
  }

  /** The shared packets of `file` at `blksize` (uncached, built per call, when the file is over the bound). */
  for(file: Buffer, blksize: number): DataPackets {
    const { maxFileBytes, maxVariantsPerFile } = this.limits;
    if (maxFileBytes <= 0 || maxVariantsPerFile <= 0 || file.length > maxFileBytes) return new DataPackets(file, blksize, false);
    let variants = this.byFile.get(file);
    if (variants === undefined) this.byFile.set(file, (variants = []));
    for (const v of variants) if (v.blksize === blksize) return v;
    const v = new DataPackets(file, blksize, true);
    if (variants.length >= this.limits.maxVariantsPerFile) variants.shift();
    variants.push(v);
    return v;
  }
}
