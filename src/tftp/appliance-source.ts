/**
 * What the appliance's TFTP server serves (issue 3 §2): the trust lists and configs derived from the store (seen
 * through `ApplianceFiles`, appliance-files.ts), and static files from a folder, signed on the fly as `NAME.sgn`.
 * The names and the caching rules are on `ApplianceFileSource`. A running transfer ends with the bytes it began
 * with; the ITL and CTL this node serves are recorded in the store (bytes and hashes: ITL File Status, `show itl`).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import { fixedClock, systemClock } from '../lib/clock.js';
import { isSbdError } from '../lib/errors.js';
import { silentLogger, type Logger } from '../lib/log.js';
import type { ApplianceFiles, DeviceConfigSuffix, TrustListFile } from './appliance-files.js';
import { fileNotFound, printable, TftpError, TftpErrorCode } from './core/errors.js';
import { FolderFileSource, type OpenedFile, type TftpClientInfo, type TftpFileSource } from './file-source.js';

export interface ApplianceSourceOptions {
  /** The store as TFTP sees it (src/daemons/adapters/tftp-store.ts over the SQLite store). */
  files: ApplianceFiles;
  clock?: Clock;
  /** Folder of static files (ring lists, locales, firmware). Default none: only generated files are served. */
  staticRoot?: string;
  /** Generated files kept in memory (10,000 phones × 3 files fit the default). Default 65536. */
  maxCachedFiles?: number;
  /** Largest static file signed on the fly. Default 64 MiB. */
  maxSignBytes?: number;
  logger?: Logger;
}

interface Entry {
  /** undefined: the name does not exist now (no CTL outside mixed mode, no encrypted config without a key). */
  bytes: Buffer | undefined;
  sha256Hex: string;
  /** The epoch the entry was (re)validated at. */
  epoch: number;
  /** The clock time it was built with; a rebuild tries it first to see whether the content changed. */
  builtAtMs: number;
  /** Static .sgn: hash of the source file it signs. */
  sourceSha?: string;
}

type Builder = (clock: Clock) => Buffer | undefined;

const deviceFile = /^(CTL|ITL)?(SEP[0-9A-F]{12})(\.tlv|\.cnf\.xml|\.cnf\.xml\.sgn|\.cnf\.xml\.enc\.sgn)$/;

/**
 * What it serves, by name:
 *   CTLFile.tlv                  mixed mode only (cluster-lists.ts buildCtl)
 *   ITLFile.tlv                  always (with the rollback form while PrepareClusterForRollback is true)
 *   CTLSEP<MAC>.tlv / ITLSEP…    known devices only: the very same bytes, header FILENAME CTLFile/ITLFile (spec §1.6)
 *   SEP<MAC>.cnf.xml[.sgn|.enc.sgn]  known devices (cluster-configs.ts); a model without Security by Default
 *                                gets only the unsigned SEP<MAC>.cnf.xml, its .sgn/.enc.sgn are "not found"
 *   XMLDefault.cnf.xml[.sgn]     autoregistration default, unsigned and signed
 *   anything else                the static folder; `NAME.sgn` missing there → NAME signed with FILENAME = NAME.sgn
 *
 * Caching. Every request reads `files.generation()` (one indexed SELECT). Entries built at an older generation
 * are rebuilt on their next request, first with the timestamp they had: when the bytes come out identical the
 * content did not change and the old bytes (and hash) stay, so an unrelated store write (a device added) never
 * changes the ITL phones hold. The server captures the Buffer at the start of a transfer, so a running transfer
 * ends with the bytes it began with. The ITL and CTL this node serves are recorded in the store — bytes, MD5,
 * SHA-1, SHA-256 (ITL File Status, `show itl`; issue 18) — whenever they change; that write is ours and does not
 * count as a store change. A rebuild that gives the same ITL bytes logs "ITL hash not changed".
 */
export class ApplianceFileSource implements TftpFileSource {
  readonly files: ApplianceFiles;
  readonly maxCachedFiles: number;
  readonly maxSignBytes: number;
  /** Counters for tests and the bench: builds (signatures made) and cache hits. */
  readonly stats = { builds: 0, hits: 0, revalidated: 0, itlHashesRecorded: 0 };
  readonly #clock: Clock;
  readonly #static: FolderFileSource | undefined;
  readonly #logger: Logger;
  readonly #entries = new Map<string, Entry>();
  #seenGeneration = -1;
  #epoch = 0;
  /** Per trust list: the SHA-256 last recorded in the store ('' for "serves none"). */
  #recorded = new Map<string, string>();

