/**
 * What a node's TFTP and SIP read: a local SQLite copy of the node's PostgreSQL (primary or hot standby), kept current
 * as trust-cache.ts keeps TVS's (issue 21 item 2): the generation row polled; on a new one, the tables whose digest
 * moved (`sbd.table_versions`) read in one REPEATABLE READ READ ONLY transaction (allowed on a standby) and written in
 * one SQLite transaction, so readers see the old state or the new. SQLite, not maps: TFTP's and SIP's queries are the
 * store's own (store/*.ts), unchanged over the copy, so the engines cannot answer differently. The copy (0600 in a 0700 folder: it holds digest HA1s) is removed at close. Each load moves the copy's
 * generation and its `<db>-generation` file (the native TFTP data plane maps it, as on SQLite); node-local rows
 * (schema.ts) are laid over the published ones, newest first. A server out of reach: the copy keeps serving.
 * With `keys`, a snapshot whose rows need a cluster key the node does not hold yet waits for it (key-pins.ts).
 */
import { closeSync, constants as fsConstants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Sql } from 'postgres';
import { SCHEMA_VERSION } from '../migrations.js';
import { openStore, type Store } from '../store.js';
import type { Logger } from '../../lib/log.js';
import { copiedTables, quote, REPORT_TABLES, toSqliteValue, TYPED_UNITS, type CopiedTable, type CopyUnit } from './copied-tables.js';
import { PgStoreError, PgStoreErrorCode } from './errors.js';
import { type KeyFiles, missingKeys, pinKeys, readHeldKeys } from './key-pins.js';
import { pgCall, pollLoop } from './poll.js';
import { checkPgSchema } from './schema.js';

export interface PgStoreCopyOptions {
  /** How often the generation row is read, in ms; with the replay lag, the bound on how late a change is seen. Default 250. */
  pollIntervalMs?: number;
  /** An existing private folder (0700) for the copy. Default: a new folder (0700) in the system's temporary folder, removed at close. */
  dir?: string;
  /**
   * The node's keys folder (a subscriber's sbd-clusterd installs the publisher's keys there) and the cluster keys the
   * daemon decrypts with (row name → file): copied beside the rows into `keysDir`, a snapshot loaded only once the
   * folder holds the keys it names (key-pins.ts). None: no key is held, and none waited for.
   */
  keys?: { dir: string; files: KeyFiles };
  /** The longest a new snapshot waits for its keys before it is loaded anyway (logged). Default 30000 ms. */
  keyWaitMs?: number;
  logger?: Logger;
}

export const PG_STORE_COPY_DEFAULTS = { pollIntervalMs: 250, keyWaitMs: 30_000 } as const;

type Row = Record<string, unknown>;

interface Loaded {
  generation: number;
  /** The tables of the units that changed since the copy's last load, with their rows. */
  tables: Map<string, Row[]>;
  /** Every unit's digest in this snapshot. */
  versions: Map<string, string>;
  served: Row[];
  itl: Row[];
  trust: Row[];
  /** Cluster key row name → the key id the snapshot's encrypted rows need (null: a row of an older build). */
  keys: Map<string, string | null>;
}

export class PgStoreCopy {
  readonly stats = { polls: 0, loads: 0, errors: 0, keyWaits: 0, loadedWithoutKey: 0 };
  lastError: unknown;
  /** The local copy: read it like any store; its writes stay on this node (see node-writes.ts for what goes to the primary). */
  readonly store: Store;
  readonly #sql: Sql;
  readonly #db: Database.Database;
  readonly #tables: CopiedTable[];
  readonly #pollIntervalMs: number;
  readonly #removeDir: string | undefined;
  #pgGeneration = -1;
  /** Unit key → the digest the copy holds (copied-tables.ts); a unit whose digest moved is reloaded. */
  #versions = new Map<string, string>();
  #generationFd: number | undefined;
  #poller: { stop(): void } | undefined;
  #closed = false;
  readonly #keys: { dir: string; files: KeyFiles; pinned: string } | undefined;
  readonly #keyWaitMs: number;
  readonly #logger: Logger | undefined;
  /** A snapshot read but not loaded: it waits for a key (kept, so a wait does not read the tables again). */
  #waiting: { loaded: Loaded; since: number } | undefined;
  /** The key ids the loaded rows need, and whether the copy holds them all (if not, each poll looks again). */
  #needs = new Map<string, string | null>();
  #short = false;
  /** `name key_id` given up on once (waited `keyWaitMs`): not waited for again, not logged again. */
  readonly #gaveUp = new Set<string>();

