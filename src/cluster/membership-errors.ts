/** Errors of the cluster membership commands (issue 21 items 3, 6, 7): stable codes, switched on by callers. */
import { SbdError } from '../lib/errors.js';

export const MembershipErrorCode = {
  /** The command belongs on the other kind of node (add-node on a subscriber, promote on the publisher ...). */
  wrongRole: 'ERR_CLUSTER_ROLE',
  /** The publisher refused this node: not added (sbd cluster add-node), or a wrong cluster security password. */
  notAllowed: 'ERR_CLUSTER_NOT_ALLOWED',
  /** The box already has a store or a cluster file where a new one would go. */
  exists: 'ERR_CLUSTER_EXISTS',
  /** No such node, or the publisher itself where that is refused. */
  node: 'ERR_CLUSTER_NODE',
  /** Promotion refused: the publisher still answers (two publishers would diverge). */
  publisherAlive: 'ERR_CLUSTER_PUBLISHER_ALIVE',
  /** A PostgreSQL tool (initdb, pg_basebackup, pg_ctl, psql) failed; its output is in the message. */
  tool: 'ERR_CLUSTER_PG_TOOL',
  /** The joined node's certificates did not reach its standby in time (sbd-clusterd not running on the publisher?). */
  timeout: 'ERR_CLUSTER_TIMEOUT',
  /** A key wrapped by the publisher did not unwrap with this node's cluster secret (another cluster, a damaged row). */
  key: 'ERR_CLUSTER_KEY',
  /** A systemctl step that puts the node's units in place after a cluster command failed (node-units.ts). */
  units: 'ERR_CLUSTER_UNITS',
  /** The console's cluster words: a name, address or password the command cannot take (cli cluster-appliance). */
  input: 'ERR_CLUSTER_INPUT',
} as const;
export type MembershipErrorCode = (typeof MembershipErrorCode)[keyof typeof MembershipErrorCode];

export class MembershipError extends SbdError {
  declare readonly code: MembershipErrorCode;

  constructor(code: MembershipErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A failed child process's stderr, as one line for a message. */
export function toolOutput(err: unknown): string {
  const e = err as { stderr?: string | Buffer; message?: string };
  const text = (e.stderr ? e.stderr.toString() : '') || e.message || String(err);
  return text.trim().split('\n').slice(-3).join(' / ');
}
