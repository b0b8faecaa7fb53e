/**
 * `show cluster` / `sbd cluster status` (issue 21 item 3): every node with its role, address, services and
 * replication state, read from this node's own PostgreSQL (so it works on a subscriber with the publisher gone).
 * On the primary the walsenders tell each standby's state, TLS and lag (pg_stat_replication: bytes not yet replayed
 * and replay_lag, joined with pg_stat_ssl); on a standby the node reports its own receive and replay position
 * (pg_stat_wal_receiver, pg_last_wal_replay_lsn, pg_last_xact_replay_timestamp).
 */
import { readClusterNode } from '../store/pg/cluster-node.js';
import { connectLocalAdmin } from '../store/pg/replication-connect.js';
import { listMembers } from '../store/pg/replication-members.js';
import { stateLayout } from '../store/state.js';
import { MembershipError, MembershipErrorCode } from './membership-errors.js';

export interface NodeStatus {
  name: string;
  role: 'publisher' | 'subscriber';
  address: string;
  services: string[];
  /** 'primary', 'streaming', 'catchup', 'not connected', or on a standby for itself the receiver's status. */
  replication: string;
  tls: boolean | undefined;
  /** WAL bytes sent but not replayed yet (primary's view), or received but not replayed (standby's own view). */
  lagBytes: number | undefined;
  /** pg_stat_replication.replay_lag in ms (primary), or the age of the last replayed commit (standby). */
  lagMs: number | undefined;
}

export interface ClusterStatus {
  self: string;
  selfRole: 'publisher' | 'subscriber';
  inRecovery: boolean;
  generation: number;
  nodes: NodeStatus[];
}

function ms(v: unknown): number | undefined {
  return v === null || v === undefined ? undefined : Math.round(Number(v));
}

export async function clusterStatus(stateDir: string): Promise<ClusterStatus> {
  const file = readClusterNode(stateDir);
  if (!file) throw new MembershipError(MembershipErrorCode.wrongRole, 'this box is not in a cluster (a single node: "show status")');
  const sql = connectLocalAdmin(file, stateLayout(stateDir).keysDir);
  try {
    const [rec] = await sql`SELECT pg_is_in_recovery() AS standby`;
    const inRecovery = Boolean(rec?.standby);
    const [g] = await sql`SELECT value FROM sbd.meta WHERE key = 'generation'`;
    const nodes = await sql`
      SELECT n.name, n.is_publisher, coalesce(n.ipv4, n.ipv6, n.hostname) AS address,
        coalesce((SELECT array_agg(s.service ORDER BY s.service COLLATE "C") FROM sbd.node_services s WHERE s.node_id = n.id), '{}') AS services
      FROM sbd.nodes n ORDER BY n.is_publisher DESC, n.name COLLATE "C"`;
    const roleOf = new Map((await listMembers(sql)).map((m) => [m.node, m.roleName]));
    const senders = inRecovery
      ? []
      : await sql`
          SELECT r.usename, r.state, s.ssl, pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn) AS lag_bytes,
            extract(epoch FROM r.replay_lag) * 1000 AS lag_ms
          FROM pg_stat_replication r LEFT JOIN pg_stat_ssl s ON s.pid = r.pid`;
    const sender = new Map(senders.map((s) => [s.usename as string, s]));
    let own: { status: string; lagBytes: number | undefined; lagMs: number | undefined } | undefined;
    if (inRecovery) {
      const [w] = await sql`
        SELECT (SELECT status FROM pg_stat_wal_receiver) AS status,
          pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) AS lag_bytes,
          extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000 AS lag_ms`;
      own = { status: (w?.status as string | null) ?? 'not connected', lagBytes: ms(w?.lag_bytes), lagMs: ms(w?.lag_ms) };
    }
    return {
      self: file.node,
      selfRole: file.role,
      inRecovery,
      generation: Number(g?.value ?? 0),
      nodes: nodes.map((n): NodeStatus => {
        const name = n.name as string;
        const isPublisher = Boolean(n.is_publisher);
        const base = {
          name,
          role: isPublisher ? ('publisher' as const) : ('subscriber' as const),
          address: n.address as string,
          services: n.services as string[],
        };
        if (!inRecovery && name === file.node)
          return { ...base, replication: 'primary', tls: undefined, lagBytes: undefined, lagMs: undefined };
        if (inRecovery) {
          if (name === file.node && own)
            return { ...base, replication: own.status, tls: undefined, lagBytes: own.lagBytes, lagMs: own.lagMs };
          return { ...base, replication: '-', tls: undefined, lagBytes: undefined, lagMs: undefined };
        }
        const s = sender.get(roleOf.get(name) ?? '');
        if (!s) return { ...base, replication: 'not connected', tls: undefined, lagBytes: undefined, lagMs: undefined };
        return { ...base, replication: s.state as string, tls: Boolean(s.ssl), lagBytes: ms(s.lag_bytes), lagMs: ms(s.lag_ms) ?? 0 };
      }),
    };
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** The table both the console and the CLI print. */
export function formatClusterStatus(s: ClusterStatus): string[] {
  const head = `this node: ${s.self} (${s.selfRole}${s.inRecovery ? ', hot standby' : ', primary'}), store generation ${s.generation}`;
  const rows = s.nodes.map((n) => [
    n.name + (n.name === s.self ? ' *' : ''),
    n.role,
    n.address,
    n.replication + (n.tls === undefined ? '' : n.tls ? ' (TLS)' : ' (NO TLS)'),
    n.lagBytes === undefined ? '-' : `${n.lagBytes} B`,
    n.lagMs === undefined ? '-' : `${n.lagMs} ms`,
    n.services.join(',') || '-',
  ]);
  const all = [['node', 'role', 'address', 'replication', 'lag', 'replay lag', 'services'], ...rows];
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return [
    head,
    ...all.map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    ),
  ];
}