  private constructor(sql: Sql, dir: string, removeDir: boolean, options: PgStoreCopyOptions) {
    this.#sql = sql;
    this.#pollIntervalMs = options.pollIntervalMs ?? PG_STORE_COPY_DEFAULTS.pollIntervalMs;
    this.#removeDir = removeDir ? dir : undefined;
    const path = join(dir, 'store-copy.db');
    // The copy's pages need not survive a power cut: it is loaded again from PostgreSQL at start.
    this.store = openStore(path, { synchronous: 'normal', integrityCheck: 'none' });
    this.#db = new Database(path, { fileMustExist: true });
    this.#db.pragma('busy_timeout = 10000');
    this.#db.pragma('synchronous = NORMAL');
    // The copy holds whatever the publisher holds (its SQLite checked the keys), loaded in any table order.
    this.#db.pragma('foreign_keys = OFF');
    this.#tables = copiedTables(this.#db);
    this.#keys = options.keys && { ...options.keys, pinned: join(dir, 'keys') };
    this.#keyWaitMs = options.keyWaitMs ?? PG_STORE_COPY_DEFAULTS.keyWaitMs;
    this.#logger = options.logger;
  }

  /** The keys folder the copy's rows go with (opened with `keys`), for the daemons' decryption; else undefined. */
  get keysDir(): string | undefined {
    return this.#keys?.pinned;
  }

