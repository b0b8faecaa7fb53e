/**
 * `sbd cluster migrate` (issue 21 item 7): a single-node SQLite store becomes the publisher of a cluster in one
 * command. The SQLite store stays the store of record (every admin command works as before); next to it this node
 * gets a PostgreSQL 15 primary (initdb if its folder is new; our settings block; its own TLS key), the sbd schema
 * with everything published, itself as a member (its server certificate on record for joining nodes), the cluster
 * secret from the cluster security password, and `cluster-node.json` saying "publisher". Running it again re-applies
 * the settings, keeps the data folder and the TLS key, and publishes again.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Clock } from '../lib/clock.js';
import {
  clusterSecretFromPassword,
  derivePgPassword,
  nodeRoleName,
  readClusterNode,
  writeClusterNode,
  writeClusterSecret,
} from '../store/pg/cluster-node.js';
import { publishToPg, type PublishResult } from '../store/pg/publish.js';
import { connectLocalAdmin } from '../store/pg/replication-connect.js';
import { publishClusterKeys } from './membership-keys.js';
import { applyMembershipSchema, hasSubmission, putMember, putReader, submitAs } from '../store/pg/replication-members.js';
import { initPrimary, pgLayout, startServer, writeHba, writeServerConf, writeTls } from '../store/pg/replication-server.js';
import { openState } from '../store/state.js';
import { MembershipError, MembershipErrorCode, toolOutput } from './membership-errors.js';
import { pgServerIdentity, refreshHba } from './membership.js';

export interface MigrateOptions {
  stateDir: string;
  pgDir: string;
  password: string;
  /** Where this node's PostgreSQL listens; host default: the node's IPv4 address, else 127.0.0.1. Port default 5432. */
  listen?: { host?: string | undefined; port?: number | undefined } | undefined;
  clock: Clock;
}

export interface MigrateResult extends PublishResult {
  node: string;
  initialised: boolean;
}

export async function migrateToCluster(opts: MigrateOptions): Promise<MigrateResult> {
  const existing = readClusterNode(opts.stateDir);
  if (existing?.role === 'subscriber') {
    throw new MembershipError(
      MembershipErrorCode.wrongRole,
      `this node (${existing.node}) is a subscriber: migrate runs on the single node that becomes the publisher`,
    );
  }
  const { store, layout } = openState(opts.stateDir);
  try {
    const self = store.listNodes().find((n) => n.isPublisher);
    if (!self) throw new MembershipError(MembershipErrorCode.node, 'the store has no publisher node (sbd init makes one)');
    const secret = clusterSecretFromPassword(opts.password);
    const host = opts.listen?.host ?? self.ipv4 ?? '127.0.0.1';
    const port = opts.listen?.port ?? 5432;
    const pg = pgLayout(opts.pgDir);
    const initialised = !existsSync(pg.data);
    // The server key is kept across runs: subscribers verify this node against its certificate (tls/nodes.crt).
    const keepTls = existsSync(pg.cert) && existsSync(pg.key);
    const tls = keepTls
      ? { certPem: readFileSync(pg.cert, 'utf8'), keyPem: '' }
      : pgServerIdentity(self.hostname, self.ipv4 ?? undefined, opts.clock);
    const file = {
      node: self.name,
      role: 'publisher' as const,
      publisher: { name: self.name, host, port },
      pg: { dir: opts.pgDir, host, port },
    };
    try {
      if (initialised) initPrimary(pg, derivePgPassword(secret, 'admin'));
      writeServerConf(pg, { host, port });
      if (!keepTls) writeTls(pg, { certPem: tls.certPem, keyPem: tls.keyPem, rootsPem: tls.certPem });
      // Before the first start: only the superuser from loopback until members are added.
      if (initialised) writeHba(pg, []);
      startServer(pg);
    } catch (err) {
      throw new MembershipError(MembershipErrorCode.tool, `this node's PostgreSQL could not be set up: ${toolOutput(err)}`, { cause: err });
    }
    writeClusterSecret(layout.keysDir, secret);
    writeClusterNode(opts.stateDir, file);
    const sql = connectLocalAdmin(file, layout.keysDir);
    try {
      const published = await publishToPg(store, sql);
      await applyMembershipSchema(sql);
      // The phone-password key, wrapped under the cluster secret, for the subscribers that join (membership-keys.ts).
      await publishClusterKeys(sql, layout.keysDir, secret);
      const role = nodeRoleName(self.name);
      await putMember(
        sql,
        { node: self.name, roleName: role, allowFrom: `${host}/32`, pgHost: host, pgPort: port },
        derivePgPassword(secret, `node:${self.name}`),
      );
      if (!(await hasSubmission(sql, role, tls.certPem))) await submitAs(sql, role, 'pg-server', tls.certPem);
      await putReader(sql, derivePgPassword(secret, 'reader'));
      await refreshHba(file, sql);
      return { ...published, node: self.name, initialised };
    } finally {
      await sql.end({ timeout: 2 });
    }
  } finally {
    store.close();
  }
}
