/**
 * The two connections the cluster commands make (issue 21 item 3):
 * - to this node's own server as the superuser, over loopback (pg_hba.conf admits `sbd` from loopback only), with
 *   the password derived from the cluster secret in the state folder;
 * - to the publisher's primary as this node's replication role, over TLS verified against the node certificates
 *   this node trusts (`tls/nodes.crt`, as sslmode=verify-ca: the certificates are the cluster's own, self-signed,
 *   so the chain is what is checked, not a host name that promotion or re-addressing would change).
 */
import { readFileSync } from 'node:fs';
import postgres, { type Sql } from 'postgres';
import { type ClusterNodeFile, derivePgPassword, nodeRoleName, PG_ADMIN_USER, readClusterSecret } from './cluster-node.js';
import { pgLayout } from './replication-server.js';

export const REPLICATION_CONNECT_DEFAULTS = {
  /** Seconds to wait for a connection. */
  connectTimeoutSeconds: 5,
  /** Where a node's own tools reach its server (listen_addresses always includes it). */
  localHost: '127.0.0.1',
} as const;

export function connectLocalAdmin(node: ClusterNodeFile, keysDir: string): Sql {
  return postgres({
    host: REPLICATION_CONNECT_DEFAULTS.localHost,
    port: node.pg.port,
    user: PG_ADMIN_USER,
    database: 'postgres',
    password: derivePgPassword(readClusterSecret(keysDir), 'admin'),
    max: 2,
    connect_timeout: REPLICATION_CONNECT_DEFAULTS.connectTimeoutSeconds,
    onnotice: () => {},
  });
}

/** As `node`'s replication role to the primary at `to`, TLS verified against `rootsPem` (default: tls/nodes.crt). */
export function connectPrimaryAsNode(
  node: { node: string; pg: { dir: string } },
  to: { host: string; port: number },
  secret: Buffer,
  rootsPem?: string,
): Sql {
  const ca = rootsPem ?? readFileSync(pgLayout(node.pg.dir).roots, 'utf8');
  return postgres({
    host: to.host,
    port: to.port,
    user: nodeRoleName(node.node),
    database: 'postgres',
    password: derivePgPassword(secret, `node:${node.node}`),
    max: 1,
    connect_timeout: REPLICATION_CONNECT_DEFAULTS.connectTimeoutSeconds,
    // verify-ca: the chain must end in one of the cluster's node certificates; the name is not checked.
    ssl: { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined },
    onnotice: () => {},
  });
}
