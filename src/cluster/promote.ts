/**
 * Promotion (issue 21 item 6; CUCM cannot do it): after the publisher is gone for good, a subscriber becomes the
 * publisher. Steps, in order:
 * 1. Refuse while the old primary still answers (two primaries would diverge); `force` skips the probe.
 * 2. pg_promote(): the hot standby becomes a primary on a new timeline, with everything it had replayed.
 * 3. The SQLite store of record is rebuilt from PostgreSQL (store/pg/import.ts), this node flagged publisher.
 * 4. pg_hba.conf from the members table without the old publisher, a slot per other subscriber (each then runs
 *    `sbd cluster repoint`, below), cluster-node.json says publisher, everything published again.
 * What is lost is listed in docs/cluster.md "Promotion" (keys of the old publisher: ITLRecovery and CAPF).
 */
import type { Sql } from 'postgres';
import { derivePgPassword, nodeRoleName, readClusterSecret, writeClusterNode, type ClusterNodeFile } from '../store/pg/cluster-node.js';
import { importFromPg, type ImportResult } from '../store/pg/import.js';
import { publishToPg } from '../store/pg/publish.js';
import { connectLocalAdmin, connectPrimaryAsNode } from '../store/pg/replication-connect.js';
import { listMembers, memberServerCerts } from '../store/pg/replication-members.js';
import { pgLayout, primaryConnInfo, writeHba, writeRoots } from '../store/pg/replication-server.js';
import { openState, stateLayout } from '../store/state.js';
import { MembershipError, MembershipErrorCode } from './membership-errors.js';
import { requireRole } from './membership.js';

export const PROMOTE_DEFAULTS = {
  /** Seconds pg_promote waits for the promotion to finish. */
  promoteWaitSeconds: 60,
} as const;

export interface PromoteResult extends ImportResult {
  node: string;
  oldPublisher: string;
  slots: string[];
  publishedGeneration: number;
}

/** True when the old primary accepts a connection from this node (its role, TLS verified). */
async function publisherAnswers(file: ClusterNodeFile, keysDir: string): Promise<boolean> {
  const sql = connectPrimaryAsNode(file, file.publisher, readClusterSecret(keysDir));
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

async function waitPromoted(sql: Sql): Promise<void> {
  const [r] = await sql`SELECT pg_promote(true, ${PROMOTE_DEFAULTS.promoteWaitSeconds}) AS ok`;
  if (!r?.ok)
    throw new MembershipError(MembershipErrorCode.tool, `pg_promote did not finish within ${PROMOTE_DEFAULTS.promoteWaitSeconds} s`);
}

export async function promoteNode(stateDir: string, options: { force?: boolean } = {}): Promise<PromoteResult> {
  const file = requireRole(stateDir, 'subscriber', 'promote');
  const layout = stateLayout(stateDir);
  if (!options.force && (await publisherAnswers(file, layout.keysDir))) {
    throw new MembershipError(
      MembershipErrorCode.publisherAlive,
      `the publisher ${file.publisher.name} (${file.publisher.host}:${file.publisher.port}) still answers: stop it first (two publishers would diverge)`,
    );
  }
  const sql = connectLocalAdmin(file, layout.keysDir);
  try {
    const [rec] = await sql`SELECT pg_is_in_recovery() AS standby`;
    if (rec?.standby) await waitPromoted(sql);
    const imported = await importFromPg(sql, layout.dbPath, { publisher: file.node });
    const members = (await listMembers(sql)).filter((m) => m.node !== file.publisher.name);
    writeHba(
      pgLayout(file.pg.dir),
      members.filter((m) => m.node !== file.node).map((m) => ({ role: m.roleName, allowFrom: m.allowFrom })),
    );
    await sql`SELECT pg_reload_conf()`;
    const slots: string[] = [];
    for (const m of members) {
      if (m.node === file.node) continue;
      await sql`SELECT pg_create_physical_replication_slot(${m.roleName}) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = ${m.roleName})`;
      slots.push(m.roleName);
    }
    const next: ClusterNodeFile = { ...file, role: 'publisher', publisher: { name: file.node, host: file.pg.host, port: file.pg.port } };
    writeClusterNode(stateDir, next);
    const { store } = openState(stateDir);
    try {
      const published = await publishToPg(store, sql);
      return { ...imported, node: file.node, oldPublisher: file.publisher.name, slots, publishedGeneration: published.generation };
    } finally {
      store.close();
    }
  } finally {
    await sql.end({ timeout: 2 });
  }
}

export interface RepointResult {
  publisher: string;
  roots: number;
}

/**
 * On each remaining subscriber after a promotion: follow the new primary. The node certificates it trusts come
 * from its own replica (every member's server certificate was replicated), primary_conninfo and the slot name are
 * changed with ALTER SYSTEM and a reload (PostgreSQL 13+ restarts the WAL receiver), and recovery_target_timeline
 * 'latest' makes it take the new timeline. A subscriber that had replayed beyond the promoted node's last position
 * cannot follow it and is joined again instead (docs/cluster.md).
 */
export async function repointSubscriber(stateDir: string, to: { host: string; port: number }): Promise<RepointResult> {
  const file = requireRole(stateDir, 'subscriber', 'repoint');
  const layout = stateLayout(stateDir);
  const sql = connectLocalAdmin(file, layout.keysDir);
  try {
    const members = await listMembers(sql);
    const target = members.find((m) => m.pgHost === to.host && m.pgPort === to.port);
    if (!target) throw new MembershipError(MembershipErrorCode.node, `no member node listens on ${to.host}:${to.port}`);
    const certs = await memberServerCerts(sql);
    const pg = pgLayout(file.pg.dir);
    writeRoots(pg, [...certs.values()].join(''));
    const secret = readClusterSecret(layout.keysDir);
    const role = nodeRoleName(file.node);
    const conninfo = `${primaryConnInfo(pg, { ...to, user: role })} password=${derivePgPassword(secret, `node:${file.node}`)}`;
    const quote = (v: string) => `'${v.replaceAll("'", "''")}'`;
    await sql.unsafe(`ALTER SYSTEM SET primary_conninfo = ${quote(conninfo)}`);
    await sql.unsafe(`ALTER SYSTEM SET primary_slot_name = ${quote(role)}`);
    await sql`SELECT pg_reload_conf()`;
    writeClusterNode(stateDir, { ...file, publisher: { name: target.node, ...to } });
    return { publisher: target.node, roots: certs.size };
  } finally {
    await sql.end({ timeout: 2 });
  }
}
