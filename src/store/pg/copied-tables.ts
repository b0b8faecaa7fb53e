/**
 * The store tables TFTP and SIP read (devices, profiles, users and digest credentials, trunks, partitions/CSS, ITL
 * reports ...), copied to PostgreSQL column for column under the same names. Their PostgreSQL layout is derived from
 * the SQLite one (PRAGMA table_info of the migrated store) instead of written a second time: the two engines cannot
 * drift, and every query TFTP and SIP make stays the one of store/*.ts (a node reads them from a local SQLite copy,
 * store-copy.ts). The layout is tagged with the SQLite schema version (`sbd.meta` 'store_version'); publish.ts
 * recreates the tables when it changes, and a node of another build refuses the copy (ERR_PG_SCHEMA).
 * Not copied: `sbd_meta` (per store), `audit_log` (the publisher's own record) and the four typed tables of schema.ts.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';

export interface CopiedColumn {
  name: string;
  /** The SQLite declared type: INTEGER, TEXT, BLOB, REAL or ANY. */
  type: string;
  /** Position in the primary key, 0 when not part of it. */
  pk: number;
}

export interface CopiedTable {
  name: string;
  columns: CopiedColumn[];
}

/** Tables with a hand-written PostgreSQL layout (schema.ts), published from their typed rows. */
export const TYPED_TABLES: readonly string[] = ['nodes', 'node_services', 'certificates', 'params'];
/**
 * What a publish replaces and a node reloads as one piece, each with its content digest in `sbd.table_versions`: the
 * three typed tables that reference each other go together (foreign keys), every other table alone.
 */
export interface CopyUnit {
  key: string;
  tables: string[];
}
export const TYPED_UNITS: readonly CopyUnit[] = [
  { key: 'typed:nodes', tables: ['nodes', 'node_services', 'certificates'] },
  { key: 'typed:params', tables: ['params'] },
];

/** SHA-256 over rows as read (values typed, so '1' and 1 differ): equal digests, equal content. */
export function rowsDigest(rows: readonly Record<string, unknown>[]): string {
  const h = createHash('sha256');
  // One update per row (a call per value made 30,000 rows cost a second); a value is its type letter and its text.
  if (rows[0]) h.update(`${Object.keys(rows[0]).join('\u0000')}\u0002`);
  for (const r of rows) {
    let line = '';
    for (const v of Object.values(r)) {
      line += v === null || v === undefined ? 'n' : Buffer.isBuffer(v) ? `b${v.toString('base64')}` : `${(typeof v)[0]}${String(v)}`;
      line += '\u0001';
    }
    h.update(`${line}\u0002`);
  }
  return h.digest('hex');
}

/** The tables the store writes through StoreContext.report (itl-hashes.ts, trust-reports.ts): phones' reports,
 *  from which no generation-keyed cache derives anything. */
export const REPORT_TABLES: readonly string[] = ['device_itl_hashes', 'device_trust_reports'];

/** Tables that stay on the publisher. */
export const UNCOPIED_TABLES: readonly string[] = ['sbd_meta', 'audit_log'];

/** Every copied table of `db` (a migrated store), in name order, with its columns in table order. */
export function copiedTables(db: Database.Database): CopiedTable[] {
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as {
    name: string;
  }[];
  return names
    .map((r) => r.name)
    .filter((n) => !TYPED_TABLES.includes(n) && !UNCOPIED_TABLES.includes(n))
    .map((name) => ({
      name,
      columns: (db.prepare(`PRAGMA table_info(${quote(name)})`).all() as { name: string; type: string; pk: number }[]).map((c) => ({
        name: c.name,
        type: c.type.toUpperCase(),
        pk: c.pk,
      })),
    }));
}

/** An SQL identifier in double quotes (both engines). */
export function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

const PG_TYPES: Record<string, string> = { INTEGER: 'bigint', TEXT: 'text', BLOB: 'bytea', REAL: 'double precision' };

/** CREATE TABLE for one copied table in schema sbd: the columns and primary key, no other constraint (the publisher's SQLite checked them). */
export function pgCreateTable(t: CopiedTable): string {
  const cols = t.columns.map((c) => `${quote(c.name)} ${PG_TYPES[c.type] ?? 'text'}`);
  const pk = t.columns
    .filter((c) => c.pk > 0)
    .sort((a, b) => a.pk - b.pk)
    .map((c) => quote(c.name));
  if (pk.length > 0) cols.push(`PRIMARY KEY (${pk.join(', ')})`);
  return `CREATE TABLE sbd.${quote(t.name)} (${cols.join(', ')})`;
}

/**
 * A PostgreSQL value as SQLite wants it for this column: bigint comes back as text from the client, bytea as a
 * Buffer already.
 */
export function toSqliteValue(column: CopiedColumn, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (column.type === 'INTEGER' && typeof v === 'string') return Number(v);
  if (column.type === 'REAL' && typeof v === 'string') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

/** Rows per INSERT: one statement's bind parameters are capped at 65535 (PostgreSQL protocol, Bind message). */
export function rowsPerInsert(columns: number): number {
  return Math.max(1, Math.floor(60_000 / Math.max(1, columns)));
}