  constructor(options: ApplianceSourceOptions) {
    this.files = options.files;
    this.#clock = options.clock ?? systemClock;
    this.#static = options.staticRoot
      ? new FolderFileSource(options.staticRoot, { maxFileBytes: options.maxSignBytes ?? 64 * 1024 * 1024 })
      : undefined;
    this.#logger = options.logger ?? silentLogger;
    this.maxCachedFiles = options.maxCachedFiles ?? 65536;
    this.maxSignBytes = options.maxSignBytes ?? 64 * 1024 * 1024;
  }

  /** A store written by anyone but us starts a new epoch: every entry is revalidated on its next request. */
  #checkGeneration(): void {
    const g = this.files.generation();
    if (g !== this.#seenGeneration) {
      this.#seenGeneration = g;
      this.#epoch++;
      // Another writer may have recorded a hash of its own build (sbd cert regen does): compare again.
      this.#recorded.clear();
    }
  }

  async open(name: string, client?: TftpClientInfo): Promise<Buffer> {
    return (await this.openCacheable(name, client)).bytes;
  }

  /** The file where the store publishes its generation (for the native data plane's cache). */
  get generationFile(): string | undefined {
    return this.files.generationFile;
  }

  /**
   * Generated files are valid while the store generation they were checked at stays (they are rebuilt on the
   * first request after any write); static files are looked at on every request (the folder may change).
   */
  async openCacheable(name: string, _client?: TftpClientInfo): Promise<OpenedFile> {
    try {
      this.#checkGeneration();
      const generated = this.#generated(name);
      if (generated !== null) {
        if (!generated) throw fileNotFound(name);
        // Read after the build: recording the ITL hash is a write of ours that moves the generation with it.
        return { bytes: generated, validity: { generation: this.#seenGeneration } };
      }
      return { bytes: await this.#staticFile(name) };
    } catch (err) {
      if (err instanceof TftpError) throw err;
      // A store or signing problem: the phone gets error 0 with a reason, the log gets the cause.
      this.#logger.error('appliance-source-error', { filename: printable(name), err });
      const message = isSbdError(err) ? err.message : 'internal error';
      throw new TftpError('ERR_TFTP_SOURCE', `${printable(name)}: ${message}`, { cause: err });
    }
  }

  /** null: not a generated name (try the static folder); undefined: a generated name that does not exist. */
  #generated(name: string): Buffer | undefined | null {
    if (name === 'ITLFile.tlv') return this.#itl();
    if (name === 'CTLFile.tlv') return this.#ctl();
    if (name === 'XMLDefault.cnf.xml') return this.#cached(name, (c) => this.files.defaultConfig(false, c));
    if (name === 'XMLDefault.cnf.xml.sgn') return this.#cached(name, (c) => this.files.defaultConfig(true, c));
    const m = deviceFile.exec(name);
    if (!m) return null;
    const [, list, sep, suffix] = m;
    if ((list === undefined) !== (suffix !== '.tlv')) return null; // "SEP….tlv" or "ITLSEP….cnf.xml": not ours
    const device = this.files.device(sep!.toUpperCase());
    if (!device) return undefined;
    if (list === 'ITL') return this.#itl();
    if (list === 'CTL') return this.#ctl();
    if (suffix !== '.cnf.xml' && !device.securityByDefault) return undefined;
    // The implementation reads the device again inside the build: the row may have changed since the check.
    return this.#cached(name, (c) => this.files.deviceConfig(device.name, suffix as DeviceConfigSuffix, c));
  }

  #itl(): Buffer | undefined {
    return this.#trustList('ITLFile.tlv', (c) => this.files.itl(c));
  }

  #ctl(): Buffer | undefined {
    return this.#trustList('CTLFile.tlv', (c) => this.files.ctl(c));
  }

  /** A trust list, with what is served recorded in the store when it changed (or went: no CTL any more). */
  #trustList(file: TrustListFile, build: Builder): Buffer | undefined {
    const before = this.#entries.get(file);
    const bytes = this.#cached(file, build);
    const entry = this.#entries.get(file);
    if (file === 'ITLFile.tlv' && bytes && before?.bytes && entry !== before && entry?.builtAtMs === before.builtAtMs) {
      this.#logger.info('itl-hash-not-changed', { message: 'ITL hash not changed', file, sha256: entry.sha256Hex });
    }
    const sha = bytes && entry ? entry.sha256Hex : '';
    if (this.#recorded.get(file) !== sha) this.#recordServed(file, bytes, sha);
    return bytes;
  }

  #recordServed(file: TrustListFile, bytes: Buffer | undefined, sha: string): void {
    if ((this.files.servedSha256(file) ?? '') !== sha) {
      const before = this.files.generation();
      this.files.recordServed(file, bytes, new Date(this.#clock.now()));
      if (file === 'ITLFile.tlv') this.stats.itlHashesRecorded++;
      // Our own write: if nobody else wrote meanwhile, it is not a change of what we serve.
      if (before === this.#seenGeneration && this.files.generation() === before + 1) this.#seenGeneration = before + 1;
    }
    this.#recorded.set(file, sha);
  }

  #cached(name: string, build: Builder): Buffer | undefined {
    const entry = this.#entries.get(name);
    if (entry && entry.epoch === this.#epoch) {
      this.stats.hits++;
      return entry.bytes;
    }
    const built = this.files.snapshot(() => this.#build(entry, build));
    this.#remember(name, built);
    return built.bytes;
  }

  /** Rebuild; when the content is unchanged (same bytes with the old timestamp) keep the old entry. */
  #build(old: Entry | undefined, build: Builder): Entry {
    if (old?.bytes) {
      const again = build(fixedClock(old.builtAtMs));
      this.stats.builds++;
      if (!again) return { bytes: undefined, sha256Hex: '', epoch: this.#epoch, builtAtMs: old.builtAtMs };
      if (again.equals(old.bytes)) {
        this.stats.revalidated++;
        return { ...old, epoch: this.#epoch };
      }
    }
    const now = this.#clock.now();
    const bytes = build(fixedClock(now));
    this.stats.builds++;
    return { bytes, sha256Hex: bytes ? sha256Hex(bytes) : '', epoch: this.#epoch, builtAtMs: now };
  }

  #remember(name: string, entry: Entry): void {
    this.#entries.delete(name);
    this.#entries.set(name, entry);
    while (this.#entries.size > this.maxCachedFiles) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /**
   * Builds what phones ask for first — the trust lists, the default configs and every known device's first config
   * (`.cnf.xml.sgn`, or `.cnf.xml` for models without Security by Default) — so a boot storm right after start
   * (or after a store change) finds them in memory. Yields to the event loop every `batch` files so a running
   * server keeps answering. Returns the number of files built or revalidated.
   */
  async prebuild(options: { batch?: number; onFile?: (name: string, file: OpenedFile) => void } = {}): Promise<number> {
    const batch = options.batch ?? 64;
    this.#checkGeneration();
    const names = ['ITLFile.tlv', 'CTLFile.tlv', 'XMLDefault.cnf.xml', 'XMLDefault.cnf.xml.sgn'];
    for (const d of this.files.devices()) names.push(d.name + (d.securityByDefault ? '.cnf.xml.sgn' : '.cnf.xml'));
    let n = 0;
    for (const name of names) {
      this.#checkGeneration();
      const bytes = this.#generated(name);
      // onFile: the native data plane takes them in ahead of the first request (validity as openCacheable's).
      if (bytes && options.onFile) options.onFile(name, { bytes, validity: { generation: this.#seenGeneration } });
      if (++n % batch === 0) await new Promise<void>((r) => setImmediate(r));
    }
    return n;
  }

  /** Static folder; a missing NAME.sgn is NAME signed now by this node's CallManager key (FILENAME = NAME.sgn). */
  async #staticFile(name: string): Promise<Buffer> {
    if (!this.#static) throw fileNotFound(name);
    try {
      return await this.#static.open(name);
    } catch (err) {
      if (!(err instanceof TftpError && err.tftpCode === TftpErrorCode.fileNotFound && name.endsWith('.sgn') && name.length > 4)) throw err;
    }
    const body = await this.#static.open(name.slice(0, -4));
    if (body.length > this.maxSignBytes)
      throw new TftpError('ERR_TFTP_ACCESS', `${printable(name)}: source is larger than ${this.maxSignBytes} bytes`);
    const sourceSha = sha256Hex(body);
    const entry = this.#entries.get(name);
    if (entry?.bytes && entry.sourceSha === sourceSha && entry.epoch === this.#epoch) {
      this.stats.hits++;
      return entry.bytes;
    }
    const built = this.files.snapshot(() =>
      this.#build(entry?.sourceSha === sourceSha ? entry : undefined, (c) => this.files.signStatic(name, body, c)),
    );
    this.#remember(name, { ...built, sourceSha });
    return built.bytes!;
  }
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
