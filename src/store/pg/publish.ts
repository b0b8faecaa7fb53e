/**
 * Publishing a SQLite store into PostgreSQL (issue 21): the tables TVS reads (nodes, services, certificates with
 * history, parameters) and every table TFTP and SIP read (copied-tables.ts), all from ONE SQLite read transaction,
 * replaced in one PostgreSQL transaction that also moves the generation: a node polling it sees old or new, never a mix.
 * Only units whose content digest changed are rewritten (nodes reload only those); ids are kept; the node-local
 * tables (schema.ts, version 2) are left alone: subscribers write them.
 * Private keys are not copied (`key_file` is a path on the node that owns the key); the secrets that are copied
 * (digest HA1s, encrypted trunk passwords, login hashes): docs/cluster.md.
 */
import Database from 'better-sqlite3';
import type { Sql, TransactionSql } from 'postgres';
import type { Store } from '../store.js';
import { PARAMS_BY_NAME } from '../params-registry.js';
import {
  copiedTables,
  pgCreateTable,
  quote,
  REPORT_TABLES,
  rowsDigest,
  rowsPerInsert,
  TYPED_UNITS,
  type CopiedTable,
} from './copied-tables.js';
import { PgStoreError, PgStoreErrorCode } from './errors.js';
import { applyPgSchema } from './schema.js';

export interface PublishResult {
  nodes: number;
  certificates: number;
  params: number;
  /** Rows of the copied tables (copied-tables.ts), all tables together. */
  rows: number;
  /** Copy units (copied-tables.ts) whose rows changed and were rewritten. */
  changed: string[];
  /** The PostgreSQL generation after the publish. */
  generation: number;
}

type Row = Record<string, unknown>;

interface Snapshot {
  version: number;
  nodes: Row[];
  services: Row[];
  certificates: Row[];
  params: Row[];
  tables: { table: CopiedTable; rows: Row[] }[];
}

/** One read transaction on a second, read-only connection to the store's file (WAL: a consistent snapshot);
 *  `reportsOnly`: the phones' report tables alone (the typed tables left empty, not read). */
function readSnapshot(store: Store, reportsOnly: boolean): Snapshot {
  const db = new Database(store.path, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    return db.transaction(() => {
      const all = (table: string) => db.prepare(`SELECT * FROM ${quote(table)}`).all() as Row[];
      if (reportsOnly)
        return {
          version: db.pragma('user_version', { simple: true }) as number,
          nodes: [],
          services: [],
          certificates: [],
          params: [],
          tables: copiedTables(db)
            .filter((t) => REPORT_TABLES.includes(t.name))
            .map((table) => ({ table, rows: all(table.name) })),
        };
      return {
        version: db.pragma('user_version', { simple: true }) as number,
        nodes: all('nodes').map((n) => ({ ...n, is_publisher: n.is_publisher === 1 })),
        services: all('node_services'),
        certificates: all('certificates').map((c) => ({ ...c, current: c.current === 1 })),
        // Stored values that differ from the registry's default (every node knows the defaults).
        params: all('params')
          .filter((p) => PARAMS_BY_NAME.get(p.name as string)?.default !== p.value)
          .map((p) => ({ name: p.name, value: p.value })),
        tables: copiedTables(db).map((table) => ({ table, rows: all(table.name) })),
      };
    })();
  } finally {
    db.close();
  }
}

/** `reportsOnly`: only phones' reports changed since the last publish (store.reportsGeneration moved, not the
 *  generation): the report tables alone are read, digested and replaced — not 30,000 devices at every report. */
export interface PublishOptions {
  reportsOnly?: boolean;
  /** More writes in the same transaction, before the generation moves (sbd-clusterd: the cluster key rows, so a
   *  node never sees rows encrypted under a key without that key's row: store/pg/key-pins.ts). A throw rolls all back. */
  within?: (tx: TransactionSql) => Promise<void>;
}

