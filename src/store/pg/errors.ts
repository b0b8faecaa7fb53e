import { SbdError } from '../../lib/errors.js';

/**
 * Errors of the PostgreSQL store engine (issue 21). Stable codes, as for the SQLite store (store/errors.ts): callers
 * switch on `code`, never on messages.
 */
export const PgStoreErrorCode = {
  /** The server could not be reached or a query failed on the wire (the cause holds the client's error). */
  unavailable: 'ERR_PG_UNAVAILABLE',
  /** The database has no sbd schema, or one newer than this build knows. */
  schema: 'ERR_PG_SCHEMA',
  /** A read of the cache before its first load finished, or after close(). */
  notLoaded: 'ERR_PG_NOT_LOADED',
  /** A write sent to a hot standby (writes go to the publisher's primary). */
  readOnly: 'ERR_PG_READ_ONLY',
} as const;
export type PgStoreErrorCode = (typeof PgStoreErrorCode)[keyof typeof PgStoreErrorCode];

export class PgStoreError extends SbdError {
  declare readonly code: PgStoreErrorCode;

  constructor(code: PgStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
