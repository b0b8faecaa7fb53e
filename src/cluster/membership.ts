/**
 * Adding and removing cluster nodes on the publisher (issue 21 item 3). As CUCM asks, a server is added on the
 * publisher before it is installed: `add-node` is the allow-list. It writes the `nodes` row in the SQLite store of
 * record (published at once, and by sbd-clusterd after), a replication role for the node whose SCRAM password is
 * derived from the cluster secret (the joining box derives the same from the cluster security password), and a
 * `hostssl` pg_hba.conf line admitting that role from the node's address only. `remove-node` undoes it: sessions
 * ended, replication slot dropped, role and line gone, the node's services cleared; it refuses the publisher.
 */
import type { Sql } from 'postgres';
import type { Clock } from '../lib/clock.js';
import { generateIdentity } from '../pki/profiles.js';
import { type ClusterNodeFile, derivePgPassword, nodeRoleName, readClusterNode, readClusterSecret } from '../store/pg/cluster-node.js';
import { publishToPg } from '../store/pg/publish.js';
import { connectLocalAdmin } from '../store/pg/replication-connect.js';
import { dropMember, listMembers, putMember } from '../store/pg/replication-members.js';
import { pgLayout, writeHba } from '../store/pg/replication-server.js';
import { openState, stateLayout } from '../store/state.js';
import { MembershipError, MembershipErrorCode } from './membership-errors.js';

/** Services a subscriber runs unless told otherwise (CAPF stays on the publisher, as in CUCM). */
export const SUBSCRIBER_SERVICES = ['callmanager', 'sip', 'tftp', 'tvs'] as const;

export interface AddNodeOptions {
  stateDir: string;
  name: string;
  ipv4: string;
  /** Default: the node name. */
  hostname?: string | undefined;
  /** Where the node's connections come from (CIDR). Default `ipv4/32`. */
  allowFrom?: string | undefined;
  /** The port of the node's own PostgreSQL (for status). Default 5432. */
  pgPort?: number | undefined;
  services?: readonly string[] | undefined;
}

/** This box's cluster file, which must say `role`. */
export function requireRole(stateDir: string, role: 'publisher' | 'subscriber', what: string): ClusterNodeFile {
  const node = readClusterNode(stateDir);
  if (!node)
    throw new MembershipError(
      MembershipErrorCode.wrongRole,
      `${what}: this box is not in a cluster (sbd cluster migrate makes a publisher)`,
    );
  if (node.role !== role) {
    throw new MembershipError(
      MembershipErrorCode.wrongRole,
      role === 'publisher'
        ? `${what} runs on the publisher ${node.publisher.name} (${node.publisher.host}); this node (${node.node}) is a subscriber`
        : `${what} runs on a subscriber; this node (${node.node}) is the publisher`,
    );
  }
  return node;
}

/** pg_hba.conf from the members table, then a reload (sessions already open are not affected). */
export async function refreshHba(node: ClusterNodeFile, sql: Sql): Promise<void> {
  const members = await listMembers(sql);
  writeHba(
    pgLayout(node.pg.dir),
    members.filter((m) => m.node !== node.node).map((m) => ({ role: m.roleName, allowFrom: m.allowFrom })),
  );
  await sql`SELECT pg_reload_conf()`;
}

/** This node's PostgreSQL server certificate and key (its own key, generated here; serverAuth, the node's names). */
export function pgServerIdentity(hostname: string, ipv4: string | undefined, clock: Clock): { certPem: string; keyPem: string } {
  const id = generateIdentity({ name: 'tomcat', hostname, ...(ipv4 ? { ipv4 } : {}), now: new Date(clock.now()) });
  return { certPem: id.certPem, keyPem: id.privateKeyPem };
}

/**
 * Runs `fn` again when PostgreSQL aborted it as a deadlock victim (40P01): sbd-clusterd publishes at the same time
 * (a joining node's certificates), and the two transactions can lock the same tables in another order (seen in
 * pg-promote: add-node of a second node while the first one's certificates were being published). Every step of
 * `fn` can be repeated (put, rewrite, publish).
 */
async function retryDeadlock<V>(fn: () => Promise<V>, tries = 3): Promise<V> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { code?: string }).code !== '40P01' || i >= tries) throw err;
    }
  }
}

export async function addClusterNode(opts: AddNodeOptions): Promise<{ role: string; generation: number }> {
  const node = requireRole(opts.stateDir, 'publisher', 'add-node');
  const secret = readClusterSecret(stateLayout(opts.stateDir).keysDir);
  const { store } = openState(opts.stateDir);
  const sql = connectLocalAdmin(node, stateLayout(opts.stateDir).keysDir);
  try {
    if (!store.getNode(opts.name)) {
      store.addNode({
        name: opts.name,
        hostname: opts.hostname ?? opts.name,
        ipv4: opts.ipv4,
        services: [...(opts.services ?? SUBSCRIBER_SERVICES)],
      });
    }
    const role = nodeRoleName(opts.name);
    const generation = await retryDeadlock(async () => {
      await putMember(
        sql,
        { node: opts.name, roleName: role, allowFrom: opts.allowFrom ?? `${opts.ipv4}/32`, pgHost: opts.ipv4, pgPort: opts.pgPort ?? 5432 },
        derivePgPassword(secret, `node:${opts.name}`),
      );
      await refreshHba(node, sql);
      return (await publishToPg(store, sql)).generation;
    });
    return { role, generation };
  } finally {
    await sql.end({ timeout: 2 });
    store.close();
  }
}

export async function removeClusterNode(stateDir: string, name: string): Promise<{ slotDropped: boolean; generation: number }> {
  const node = requireRole(stateDir, 'publisher', 'remove-node');
  const { store } = openState(stateDir);
  const sql = connectLocalAdmin(node, stateLayout(stateDir).keysDir);
  try {
    const row = store.getNode(name);
    if (!row) throw new MembershipError(MembershipErrorCode.node, `no node named ${name}`);
    if (row.isPublisher)
      throw new MembershipError(MembershipErrorCode.node, `${name} is the publisher: it cannot be removed (promote a subscriber first)`);
    const dropped = await dropMember(sql, name);
    await refreshHba(node, sql);
    // Its services go at once, so no trust list or config names it; the row and its certificates stay as
    // history (the store keeps a current identity until it is replaced).
    store.setNodeServices(name, []);
    const { generation } = await publishToPg(store, sql);
    return { slotDropped: dropped?.slotDropped ?? false, generation };
  } finally {
    await sql.end({ timeout: 2 });
    store.close();
  }
}