export async function publishToPg(store: Store, sql: Sql, opts: PublishOptions = {}): Promise<PublishResult> {
  let reportsOnly = opts.reportsOnly === true;
  let snap = readSnapshot(store, reportsOnly);
  if (reportsOnly) {
    const [v] = await sql`SELECT value FROM sbd.meta WHERE key = 'store_version'`.catch(() => [undefined]);
    // A new layout (or none published yet) makes every table again: that needs the whole store.
    if (Number(v?.value) !== snap.version) {
      reportsOnly = false;
      snap = readSnapshot(store, false);
    }
  }
  const [recovery] = await sql`SELECT pg_is_in_recovery() AS standby`;
  if (recovery?.standby) {
    throw new PgStoreError(PgStoreErrorCode.readOnly, "this PostgreSQL is a hot standby: publish to the publisher's primary");
  }
  await applyPgSchema(sql);
  const changed: string[] = [];
  const generation = await sql.begin(async (tx) => {
    // One publisher at a time (two racing would interleave their DELETEs and INSERTs).
    await tx`SELECT pg_advisory_xact_lock(hashtext('sbd.publish'))`;
    const [v] = await tx`SELECT value FROM sbd.meta WHERE key = 'store_version'`;
    if (Number(v?.value) !== snap.version) {
      if (reportsOnly)
        throw new PgStoreError(PgStoreErrorCode.schema, 'the published layout changed during a reports-only publish: publish again');
      // A new SQLite layout (or the first publish): the copied tables are made again from it.
      for (const { table } of snap.tables) {
        await tx.unsafe(`DROP TABLE IF EXISTS sbd.${quote(table.name)}`);
        await tx.unsafe(pgCreateTable(table));
      }
      await tx`DELETE FROM sbd.table_versions`;
      await tx`UPDATE sbd.meta SET value = ${snap.version} WHERE key = 'store_version'`;
    }
    // Only the units whose rows changed are rewritten (a parameter change does not rewrite 30,000 devices).
    const stored = new Map(
      (await tx`SELECT name, sha256_hex FROM sbd.table_versions`).map((r) => [r.name as string, r.sha256_hex as string]),
    );
    const rowsOf = new Map<string, Row[]>([
      ['nodes', snap.nodes],
      ['node_services', snap.services],
      ['certificates', snap.certificates],
      ['params', snap.params],
      ...snap.tables.map(({ table, rows }) => [table.name, rows] as [string, Row[]]),
    ]);
    const units = [...(reportsOnly ? [] : TYPED_UNITS), ...snap.tables.map(({ table }) => ({ key: table.name, tables: [table.name] }))];
    for (const unit of units) {
      const digest = rowsDigest(unit.tables.flatMap((t) => rowsOf.get(t)!));
      if (stored.get(unit.key) === digest) continue;
      changed.push(unit.key);
      // Children first (foreign keys), then the rows of this store in their place.
      for (const t of [...unit.tables].reverse()) await tx.unsafe(`DELETE FROM sbd.${quote(t)}`);
      for (const t of unit.tables) await insert(tx, t, rowsOf.get(t)!, snap.tables.find((c) => c.table.name === t)?.table.columns.length);
      await tx`INSERT INTO sbd.table_versions (name, sha256_hex) VALUES (${unit.key}, ${digest})
        ON CONFLICT (name) DO UPDATE SET sha256_hex = excluded.sha256_hex`;
    }
    await opts.within?.(tx);
    const [g] = await tx`UPDATE sbd.meta SET value = value + 1 WHERE key = 'generation' RETURNING value`;
    return Number(g?.value);
  });
  return {
    nodes: snap.nodes.length,
    certificates: snap.certificates.length,
    params: snap.params.length,
    rows: snap.tables.reduce((n, t) => n + t.rows.length, 0),
    changed,
    generation,
  };
}

/** Multi-row INSERTs in slices under the bind-parameter cap. */
async function insert(tx: TransactionSql, table: string, rows: Row[], columns = Object.keys(rows[0] ?? {}).length): Promise<void> {
  const per = rowsPerInsert(columns);
  for (let i = 0; i < rows.length; i += per) await tx`INSERT INTO ${tx(`sbd.${table}`)} ${tx(rows.slice(i, i + per))}`;
}
