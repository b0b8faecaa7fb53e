/**
 * The membership tables of a cluster's PostgreSQL (issue 21 item 3), beside the published ones (schema.ts), never
 * replaced by a publish: written on the primary only, they reach every standby by replication (docs/cluster.md).
 * - `sbd.cluster_members`: the allow-list `sbd cluster add-node` writes (name, role, source, PostgreSQL address).
 * - `sbd.node_submissions`: a joining node's certificates, insert-only for member roles, `submitted_by` = the role.
 * - `sbd.cluster_keys`: the keys a joining node takes from the publisher, wrapped under the cluster secret.
 * - Row-level security on the node-local tables nodes' daemons write on the primary: a node's role reads every row
 *   but writes only rows that name it (`NODE_ROW_POLICIES`); the superuser and the table owner are not subject to it.
 */
import type { Sql } from 'postgres';
import { PgStoreError, PgStoreErrorCode } from './errors.js';

const DDL = `
CREATE SCHEMA IF NOT EXISTS sbd;
CREATE TABLE IF NOT EXISTS sbd.cluster_members (
  node text PRIMARY KEY,
  role_name text NOT NULL UNIQUE,
  allow_from text NOT NULL,
  pg_host text NOT NULL,
  pg_port integer NOT NULL DEFAULT 5432,
  added_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sbd.node_submissions (
  id bigserial PRIMARY KEY,
  submitted_by text NOT NULL DEFAULT session_user,
  name text NOT NULL CHECK (name IN ('CallManager', 'TVS', 'pg-server')),
  pem text NOT NULL,
  -- The private key's path on the submitting node (its daemons read it there; the key itself never travels).
  key_file text,
  submitted_at timestamptz NOT NULL DEFAULT now(),
  imported_at timestamptz,
  result text
);
-- Keys every node needs and only the publisher makes (the phone-password key), wrapped under the cluster secret
-- (cluster/membership-keys.ts): readable by node roles, useless without the cluster security password.
CREATE TABLE IF NOT EXISTS sbd.cluster_keys (
  name text PRIMARY KEY,
  wrapped bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- The key's id (store/pg/key-pins.ts, one-way): a node's copy loads a snapshot only once it holds that key.
ALTER TABLE sbd.cluster_keys ADD COLUMN IF NOT EXISTS key_id text;
`;

/**
 * The node-local tables with the column that names the node a row belongs to. What a node role may do (the node is
 * `cluster_members.node` of the session's role; a role without a member row matches nothing):
 * - `node_served_trust_files` (one row per TFTP server and file): read all; insert, update, delete its own only.
 * - `node_device_itl_hashes`, `node_device_trust_reports` (one row per phone, the node that last saw it): read all;
 *   insert rows naming itself; update any row, but the row then names itself (a phone that moved to this node: the
 *   report is now this node's); delete its own only (a delete of another node's row matches nothing).
 * So no node can write a row in another node's name, and none can erase what another node reported.
 */
export const NODE_ROW_POLICIES = [
  { table: 'node_served_trust_files', column: 'server', updateAny: false },
  { table: 'node_device_itl_hashes', column: 'node', updateAny: true },
  { table: 'node_device_trust_reports', column: 'node', updateAny: true },
] as const;

const OWN_NODE = '(SELECT m.node FROM sbd.cluster_members m WHERE m.role_name = session_user)';

function nodeRowPolicyDdl(p: (typeof NODE_ROW_POLICIES)[number]): string {
  const t = `sbd.${p.table}`;
  const own = `${p.column} = ${OWN_NODE}`;
  // Policies are replaced as a whole (PostgreSQL 15 has no CREATE POLICY IF NOT EXISTS); one transaction.
  return [
    `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY`,
    ...['read', 'insert', 'update', 'delete'].map((op) => `DROP POLICY IF EXISTS sbd_node_${op} ON ${t}`),
    `CREATE POLICY sbd_node_read ON ${t} FOR SELECT USING (true)`,
    `CREATE POLICY sbd_node_insert ON ${t} FOR INSERT WITH CHECK (${own})`,
    `CREATE POLICY sbd_node_update ON ${t} FOR UPDATE USING (${p.updateAny ? 'true' : own}) WITH CHECK (${own})`,
    `CREATE POLICY sbd_node_delete ON ${t} FOR DELETE USING (${own})`,
  ].join(';\n');
}

