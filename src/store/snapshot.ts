/**
 * A consistent copy of a store file at whatever schema version it has (SQLite online backup API), without the
 * opener's version checks: the first boot of a new firmware backs up the store of the version before it, which
 * the new code would otherwise refuse to open read-only (ERR_STORE_NEEDS_MIGRATION) until it migrated it.
 * Only an sbd store (application_id) is copied; nothing is written to the source.
 */
import Database from 'better-sqlite3';
import { APPLICATION_ID } from './migrations.js';
import { StoreError, StoreErrorCode } from './errors.js';

export async function snapshotStoreFile(dbPath: string, destination: string): Promise<{ schemaVersion: number }> {
  let db: Database.Database;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new StoreError(StoreErrorCode.io, `cannot open ${dbPath}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const appId = db.pragma('application_id', { simple: true }) as number;
    if (appId !== APPLICATION_ID) throw new StoreError(StoreErrorCode.foreign, `${dbPath} is not an sbd store`);
    const schemaVersion = db.pragma('user_version', { simple: true }) as number;
    await db.backup(destination);
    return { schemaVersion };
  } finally {
    db.close();
  }
}
