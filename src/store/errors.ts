import { SbdError } from '../lib/errors.js';

/**
 * Every error the store raises. The `code` strings are stable: callers (CLI, admin shell, daemons) switch on
 * them, never on messages. Opening errors (`ERR_STORE_*` up to `ERR_STORE_IO`) guarantee the file was not
 * written to.
 */
export const StoreErrorCode = {
  /** The file does not exist and `create` was false (or the store was opened read-only). */
  notFound: 'ERR_STORE_NOT_FOUND',
  /** The file is not an SQLite database at all (no "SQLite format 3" header). */
  notSqlite: 'ERR_STORE_NOT_SQLITE',
  /** An SQLite file that is damaged: truncated, failed integrity check, or malformed pages. */
  corrupt: 'ERR_STORE_CORRUPT',
  /** A sound SQLite database that belongs to another application (application_id / sbd_meta magic). */
  foreign: 'ERR_STORE_FOREIGN',
  /** An sbd store written by a newer sbd (schema version above the ones this build knows). */
  tooNew: 'ERR_STORE_TOO_NEW',
  /** An older store opened read-only: it would need a migration, which a read-only open cannot do. */
  needsMigration: 'ERR_STORE_NEEDS_MIGRATION',
  /** A schema migration failed; it was rolled back and the store keeps its old version. */
  migrationFailed: 'ERR_STORE_MIGRATION',
  /** The file or its folder cannot be opened (permissions, missing folder, I/O error). */
  io: 'ERR_STORE_IO',
  /** A write on a store opened read-only, or a write inside `snapshot()`. */
  readonly: 'ERR_STORE_READONLY',
  /** Another connection held the write lock for longer than `busyTimeoutMs`. */
  busy: 'ERR_STORE_BUSY',
  /** A state folder without its store (`openState` without `create`): run `sbd init` first. */
  stateMissing: 'ERR_STATE_MISSING',
  /** The store was closed. */
  closed: 'ERR_STORE_CLOSED',
  /** A constraint the typed layer did not anticipate; the transaction was rolled back. */
  constraint: 'ERR_STORE_CONSTRAINT',
  paramUnknown: 'ERR_PARAM_UNKNOWN',
  paramInvalid: 'ERR_PARAM_INVALID',
  nodeInvalid: 'ERR_NODE_INVALID',
  nodeExists: 'ERR_NODE_EXISTS',
  nodeUnknown: 'ERR_NODE_UNKNOWN',
  nodeInUse: 'ERR_NODE_IN_USE',
  certInvalid: 'ERR_CERT_INVALID',
  certUnknown: 'ERR_CERT_UNKNOWN',
  deviceInvalid: 'ERR_DEVICE_INVALID',
  deviceExists: 'ERR_DEVICE_EXISTS',
  deviceUnknown: 'ERR_DEVICE_UNKNOWN',
  profileInvalid: 'ERR_PROFILE_INVALID',
  profileUnknown: 'ERR_PROFILE_UNKNOWN',
  profileInUse: 'ERR_PROFILE_IN_USE',
  modelInvalid: 'ERR_MODEL_INVALID',
  userInvalid: 'ERR_USER_INVALID',
  userUnknown: 'ERR_USER_UNKNOWN',
  itlHashInvalid: 'ERR_ITL_HASH_INVALID',
  auditInvalid: 'ERR_AUDIT_INVALID',
  /** SIP routing and trunk rows (src/store/sip.ts): a bad name, pattern, address or flag. */
  sipConfigInvalid: 'ERR_SIP_CONFIG_INVALID',
  /** A partition, calling search space, presence group or trunk that does not exist. */
  sipConfigUnknown: 'ERR_SIP_CONFIG_UNKNOWN',
  /** Call-manager groups (src/store/cm-groups.ts): a bad name or member list; unknown; exists; used by phones. */
  cmGroupInvalid: 'ERR_CM_GROUP_INVALID',
  cmGroupUnknown: 'ERR_CM_GROUP_UNKNOWN',
  cmGroupExists: 'ERR_CM_GROUP_EXISTS',
  cmGroupInUse: 'ERR_CM_GROUP_IN_USE',
  /** A trunk's TLS CA bundle that is not one or more PEM X.509 certificates (or is too large). */
  sipTrunkCaInvalid: 'ERR_SIP_TRUNK_CA_INVALID',
} as const;

export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends SbdError {
  declare readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { statusHint?: number; cause?: unknown }) {
    super(code, message, options);
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}