export async function applyMembershipSchema(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('sbd.membership'))`;
    await tx.unsafe(DDL);
    for (const p of NODE_ROW_POLICIES) {
      const [t] = await tx`SELECT to_regclass(${`sbd.${p.table}`}) IS NOT NULL AS ok`;
      if (t?.ok) await tx.unsafe(nodeRowPolicyDdl(p));
    }
  });
}

export interface MemberRow {
  node: string;
  roleName: string;
  allowFrom: string;
  pgHost: string;
  pgPort: number;
}

export async function listMembers(sql: Sql): Promise<MemberRow[]> {
  const exists = await sql`SELECT to_regclass('sbd.cluster_members') IS NOT NULL AS ok`;
  if (!exists[0]?.ok) return [];
  const rows = await sql`SELECT node, role_name, allow_from, pg_host, pg_port FROM sbd.cluster_members ORDER BY node COLLATE "C"`;
  return rows.map((r) => ({
    node: r.node as string,
    roleName: r.role_name as string,
    allowFrom: r.allow_from as string,
    pgHost: r.pg_host as string,
    pgPort: Number(r.pg_port),
  }));
}

/** The node-local tables of schema.ts that subscribers' daemons write on the primary. */
const NODE_WRITE_TABLES = NODE_ROW_POLICIES.map((p) => p.table);

/** The login role every node's daemons read their local server with: SELECT on schema sbd, nothing else. */
export const READER_ROLE = 'sbd_reader';

/** Creates (or re-keys) the reader role; tables created later by the superuser (publish) are readable too. */
export async function putReader(sql: Sql, password: string): Promise<void> {
  if (!/^[A-Za-z0-9_-]+$/.test(password)) throw new PgStoreError(PgStoreErrorCode.schema, 'the reader password has an unexpected shape');
  await refuseStandby(sql);
  await sql.begin(async (tx) => {
    const [exists] = await tx`SELECT 1 AS one FROM pg_roles WHERE rolname = ${READER_ROLE}`;
    await tx.unsafe(`${exists ? 'ALTER' : 'CREATE'} ROLE ${READER_ROLE} WITH LOGIN PASSWORD $pw$${password}$pw$`);
    await tx.unsafe(`GRANT USAGE ON SCHEMA sbd TO ${READER_ROLE}`);
    await tx.unsafe(`GRANT SELECT ON ALL TABLES IN SCHEMA sbd TO ${READER_ROLE}`);
    await tx.unsafe(`ALTER DEFAULT PRIVILEGES IN SCHEMA sbd GRANT SELECT ON TABLES TO ${READER_ROLE}`);
  });
}

async function refuseStandby(sql: Sql): Promise<void> {
  const [r] = await sql`SELECT pg_is_in_recovery() AS standby`;
  if (r?.standby)
    throw new PgStoreError(
      PgStoreErrorCode.readOnly,
      "this PostgreSQL is a hot standby: membership changes are made on the publisher's primary",
    );
}

/** Creates (or re-keys) the node's login role with REPLICATION, its row, and its grants; one transaction. */
export async function putMember(sql: Sql, m: MemberRow, password: string): Promise<void> {
  // Identifiers and the password go into DDL (no bind parameters there): only the shapes we make are accepted.
  if (!/^sbd_node_[a-z0-9_]{1,60}$/.test(m.roleName) || !/^[A-Za-z0-9_-]+$/.test(password)) {
    throw new PgStoreError(PgStoreErrorCode.schema, `role ${m.roleName} or its password has an unexpected shape`);
  }
  await refuseStandby(sql);
  await applyMembershipSchema(sql);
  await sql.begin(async (tx) => {
    const [exists] = await tx`SELECT 1 AS one FROM pg_roles WHERE rolname = ${m.roleName}`;
    // The password is sent once over the local connection; the server keeps a SCRAM verifier (password_encryption).
    const verb = exists ? 'ALTER' : 'CREATE';
    await tx.unsafe(`${verb} ROLE "${m.roleName}" WITH LOGIN REPLICATION PASSWORD $pw$${password}$pw$`);
    await tx.unsafe(`GRANT USAGE ON SCHEMA sbd TO "${m.roleName}"`);
    await tx.unsafe(`GRANT SELECT ON ALL TABLES IN SCHEMA sbd TO "${m.roleName}"`);
    await tx.unsafe(`GRANT INSERT (name, pem, key_file) ON sbd.node_submissions TO "${m.roleName}"`);
    await tx.unsafe(`GRANT USAGE ON SEQUENCE sbd.node_submissions_id_seq TO "${m.roleName}"`);
    // The node-local rows its daemons write to the primary (node-writes.ts): ITL hashes served, phones' reports.
    for (const table of NODE_WRITE_TABLES) {
      const [t] = await tx`SELECT to_regclass(${`sbd.${table}`}) IS NOT NULL AS ok`;
      if (t?.ok) await tx.unsafe(`GRANT SELECT, INSERT, UPDATE, DELETE ON sbd.${table} TO "${m.roleName}"`);
    }
    await tx`
      INSERT INTO sbd.cluster_members (node, role_name, allow_from, pg_host, pg_port)
      VALUES (${m.node}, ${m.roleName}, ${m.allowFrom}, ${m.pgHost}, ${m.pgPort})
      ON CONFLICT (node) DO UPDATE SET allow_from = excluded.allow_from, pg_host = excluded.pg_host, pg_port = excluded.pg_port`;
  });
}

/** Ends the member's sessions (its walsender too), drops its slot, grants, role and row. */
export async function dropMember(sql: Sql, node: string): Promise<{ slotDropped: boolean } | undefined> {
  await refuseStandby(sql);
  const [m] = await sql`SELECT role_name FROM sbd.cluster_members WHERE node = ${node}`;
  if (!m) return undefined;
  const role = m.role_name as string;
  if (!/^sbd_node_[a-z0-9_]{1,60}$/.test(role))
    throw new PgStoreError(PgStoreErrorCode.schema, `member role ${role} has an unexpected shape`);
  // No new session first: the standby's walreceiver reconnects at once, so a terminated walsender could come
  // back (slot active again, the removed node still streaming) before the role and its hba line are gone.
  await sql.unsafe(`ALTER ROLE "${role}" NOLOGIN`);
  // A terminated walsender releases its slot a moment later: wait until it is inactive (bounded).
  let slotDropped = false;
  for (let i = 0; i < 100; i++) {
    await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ${role}`;
    const [s] = await sql`SELECT active FROM pg_replication_slots WHERE slot_name = ${role}`;
    if (!s) break;
    if (!s.active) {
      await sql`SELECT pg_drop_replication_slot(${role})`;
      slotDropped = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await sql.begin(async (tx) => {
    await tx`DELETE FROM sbd.cluster_members WHERE node = ${node}`;
    await tx.unsafe(`REVOKE ALL ON ALL TABLES IN SCHEMA sbd FROM "${role}"`);
    await tx.unsafe(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA sbd FROM "${role}"`);
    await tx.unsafe(`REVOKE ALL ON SCHEMA sbd FROM "${role}"`);
    await tx.unsafe(`DROP ROLE IF EXISTS "${role}"`);
  });
  return { slotDropped };
}

export interface SubmissionRow {
  id: number;
  submittedBy: string;
  name: 'CallManager' | 'TVS' | 'pg-server';
  pem: string;
  keyFile: string | null;
}

export async function pendingSubmissions(sql: Sql): Promise<SubmissionRow[]> {
  const exists = await sql`SELECT to_regclass('sbd.node_submissions') IS NOT NULL AS ok`;
  if (!exists[0]?.ok) return [];
  const rows = await sql`SELECT id, submitted_by, name, pem, key_file FROM sbd.node_submissions WHERE imported_at IS NULL ORDER BY id`;
  return rows.map((r) => ({
    id: Number(r.id),
    submittedBy: r.submitted_by as string,
    name: r.name as SubmissionRow['name'],
    pem: r.pem as string,
    keyFile: (r.key_file as string | null) ?? null,
  }));
}

/** A submission made by the publisher for a member (its own server certificate at migrate or promote). */
export async function submitAs(sql: Sql, roleName: string, name: SubmissionRow['name'], pem: string): Promise<void> {
  await sql`INSERT INTO sbd.node_submissions (submitted_by, name, pem) VALUES (${roleName}, ${name}, ${pem})`;
}

export async function hasSubmission(sql: Sql, roleName: string, pem: string): Promise<boolean> {
  const rows = await sql`SELECT 1 FROM sbd.node_submissions WHERE submitted_by = ${roleName} AND pem = ${pem}`;
  return rows.length > 0;
}

export async function markSubmission(sql: Sql, id: number, result: string): Promise<void> {
  await sql`UPDATE sbd.node_submissions SET imported_at = now(), result = ${result} WHERE id = ${id}`;
}

/** The newest PostgreSQL server certificate of every member that submitted one (a standby's verify-ca roots). */
export async function memberServerCerts(sql: Sql): Promise<Map<string, string>> {
  const exists = await sql`SELECT to_regclass('sbd.node_submissions') IS NOT NULL AS ok`;
  if (!exists[0]?.ok) return new Map();
  const rows = await sql`
    SELECT DISTINCT ON (s.submitted_by) m.node, s.pem FROM sbd.node_submissions s
    JOIN sbd.cluster_members m ON m.role_name = s.submitted_by
    WHERE s.name = 'pg-server' ORDER BY s.submitted_by, s.id DESC`;
  return new Map(rows.map((r) => [r.node as string, r.pem as string]));
}
