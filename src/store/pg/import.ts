/**
 * The reverse of publish (issue 21 item 6): a promoted node rebuilds its SQLite store of record from its
 * PostgreSQL. The full local copy a node's daemons already read (store-copy.ts: every published table, row ids
 * kept, the node-local reports laid over them, one REPEATABLE READ snapshot) is made in a staging folder beside
 * the target, this node is flagged as the publisher (and no other), the WAL is folded in, and the file is renamed
 * into place: the store appears whole or not at all.
 * What does not come back (docs/cluster.md "Promotion"): the audit log (never published), the parameters' change
 * times, the generation count (a new store starts its own). Private keys never travelled: `key_file` paths of other
 * nodes are kept as they were (valid on those nodes only).
 */
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import type { Sql } from 'postgres';
import { PgStoreError, PgStoreErrorCode } from './errors.js';
import { PgStoreCopy } from './store-copy.js';

export interface ImportResult {
  nodes: number;
  certificates: number;
  params: number;
  devices: number;
  /** The PostgreSQL generation the snapshot was taken at. */
  generation: number;
}

/** Writes `dbPath` (which must not exist) from the PostgreSQL behind `sql`, with `publisher` as the publisher. */
export async function importFromPg(sql: Sql, dbPath: string, options: { publisher: string }): Promise<ImportResult> {
  if (existsSync(dbPath)) throw new PgStoreError(PgStoreErrorCode.schema, `${dbPath} exists: import makes a new store`);
  const staging = mkdtempSync(join(dirname(dbPath), '.import-'));
  try {
    // A very long poll: the copy is loaded once here and closed, never refreshed.
    const copy = await PgStoreCopy.open(sql, { dir: staging, pollIntervalMs: 2 ** 30 });
    const generation = copy.pgGeneration();
    copy.close();
    const file = join(staging, 'store-copy.db');
    const db = new Database(file);
    let result: Omit<ImportResult, 'generation'>;
    try {
      const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      if (!db.prepare('SELECT 1 FROM nodes WHERE name = ?').get(options.publisher)) {
        throw new PgStoreError(PgStoreErrorCode.schema, `node ${options.publisher} is not in the published store`);
      }
      db.transaction(() => {
        db.prepare('UPDATE nodes SET is_publisher = 0').run();
        db.prepare('UPDATE nodes SET is_publisher = 1 WHERE name = ?').run(options.publisher);
      })();
      const broken = db.pragma('foreign_key_check') as unknown[];
      if (broken.length > 0)
        throw new PgStoreError(PgStoreErrorCode.schema, `the imported store has ${broken.length} rows without their parent`);
      result = { nodes: count('nodes'), certificates: count('certificates'), params: count('params'), devices: count('devices') };
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.pragma('journal_mode = DELETE');
    } finally {
      db.close();
    }
    renameSync(file, dbPath);
    return { ...result, generation };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
