import type Database from 'better-sqlite3';
import type { Clock } from '../lib/clock.js';
import { StoreError, StoreErrorCode } from './errors.js';

/**
 * What every table module receives: the open connection, the clock, and a statement cache. Table modules are
 * plain functions over this context, so `store.ts` stays a thin composition and each file holds one table.
 */
export interface StoreContext {
  readonly db: Database.Database;
  readonly clock: Clock;
  /** A prepared statement for `sql`, prepared once per connection. */
  stmt(sql: string): Database.Statement;
  /** Runs `fn` as (or inside) one write transaction; bumps the generation counter once per outer commit. */
  write<T>(fn: () => T): T;
  /**
   * Runs `fn` as one write transaction WITHOUT bumping the generation: only for columns no cache derives anything
   * from (the time of a phone's repeated trust report). Everything else goes through `write`.
   */
  touch<T>(fn: () => T): T;
  /**
   * Runs `fn` as one write transaction that moves the reports counter, not the generation: phones' own reports
   * (ITL hashes, trust reports), from which no generation-keyed cache derives anything. Bumping the generation for
   * them made every cache reload on each phone of a boot storm (sbd-sipd's whole directory, at 30,000 phones).
   */
  report<T>(fn: () => T): T;
}

export function nowIso(clock: Clock): string {
  return new Date(clock.now()).toISOString();
}

export function createStatementCache(db: Database.Database): (sql: string) => Database.Statement {
  const cache = new Map<string, Database.Statement>();
  return (sql) => {
    let s = cache.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
}

/** better-sqlite3's SqliteError carries the extended result code name in `code`, e.g. 'SQLITE_CONSTRAINT_UNIQUE'. */
export function sqliteCode(err: unknown): string | undefined {
  if (err instanceof Error && err.name === 'SqliteError') return (err as Error & { code: string }).code;
  return undefined;
}

/**
 * Turns an SQLite error that escaped the typed layer into a StoreError. Errors that are already typed pass
 * through. Anything else (a programming error) is rethrown unchanged so its stack is not hidden.
 */
export function toStoreError(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const code = sqliteCode(err);
  if (code === undefined) {
    if (err instanceof TypeError && /database connection is not open/.test(err.message)) {
      return new StoreError(StoreErrorCode.closed, 'the store is closed', { cause: err });
    }
    return err;
  }
  const message = (err as Error).message;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError(StoreErrorCode.busy, `store is locked by another writer (${code})`, { cause: err });
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new StoreError(StoreErrorCode.readonly, `store is read-only (${code})`, { cause: err });
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new StoreError(StoreErrorCode.corrupt, `store file is damaged: ${message}`, { cause: err });
  }
  if (code.startsWith('SQLITE_CONSTRAINT')) {
    return new StoreError(StoreErrorCode.constraint, `store constraint failed: ${message}`, { cause: err });
  }
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_FULL' || code === 'SQLITE_PERM') {
    return new StoreError(StoreErrorCode.io, `store I/O error: ${message} (${code})`, { cause: err });
  }
  return new StoreError(StoreErrorCode.constraint, `store error: ${message} (${code})`, { cause: err });
}
