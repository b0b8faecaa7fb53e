/**
 * A client of the node's local PostgreSQL (issue 21). The URL names host, port, user and database; the password
 * comes from the environment (PGPASSWORD, read by the client) or the caller, never
 * from a command line (it would show in `ps`). The pool is small: a daemon polls one row and reloads rarely.
 */
import postgres, { type Sql } from 'postgres';

export interface PgConnectOptions {
  /** Connections in the pool. Default 2 (the poll and one reload). */
  max?: number;
  /** Seconds to wait for a connection before a query fails. Default 10. */
  connectTimeoutSeconds?: number;
  /** The password; default: PGPASSWORD from the environment. */
  password?: string;
}

export const PG_CONNECT_DEFAULTS = { max: 2, connectTimeoutSeconds: 10 } as const;

export function connectPg(url: string, options: PgConnectOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? PG_CONNECT_DEFAULTS.max,
    connect_timeout: options.connectTimeoutSeconds ?? PG_CONNECT_DEFAULTS.connectTimeoutSeconds,
    ...(options.password === undefined ? {} : { password: options.password }),
    // Server notices (e.g. "schema already exists, skipping") are not ours to print.
    onnotice: () => {},
  });
}