  /** Checks the schema, loads the first state and starts polling (a timer that does not keep the process alive). */
  static async open(sql: Sql, options: PgStoreCopyOptions = {}): Promise<PgStoreCopy> {
    await pgCall(() => checkPgSchema(sql));
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sbd-pg-copy-'));
    const copy = new PgStoreCopy(sql, dir, options.dir === undefined, options);
    try {
      await copy.refresh();
    } catch (err) {
      copy.close();
      throw err;
    }
    copy.#poller = pollLoop(
      () => copy.refresh(),
      copy.#pollIntervalMs,
      (err) => copy.#failed(err),
    );
    return copy;
  }

  /** The PostgreSQL generation the copy holds. */
  pgGeneration(): number {
    return this.#pgGeneration;
  }

  /** One poll: reads the generation and reloads what changed when it moved (`force`: everything, now). True if a state was written. */
  async refresh(force = false): Promise<boolean> {
    this.stats.polls++;
    const [row] = await pgCall(() => this.#sql`SELECT value FROM sbd.meta WHERE key = 'generation'`);
    if (!force && Number(row?.value) === this.#pgGeneration) {
      if (this.#short) this.#pinWhenHeld();
      return false;
    }
    if (force) this.#versions = new Map();
    const waiting = this.#waiting;
    const loaded =
      !force && waiting && waiting.loaded.generation === Number(row?.value) ? waiting.loaded : await pgCall(() => this.#read());
    if (this.#closed) return false;
    const held = this.#keys && readHeldKeys(this.#keys.dir, this.#keys.files);
    const missing = held ? missingKeys(loaded.keys, held).map((name) => `${name} ${loaded.keys.get(name)}`) : [];
    const waitFor = missing.filter((k) => !this.#gaveUp.has(k));
    if (waitFor.length > 0) {
      // The first load never waits (an empty copy serves nothing); later ones keep the state they have, a while.
      const since = waiting?.since ?? Date.now();
      if (this.#pgGeneration >= 0 && Date.now() - since < this.#keyWaitMs) {
        if (!waiting) this.stats.keyWaits++;
        this.#waiting = { loaded, since };
        return false;
      }
      this.stats.loadedWithoutKey++;
      for (const k of waitFor) this.#gaveUp.add(k);
      this.#logger?.error('store copy loaded without its key', {
        keys: waitFor.map((k) => k.split(' ')[0]).join(', '),
        generation: loaded.generation,
        waitedMs: Date.now() - since,
        hint: "this node's sbd-clusterd installs the publisher's keys: is it running? (its log says why a key is refused)",
      });
    }
    this.#waiting = undefined;
    this.#write(loaded);
    // The keys in the same step as the rows (no await between): a reader never sees the rows with other keys.
    if (this.#keys && held) pinKeys(this.#keys.pinned, this.#keys.files, held);
    this.#needs = loaded.keys;
    this.#short = missing.length > 0;
    this.#pgGeneration = loaded.generation;
    this.#versions = loaded.versions;
    this.stats.loads++;
    return true;
  }

  /** Rows loaded without their key (first load, or given up): the key pinned as soon as the node holds it. */
  #pinWhenHeld(): void {
    if (!this.#keys) return;
    const held = readHeldKeys(this.#keys.dir, this.#keys.files);
    if (missingKeys(this.#needs, held).length > 0) return;
    pinKeys(this.#keys.pinned, this.#keys.files, held);
    this.#short = false;
    this.#logger?.info('store copy has its keys now', { keys: [...this.#needs.keys()].join(', ') });
  }

  #failed(err: unknown): void {
    this.stats.errors++;
    this.lastError = err;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller?.stop();
    this.store.close();
    this.#db.close();
    if (this.#generationFd !== undefined) closeSync(this.#generationFd);
    if (this.#keys) rmSync(this.#keys.pinned, { recursive: true, force: true });
    if (this.#removeDir) rmSync(this.#removeDir, { recursive: true, force: true });
  }

  async #read(): Promise<Loaded> {
    return this.#sql.begin('isolation level repeatable read read only', async (tx) => {
      const meta = await tx`SELECT key, value FROM sbd.meta`;
      const value = (k: string) => Number(meta.find((m) => m.key === k)?.value);
      if (value('store_version') !== SCHEMA_VERSION) {
        throw new PgStoreError(
          PgStoreErrorCode.schema,
          `the published store is version ${value('store_version')}, this node's build uses ${SCHEMA_VERSION}: run one sbd version on every node (and publish once)`,
        );
      }
      const versions = new Map(
        (await tx`SELECT name, sha256_hex FROM sbd.table_versions`).map((r) => [r.name as string, r.sha256_hex as string]),
      );
      const units: CopyUnit[] = [...TYPED_UNITS, ...this.#tables.map((t) => ({ key: t.name, tables: [t.name] }))];
      const tables = new Map<string, Row[]>();
      for (const unit of units) {
        const digest = versions.get(unit.key);
        if (digest !== undefined && digest === this.#versions.get(unit.key)) continue;
        for (const name of unit.tables) tables.set(name, [...(await tx.unsafe(`SELECT * FROM sbd.${quote(name)}`))]);
      }
      // The keys this snapshot's rows were encrypted under (written in the same publish: daemons/clusterd.ts).
      const [k] = await tx`SELECT to_regclass('sbd.cluster_keys') IS NOT NULL AS ok`;
      const keyRows = k?.ok ? await tx`SELECT * FROM sbd.cluster_keys` : [];
      return {
        generation: value('generation'),
        keys: new Map(keyRows.map((r) => [r.name as string, (r.key_id as string | undefined) ?? null])),
        tables,
        versions,
        served: [...(await tx`SELECT * FROM sbd.node_served_trust_files`)],
        itl: [...(await tx`SELECT * FROM sbd.node_device_itl_hashes`)],
        trust: [...(await tx`SELECT * FROM sbd.node_device_trust_reports`)],
      };
    });
  }

  /** Replaces the copy's rows in one write transaction that also moves the copy's generation (and its file). */
  #write(loaded: Loaded): void {
    const columnsOf = (name: string) =>
      (this.#db.prepare(`PRAGMA table_info(${quote(name)})`).all() as { name: string; type: string }[]).map((c) => ({
        name: c.name,
        type: c.type.toUpperCase(),
        pk: 0,
      }));
    const db = this.#db;
    const tx = db.transaction(() => {
      for (const [name, rows] of loaded.tables) {
        db.prepare(`DELETE FROM ${quote(name)}`).run();
        if (rows.length === 0) continue;
        const columns = columnsOf(name).filter((c) => c.name in rows[0]!);
        const names = [...columns.map((c) => quote(c.name)), ...(name === 'params' ? ['updated_at'] : [])];
        const insert = db.prepare(`INSERT INTO ${quote(name)} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`);
        // The typed params rows have no updated_at (no service reads it): an empty one.
        for (const r of rows) insert.run([...columns.map((c) => toSqliteValue(c, r[c.name])), ...(name === 'params' ? [''] : [])]);
      }
      const served = db.prepare(
        `INSERT INTO server_itl_hashes (server, file, sha256_hex, sha1_hex, md5_hex, bytes, at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (server, file) DO UPDATE SET sha256_hex = excluded.sha256_hex, sha1_hex = excluded.sha1_hex,
           md5_hex = excluded.md5_hex, bytes = excluded.bytes, at = excluded.at WHERE excluded.at > server_itl_hashes.at`,
      );
      for (const r of loaded.served) served.run(r.server, r.file, r.sha256_hex, r.sha1_hex, r.md5_hex, r.bytes, r.at);
      const itl = db.prepare(
        `INSERT INTO device_itl_hashes (device_id, sha256_hex, at, status) SELECT id, ?, ?, ? FROM devices WHERE name = ?
         ON CONFLICT (device_id) DO UPDATE SET sha256_hex = excluded.sha256_hex, at = excluded.at, status = excluded.status
           WHERE excluded.at > device_itl_hashes.at`,
      );
      for (const r of loaded.itl) itl.run(r.sha256_hex, r.at, r.status, r.device);
      const trust = db.prepare(
        `INSERT INTO device_trust_reports (device_id, itl_signature, itl_tftp_server, ctl_signature, ctl_tftp_server, at)
         SELECT id, ?, ?, ?, ?, ? FROM devices WHERE name = ?
         ON CONFLICT (device_id) DO UPDATE SET itl_signature = excluded.itl_signature, itl_tftp_server = excluded.itl_tftp_server,
           ctl_signature = excluded.ctl_signature, ctl_tftp_server = excluded.ctl_tftp_server, at = excluded.at
           WHERE excluded.at > device_trust_reports.at`,
      );
      for (const r of loaded.trust) trust.run(r.itl_signature, r.itl_tftp_server, r.ctl_signature, r.ctl_tftp_server, r.at, r.device);
      // Phones' reports alone (the publisher's or node-local ones) move the reports counter, as StoreContext.report
      // does: a generation bump would make SIP reload its directory and TFTP drop its files on every phone's report.
      if ([...loaded.tables.keys()].every((t) => REPORT_TABLES.includes(t))) {
        db.prepare(
          "INSERT INTO sbd_meta (key, value) VALUES ('reports_generation', 1) ON CONFLICT (key) DO UPDATE SET value = value + 1",
        ).run();
        return;
      }
      // As Store's own writes do (store.ts): the generation moved and published before the commit.
      const { value } = db.prepare("UPDATE sbd_meta SET value = value + 1 WHERE key = 'generation' RETURNING value").get() as {
        value: number;
      };
      this.#publishGeneration(value);
    });
    tx.immediate();
  }

  #publishGeneration(value: number): void {
    const file = this.store.generationFile;
    if (file === undefined) return;
    this.#generationFd ??= openSync(file, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o644);
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64LE(BigInt(value));
    if (writeSync(this.#generationFd, bytes, 0, 8, 0) !== 8) throw new PgStoreError(PgStoreErrorCode.unavailable, `short write to ${file}`);
  }
}
