import { closeSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import Database from 'better-sqlite3';
import type { Clock } from '../lib/clock.js';
import { nowIso, sqliteCode, toStoreError } from './context.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, STORE_MAGIC } from './migrations.js';

/**
 * Opening a store, in three steps, so that a file that is not ours is never written:
 *  1. look at the first 100 bytes ourselves (SQLite header magic);
 *  2. open it READ-ONLY and check application_id, user_version, the sbd_meta magic and (by default)
 *     `PRAGMA quick_check` — any failure is a StoreError and the file is untouched;
 *  3. only then open it read-write, switch to WAL, and run the missing migrations in one transaction.
 * An absent or zero-length file is a new store (created with mode 0600: it holds credential hashes).
 */

export interface OpenStoreOptions {
  /** Open without writing anything; writes then fail with ERR_STORE_READONLY. Default false. */
  readonly?: boolean;
  /** Create the store when the file is absent. Default true (ignored when readonly). */
  create?: boolean;
  /** Source of every timestamp the store writes. Default the system clock. */
  clock?: Clock;
  /** How long a write waits for another connection's write lock (`PRAGMA busy_timeout`). Default 10000 ms. */
  busyTimeoutMs?: number;
  /** Structural check before use: 'quick' (PRAGMA quick_check), 'full' (integrity_check) or 'none'. Default 'quick'. */
  integrityCheck?: 'quick' | 'full' | 'none';
  /** `PRAGMA synchronous`: 'full' survives power loss without losing a commit; 'normal' is faster. Default 'full'. */
  synchronous?: 'full' | 'normal';
}

export const OPEN_DEFAULTS = { busyTimeoutMs: 10_000, integrityCheck: 'quick', synchronous: 'full' } as const;

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const SQLITE_HEADER_BYTES = 100;

export function openDatabase(path: string, options: OpenStoreOptions, clock: Clock): Database.Database {
  const readonly = options.readonly ?? false;
  const busyTimeoutMs = options.busyTimeoutMs ?? OPEN_DEFAULTS.busyTimeoutMs;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new TypeError(`busyTimeoutMs must be a non-negative integer, got ${busyTimeoutMs}`);
  }
  // A store is a file (WAL, the generation file, backups): SQLite's ':memory:' name would create a stray file here.
  if (path === ':memory:' || path === '') throw new StoreError(StoreErrorCode.io, `a store is a file; "${path}" is not a file path`);
  let st = statOrUndefined(path);
  if (st === undefined) {
    if (readonly || options.create === false) {
      throw new StoreError(StoreErrorCode.notFound, `no store at ${path}`);
    }
    createEmptyFile(path);
    st = statOrUndefined(path);
  }
  if (st === undefined || !st.isFile()) {
    throw new StoreError(StoreErrorCode.io, `${path} is not a regular file`);
  }
  if (st.size === 0 && readonly) {
    throw new StoreError(StoreErrorCode.notFound, `${path} is empty: no store to read`);
  }
  if (st.size > 0) inspect(path, readonly, busyTimeoutMs, options.integrityCheck ?? OPEN_DEFAULTS.integrityCheck);

  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly, fileMustExist: true });
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    if (readonly) {
      db.pragma('query_only = ON');
      return db;
    }
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new StoreError(StoreErrorCode.io, `${path}: cannot switch to WAL (journal_mode stays ${String(mode)})`);
    db.pragma(`synchronous = ${(options.synchronous ?? OPEN_DEFAULTS.synchronous).toUpperCase()}`);
    migrate(db, path, clock);
    db.pragma('foreign_keys = ON');
    return db;
  } catch (err) {
    db?.close();
    throw openError(err, path);
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StoreError(StoreErrorCode.io, `cannot stat ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function createEmptyFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    // Another process created it first: fine, it is inspected like any existing file.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new StoreError(StoreErrorCode.io, `cannot create ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function readHeader(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(SQLITE_HEADER_BYTES);
    const n = readSync(fd, buf, 0, SQLITE_HEADER_BYTES, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Step 1 and 2: decides whether the file is a sound sbd store this build can use, without writing to it. */
function inspect(path: string, readonly: boolean, busyTimeoutMs: number, check: 'quick' | 'full' | 'none'): void {
  let header: Buffer;
  try {
    header = readHeader(path);
  } catch (err) {
    throw new StoreError(StoreErrorCode.io, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (header.length < SQLITE_MAGIC.length || !header.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) {
    throw new StoreError(StoreErrorCode.notSqlite, `${path} is not an SQLite database (no "SQLite format 3" header)`);
  }
  if (header.length < SQLITE_HEADER_BYTES) {
    throw new StoreError(StoreErrorCode.corrupt, `${path} is truncated inside the SQLite header (${header.length} of 100 bytes)`);
  }
  let ro: Database.Database | undefined;
  try {
    ro = new Database(path, { readonly: true, fileMustExist: true });
    ro.pragma(`busy_timeout = ${busyTimeoutMs}`);
    const appId = ro.pragma('application_id', { simple: true }) as number;
    const version = ro.pragma('user_version', { simple: true }) as number;
    if (appId !== APPLICATION_ID) {
      throw new StoreError(
        StoreErrorCode.foreign,
        `${path} is an SQLite database of another application (application_id 0x${(appId >>> 0).toString(16)}, sbd uses 0x${APPLICATION_ID.toString(16)})`,
      );
    }
    if (version > SCHEMA_VERSION) {
      throw new StoreError(
        StoreErrorCode.tooNew,
        `${path} has store schema version ${version}; this sbd knows versions up to ${SCHEMA_VERSION} — upgrade sbd`,
      );
    }
    if (version < 1) throw new StoreError(StoreErrorCode.corrupt, `${path} carries the sbd application id but no schema`);
    if (check !== 'none') {
      const rows = ro.pragma(check === 'quick' ? 'quick_check(20)' : 'integrity_check(20)', { simple: false }) as Record<string, string>[];
      const problems = rows.map((r) => Object.values(r)[0]).filter((v) => v !== 'ok');
      if (problems.length > 0) {
        throw new StoreError(
          StoreErrorCode.corrupt,
          `${path} failed the ${check} integrity check: ${problems
            .slice(0, 3)
            .join('; ')
            .replace(/\s*\n\s*/g, '; ')}`,
        );
      }
    }
    let magic: unknown;
    try {
      magic = (ro.prepare("SELECT value FROM sbd_meta WHERE key = 'magic'").get() as { value: unknown } | undefined)?.value;
    } catch (err) {
      if (!/no such table/.test((err as Error).message)) throw err;
    }
    if (magic !== STORE_MAGIC) {
      throw new StoreError(StoreErrorCode.foreign, `${path} carries the sbd application id but not the sbd_meta magic`);
    }
    if (readonly && version < SCHEMA_VERSION) {
      throw new StoreError(
        StoreErrorCode.needsMigration,
        `${path} has store schema version ${version} and needs migrating to ${SCHEMA_VERSION}; open it read-write once`,
      );
    }
  } catch (err) {
    throw openError(err, path);
  } finally {
    ro?.close();
  }
}

/** Step 3: brings the schema to SCHEMA_VERSION in one IMMEDIATE transaction (re-read inside: a peer may have done it). */
function migrate(db: Database.Database, path: string, clock: Clock): void {
  if (db.pragma('user_version', { simple: true }) === SCHEMA_VERSION && db.pragma('application_id', { simple: true }) === APPLICATION_ID) {
    return;
  }
  // foreign_keys cannot change inside a transaction; table rebuilds need it off (SQLite "ALTER TABLE" §7).
  db.pragma('foreign_keys = OFF');
  db.transaction(() => {
    const appId = db.pragma('application_id', { simple: true }) as number;
    let version = db.pragma('user_version', { simple: true }) as number;
    if (appId === 0 && version === 0) {
      const objects = (db.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number }).n;
      if (objects > 0) throw new StoreError(StoreErrorCode.foreign, `${path} is an SQLite database of another application`);
      db.pragma(`application_id = ${APPLICATION_ID}`);
    } else if (appId !== APPLICATION_ID) {
      throw new StoreError(StoreErrorCode.foreign, `${path} is an SQLite database of another application`);
    }
    if (version > SCHEMA_VERSION) throw new StoreError(StoreErrorCode.tooNew, `${path} has store schema version ${version}`);
    if (version === SCHEMA_VERSION) return;
    const now = nowIso(clock);
    for (const step of MIGRATIONS) {
      if (step.version <= version) continue;
      try {
        step.up(db, now);
      } catch (err) {
        throw new StoreError(
          StoreErrorCode.migrationFailed,
          `${path}: schema migration ${step.version} (${step.summary}) failed: ${(err as Error).message}; the store was left at version ${db.pragma('user_version', { simple: true })}`,
          { cause: err },
        );
      }
      version = step.version;
    }
    const broken = db.pragma('foreign_key_check') as unknown[];
    if (broken.length > 0) {
      throw new StoreError(
        StoreErrorCode.corrupt,
        `${path}: migration to ${version} left ${broken.length} dangling foreign keys; nothing was changed`,
      );
    }
    db.prepare("UPDATE sbd_meta SET value = value + 1 WHERE key = 'generation'").run();
    db.pragma(`user_version = ${version}`);
  }).immediate();
}

function openError(err: unknown, path: string): unknown {
  if (err instanceof StoreError) return err;
  const code = sqliteCode(err);
  if (code === 'SQLITE_NOTADB' || code?.startsWith('SQLITE_CORRUPT')) {
    return new StoreError(StoreErrorCode.corrupt, `${path} is a damaged SQLite file: ${(err as Error).message}`, { cause: err });
  }
  if (code?.startsWith('SQLITE_CANTOPEN') || code?.startsWith('SQLITE_IOERR') || code === 'SQLITE_PERM') {
    return new StoreError(StoreErrorCode.io, `cannot open ${path}: ${(err as Error).message} (${code})`, { cause: err });
  }
  return toStoreError(err);
}
