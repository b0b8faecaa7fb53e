/**
 * `sbd cluster env` (issue 21): the environment a node's daemons read their store with, written to a 0600 file for
 * the units' EnvironmentFile. Daemons read the node's own server as `sbd_reader` over loopback (SELECT only); their
 * node-local writes (TFTP's served ITL hash, phones' reports) go to the publisher's primary as this node's role over
 * TLS verified against the cluster's node certificates (`sslrootcert=` in the URL, store/pg/connect.ts); the
 * publisher's daemons stay on SQLite. Passwords are derived from the cluster secret; none is written anywhere else.
 */
import { writeFileSync } from 'node:fs';
import { derivePgPassword, nodeRoleName, readClusterNode, readClusterSecret } from '../store/pg/cluster-node.js';
import { READER_ROLE } from '../store/pg/replication-members.js';
import { pgLayout } from '../store/pg/replication-server.js';
import { stateLayout } from '../store/state.js';
import { MembershipError, MembershipErrorCode } from './membership-errors.js';

export function nodeEnvironment(stateDir: string): Record<string, string> {
  const file = readClusterNode(stateDir);
  if (!file) throw new MembershipError(MembershipErrorCode.wrongRole, `${stateDir} is not in a cluster`);
  const secret = readClusterSecret(stateLayout(stateDir).keysDir);
  const env: Record<string, string> = {
    SBD_NODE: file.node,
    SBD_STORE_URL: `postgres://${READER_ROLE}@127.0.0.1:${file.pg.port}/postgres`,
    PGPASSWORD: derivePgPassword(secret, 'reader'),
  };
  // The publisher's daemons run on its SQLite store of record: only a subscriber writes to a remote primary.
  // The *_ARGS are the daemons' flags as the image's units pass them ($VAR: split into words, none when empty):
  // TVS, TFTP and SIP take the store arguments, TFTP and SIP also the primary's.
  if (file.role === 'subscriber') {
    const role = nodeRoleName(file.node);
    const password = derivePgPassword(secret, `node:${file.node}`);
    const roots = encodeURIComponent(pgLayout(file.pg.dir).roots);
    env.SBD_PRIMARY_URL = `postgres://${role}:${password}@${file.publisher.host}:${file.publisher.port}/postgres?sslmode=verify-ca&sslrootcert=${roots}`;
  }
  const subscriber = env.SBD_PRIMARY_URL !== undefined;
  env.SBD_CLUSTER_STORE_ARGS = subscriber ? `--store-url ${env.SBD_STORE_URL} --node ${file.node}` : '';
  env.SBD_CLUSTER_PRIMARY_ARGS = subscriber ? `--primary-url ${env.SBD_PRIMARY_URL}` : '';
  return env;
}

export function writeNodeEnvironment(stateDir: string, out: string): string[] {
  const env = nodeEnvironment(stateDir);
  writeFileSync(
    out,
    `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
  return Object.keys(env);
}
