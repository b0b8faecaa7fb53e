/**
 * What a box knows about its place in a cluster (issue 21 item 3): `<state>/cluster-node.json`, written by
 * `sbd cluster migrate` (publisher) and `sbd cluster join` (subscriber), read by every command. A single box has
 * no such file and stays as today. A subscriber has no SQLite store of record, so opening its state folder for an
 * administrative command fails with one message naming the publisher (`subscriberRefusal`, store/state.ts).
 * The cluster secret (a key derived from the cluster security password, never the password itself) lives beside
 * the private keys; every PostgreSQL password of the cluster is derived from it (`derivePgPassword`).
 */
import { createHmac, scryptSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SbdError, UsageError } from '../../lib/errors.js';

export const ClusterNodeErrorCode = {
  /** An administrative command on a subscriber: the store of record is on the publisher. */
  subscriber: 'ERR_CLUSTER_SUBSCRIBER',
  /** cluster-node.json or the cluster secret is missing or malformed. */
  nodeFile: 'ERR_CLUSTER_NODE_FILE',
} as const;
export type ClusterNodeErrorCode = (typeof ClusterNodeErrorCode)[keyof typeof ClusterNodeErrorCode];

export class ClusterNodeError extends SbdError {
  declare readonly code: ClusterNodeErrorCode;

  constructor(code: ClusterNodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export type ClusterRole = 'publisher' | 'subscriber';

export interface ClusterNodeFile {
  /** This box's node name (a `nodes` row). */
  node: string;
  role: ClusterRole;
  /** Where the publisher's primary listens (a subscriber streams from it; on the publisher: itself). */
  publisher: { name: string; host: string; port: number };
  /** This node's PostgreSQL: its folder (data, tls, run: store/pg/replication-server.ts), listen address and port. */
  pg: { dir: string; host: string; port: number };
}

export const CLUSTER_NODE_FILE = 'cluster-node.json';
const SECRET_FILE = 'cluster-secret.key';
/** The superuser every node's local tools use (initdb -U); replicated, so the same on every node. */
export const PG_ADMIN_USER = 'sbd';

export function readClusterNode(stateDir: string): ClusterNodeFile | undefined {
  const path = join(stateDir, CLUSTER_NODE_FILE);
  if (!existsSync(path)) return undefined;
  let v: ClusterNodeFile;
  try {
    v = JSON.parse(readFileSync(path, 'utf8')) as ClusterNodeFile;
  } catch (err) {
    throw new ClusterNodeError(ClusterNodeErrorCode.nodeFile, `${path} is not JSON`, { cause: err });
  }
  if (typeof v?.node !== 'string' || (v.role !== 'publisher' && v.role !== 'subscriber') || typeof v.pg?.dir !== 'string') {
    throw new ClusterNodeError(ClusterNodeErrorCode.nodeFile, `${path} lacks node, role or pg`);
  }
  return v;
}

export function writeClusterNode(stateDir: string, v: ClusterNodeFile): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o750 });
  const path = join(stateDir, CLUSTER_NODE_FILE);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(v, null, 2)}\n`, { mode: 0o640 });
  renameSync(`${path}.tmp`, path);
}

/** The one message an administrative command gets on a subscriber (CLI and console alike). */
export function subscriberRefusal(v: ClusterNodeFile): ClusterNodeError {
  return new ClusterNodeError(
    ClusterNodeErrorCode.subscriber,
    `this node (${v.node}) is a subscriber: administrative changes are made on the publisher ${v.publisher.name} (${v.publisher.host}); "show cluster" works here`,
  );
}

// scrypt (RFC 7914) so a guessed password costs; the salt is fixed because every node must derive the same key
// from the password alone, before it can reach anything of the cluster.
const SCRYPT_SALT = 'sbd cluster security v1';

/** The cluster secret: 32 bytes derived from the cluster security password. */
export function clusterSecretFromPassword(password: string): Buffer {
  if (password.length < 8) throw new UsageError('the cluster security password has at least 8 characters');
  return scryptSync(password.normalize('NFC'), SCRYPT_SALT, 32);
}

export function writeClusterSecret(keysDir: string, secret: Buffer): void {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(keysDir, SECRET_FILE), secret.toString('hex'), { mode: 0o600 });
}

export function readClusterSecret(keysDir: string): Buffer {
  const path = join(keysDir, SECRET_FILE);
  if (!existsSync(path))
    throw new ClusterNodeError(ClusterNodeErrorCode.nodeFile, `no cluster secret at ${path}: is this node in a cluster?`);
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
}

/** A PostgreSQL password for `purpose` ('admin', or 'node:NAME' for a node's replication role), from the secret. */
export function derivePgPassword(secret: Buffer, purpose: string): string {
  return createHmac('sha256', secret).update(`pg:${purpose}`).digest('base64url');
}

/** The replication role of a node: one per node, so removing a node revokes exactly its access. */
export function nodeRoleName(node: string): string {
  return `sbd_node_${node.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
}
