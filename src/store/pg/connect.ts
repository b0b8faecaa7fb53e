/**
 * A client of the node's local PostgreSQL (issue 21). The URL names host, port, user and database; the password
 * comes from the environment (PGPASSWORD, read by the client) or the caller, never
 * from a command line (it would show in `ps`). The pool is small: a daemon polls one row and reloads rarely.
 */
import { readFileSync } from 'node:fs';
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

/**
 * `sslrootcert=FILE` in the URL (a subscriber's URL of the publisher's primary, `sbd cluster env`): TLS verified
 * against the certificates in FILE, as libpq's sslmode=verify-ca (the cluster's node certificates; the host name is
 * not checked). Taken out of the URL: the client would send it to the server as a session parameter.
 */
function tlsOf(url: string): { url: string; ssl?: { ca: string; rejectUnauthorized: true; checkServerIdentity: () => undefined } } {
  const u = URL.canParse(url) ? new URL(url) : undefined;
  const root = u?.searchParams.get('sslrootcert');
  if (!u || !root) return { url };
  u.searchParams.delete('sslrootcert');
  u.searchParams.delete('sslmode');
  return { url: u.toString(), ssl: { ca: readFileSync(root, 'utf8'), rejectUnauthorized: true, checkServerIdentity: () => undefined } };
}

export function connectPg(target: string, options: PgConnectOptions = {}): Sql {
  const { url, ssl } = tlsOf(target);
  return postgres(url, {
    ...(ssl ? { ssl } : {}),
    max: options.max ?? PG_CONNECT_DEFAULTS.max,
    connect_timeout: options.connectTimeoutSeconds ?? PG_CONNECT_DEFAULTS.connectTimeoutSeconds,
    ...(options.password === undefined ? {} : { password: options.password }),
    // Server notices (e.g. "schema already exists, skipping") are not ours to print.
    onnotice: () => {},
  });
}
