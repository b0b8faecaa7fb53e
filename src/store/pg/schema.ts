/**
 * The PostgreSQL schema of the store engine for a cluster (issue 21 item 1), in schema `sbd`: the typed tables TVS's
 * trust view reads (nodes, their services, certificates current and history, parameters), the generation row every
 * node polls (item 2: LISTEN/NOTIFY does not fire on a hot standby, a one-row read does), and (version 2) the
 * node-local tables subscribers write on the primary (node-writes.ts). The other store tables TFTP and SIP read are
 * created by publish.ts from the SQLite layout itself (copied-tables.ts), tagged with `store_version`.
 * Columns mirror the SQLite tables of store/migrations.ts; times stay the same ISO-8601 text so a row reads back
 * exactly as SQLite gives it. Text is ordered with COLLATE "C" in queries: SQLite's BINARY order.
 */
import type { Sql } from 'postgres';
import { PgStoreError, PgStoreErrorCode } from './errors.js';

/** The schema version this build writes and reads; a database with a higher one is refused. */
export const PG_SCHEMA_VERSION = 2;

const DDL = `
CREATE SCHEMA IF NOT EXISTS sbd;
CREATE TABLE IF NOT EXISTS sbd.meta (
  key text PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO sbd.meta (key, value) VALUES ('generation', 0), ('schema_version', ${PG_SCHEMA_VERSION})
  ON CONFLICT (key) DO NOTHING;
CREATE TABLE IF NOT EXISTS sbd.nodes (
  id integer PRIMARY KEY,
  name text NOT NULL UNIQUE,
  hostname text NOT NULL,
  ipv4 text,
  ipv6 text,
  is_publisher boolean NOT NULL DEFAULT false,
  created_at text NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS nodes_single_publisher ON sbd.nodes (is_publisher) WHERE is_publisher;
CREATE TABLE IF NOT EXISTS sbd.node_services (
  node_id integer NOT NULL REFERENCES sbd.nodes (id) ON DELETE CASCADE,
  service text NOT NULL,
  PRIMARY KEY (node_id, service)
);
CREATE TABLE IF NOT EXISTS sbd.certificates (
  id integer PRIMARY KEY,
  name text NOT NULL,
  node_id integer REFERENCES sbd.nodes (id),
  kind text NOT NULL CHECK (kind IN ('identity', 'trust')),
  purpose text,
  pem text NOT NULL,
  der bytea NOT NULL,
  key_file text,
  subject text NOT NULL,
  issuer text NOT NULL,
  serial_hex text NOT NULL,
  not_before text NOT NULL,
  not_after text NOT NULL,
  sha256_hex text NOT NULL,
  sha1_hex text NOT NULL,
  current boolean NOT NULL,
  created_at text NOT NULL,
  replaced_at text,
  CHECK (current = (replaced_at IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS certificates_one_current_identity
  ON sbd.certificates (name, coalesce(node_id, 0)) WHERE current AND kind = 'identity';
CREATE UNIQUE INDEX IF NOT EXISTS certificates_trust_once
  ON sbd.certificates (name, coalesce(node_id, 0), sha256_hex) WHERE current AND kind = 'trust';
-- Stored (non-default) values only; the defaults are the registry's (store/params-registry.ts) on every node.
CREATE TABLE IF NOT EXISTS sbd.params (
  name text PRIMARY KEY,
  value text NOT NULL
);
-- Version 2. Written by each node's daemons on the primary, never published over: the trust lists a TFTP server
-- serves (ITL File Status: Match against any server's hash), what phones registered there report. Keyed by name
-- (device, server), so a row survives a publish that renumbers nothing but replaces every copied table.
CREATE TABLE IF NOT EXISTS sbd.node_served_trust_files (
  server text NOT NULL,
  file text NOT NULL,
  sha256_hex text NOT NULL,
  sha1_hex text NOT NULL,
  md5_hex text NOT NULL,
  bytes bytea NOT NULL,
  at text NOT NULL,
  PRIMARY KEY (server, file)
);
CREATE TABLE IF NOT EXISTS sbd.node_device_itl_hashes (
  device text PRIMARY KEY,
  node text NOT NULL,
  sha256_hex text NOT NULL,
  status text,
  at text NOT NULL
);
CREATE TABLE IF NOT EXISTS sbd.node_device_trust_reports (
  device text PRIMARY KEY,
  node text NOT NULL,
  itl_signature text NOT NULL,
  itl_tftp_server text,
  ctl_signature text,
  ctl_tftp_server text,
  at text NOT NULL
);
-- Per copy unit (copied-tables.ts): the digest of its rows at the last publish that changed it, so a publish
-- rewrites and a node reloads only what changed.
CREATE TABLE IF NOT EXISTS sbd.table_versions (
  name text PRIMARY KEY,
  sha256_hex text NOT NULL
);
INSERT INTO sbd.meta (key, value) VALUES ('store_version', 0) ON CONFLICT (key) DO NOTHING;
UPDATE sbd.meta SET value = ${PG_SCHEMA_VERSION} WHERE key = 'schema_version' AND value < ${PG_SCHEMA_VERSION};
`;

/** Creates the schema if it is missing (idempotent); refuses a database written by a newer build. */
export async function applyPgSchema(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    // One creator at a time: two publishers racing on an empty database must not both run the DDL.
    await tx`SELECT pg_advisory_xact_lock(hashtext('sbd.schema'))`;
    await tx.unsafe(DDL);
  });
  await checkPgSchema(sql);
}

/** Reads the schema version; works on a hot standby (a read only). */
export async function checkPgSchema(sql: Sql): Promise<void> {
  const exists = await sql`SELECT to_regclass('sbd.meta') IS NOT NULL AS ok`;
  if (!exists[0]?.ok) throw new PgStoreError(PgStoreErrorCode.schema, 'the database has no sbd schema: publish a store to it first');
  const rows = await sql`SELECT value FROM sbd.meta WHERE key = 'schema_version'`;
  const version = Number(rows[0]?.value ?? 0);
  if (version > PG_SCHEMA_VERSION) {
    throw new PgStoreError(PgStoreErrorCode.schema, `the sbd schema is version ${version}; this build knows up to ${PG_SCHEMA_VERSION}`);
  }
}
