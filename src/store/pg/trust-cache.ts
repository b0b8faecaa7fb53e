/**
 * What a node's TVS reads, held in memory from PostgreSQL (the local primary or hot standby) and kept current by
 * polling the generation row (issue 21 item 2: LISTEN/NOTIFY does not fire on a standby; one indexed one-row read
 * every `pollIntervalMs` does, and it works on both). On a new generation the whole view is read again in one
 * REPEATABLE READ READ ONLY transaction (one snapshot, allowed on a standby) and swapped in at once, so synchronous
 * readers see the old state or the new, never a mix. If the server is unreachable the last state keeps serving
 * (a subscriber serves from what it has) and the poll tries again; `stats` counts polls, loads and errors.
 * The reads mirror store/nodes.ts and store/certificates.ts, order included (COLLATE "C" = SQLite's BINARY).
 */
import type { Sql } from 'postgres';
import type { CertRow } from '../certificates.js';
import { StoreError, StoreErrorCode } from '../errors.js';
import type { NodeRow, NodeService } from '../nodes.js';
import { PARAMS, PARAMS_BY_NAME } from '../params-registry.js';
import { PgStoreError, PgStoreErrorCode } from './errors.js';
import { pgCall, pollLoop } from './poll.js';
import { checkPgSchema } from './schema.js';

export interface PgTrustCacheOptions {
  /** How often the generation row is read, in ms; also the bound on how late a change is seen (plus replay lag). Default 250. */
  pollIntervalMs?: number;
}

export const PG_TRUST_CACHE_DEFAULTS = { pollIntervalMs: 250 } as const;

interface TrustState {
  generation: number;
  nodes: NodeRow[];
  certificates: CertRow[];
  params: Map<string, string>;
}

export class PgTrustCache {
  readonly stats = { polls: 0, loads: 0, errors: 0 };
  lastError: unknown;
  readonly #sql: Sql;
  readonly #pollIntervalMs: number;
  #state: TrustState | undefined;
  #poller: { stop(): void } | undefined;
  #closed = false;

  private constructor(sql: Sql, options: PgTrustCacheOptions) {
    this.#sql = sql;
    this.#pollIntervalMs = options.pollIntervalMs ?? PG_TRUST_CACHE_DEFAULTS.pollIntervalMs;
  }

  /** Checks the schema, loads the first state and starts polling (a timer that does not keep the process alive). */
  static async open(sql: Sql, options: PgTrustCacheOptions = {}): Promise<PgTrustCache> {
    const cache = new PgTrustCache(sql, options);
    await pgCall(() => checkPgSchema(sql));
    await cache.#load();
    cache.#poller = pollLoop(
      () => cache.refresh(),
      cache.#pollIntervalMs,
      (err) => cache.#failed(err),
    );
    return cache;
  }

  generation(): number {
    return this.#current().generation;
  }
  nodes(): NodeRow[] {
    return this.#current().nodes.map((n) => ({ ...n, services: [...n.services] }));
  }
  certificates(): CertRow[] {
    return [...this.#current().certificates];
  }
  currentCertificate(name: string, node: string | null): CertRow | undefined {
    return this.#current().certificates.find((c) => c.current && c.name === name && c.node === node);
  }
  /** The stored value, else the registry's default; an unknown name throws as the SQLite store does. */
  param(name: string): string {
    const def = PARAMS_BY_NAME.get(name);
    if (!def) {
      throw new StoreError(
        StoreErrorCode.paramUnknown,
        `unknown enterprise parameter '${name}'; known: ${PARAMS.map((p) => p.name).join(', ')}`,
      );
    }
    return this.#current().params.get(name) ?? def.default;
  }

  /** One poll: reads the generation and reloads when it moved. Resolves true if a new state was swapped in. */
  async refresh(): Promise<boolean> {
    this.stats.polls++;
    const [row] = await pgCall(() => this.#sql`SELECT value FROM sbd.meta WHERE key = 'generation'`);
    if (Number(row?.value) === this.#state?.generation) return false;
    await this.#load();
    return true;
  }

  #failed(err: unknown): void {
    this.stats.errors++;
    this.lastError = err;
  }

  close(): void {
    this.#closed = true;
    this.#poller?.stop();
  }

  #current(): TrustState {
    if (!this.#state || this.#closed) throw new PgStoreError(PgStoreErrorCode.notLoaded, 'the PostgreSQL trust view is not loaded');
    return this.#state;
  }

  async #load(): Promise<void> {
    const state = await pgCall(() =>
      this.#sql.begin('isolation level repeatable read read only', async (tx) => {
        const [g] = await tx`SELECT value FROM sbd.meta WHERE key = 'generation'`;
        const nodes = await tx`
          SELECT n.id, n.name, n.hostname, n.ipv4, n.ipv6, n.is_publisher, n.created_at,
            coalesce((SELECT array_agg(s.service ORDER BY s.service COLLATE "C") FROM sbd.node_services s WHERE s.node_id = n.id),
              '{}') AS services
          FROM sbd.nodes n ORDER BY n.is_publisher DESC, n.name COLLATE "C"`;
        const certs = await tx`
          SELECT c.id, c.name, n.name AS node, c.kind, c.pem, c.der, c.key_file, c.subject, c.issuer, c.serial_hex,
            c.not_before, c.not_after, c.sha256_hex, c.sha1_hex, c.current, c.created_at, c.replaced_at, c.purpose
          FROM sbd.certificates c LEFT JOIN sbd.nodes n ON n.id = c.node_id
          ORDER BY c.name COLLATE "C", n.name COLLATE "C" NULLS FIRST, c.created_at COLLATE "C", c.id`;
        const params = await tx`SELECT name, value FROM sbd.params`;
        return {
          generation: Number(g?.value),
          nodes: nodes.map(
            (r): NodeRow => ({
              id: r.id,
              name: r.name,
              hostname: r.hostname,
              ipv4: r.ipv4,
              ipv6: r.ipv6,
              isPublisher: r.is_publisher,
              services: r.services as NodeService[],
              createdAt: r.created_at,
            }),
          ),
          certificates: certs.map(
            (r): CertRow => ({
              id: r.id,
              name: r.name,
              node: r.node,
              kind: r.kind,
              pem: r.pem,
              der: Buffer.from(r.der),
              keyFile: r.key_file,
              subject: r.subject,
              issuer: r.issuer,
              serialHex: r.serial_hex,
              notBefore: r.not_before,
              notAfter: r.not_after,
              sha256Hex: r.sha256_hex,
              sha1Hex: r.sha1_hex,
              current: r.current,
              createdAt: r.created_at,
              replacedAt: r.replaced_at,
              purpose: r.purpose,
            }),
          ),
          params: new Map(params.map((r) => [r.name as string, r.value as string])),
        };
      }),
    );
    this.stats.loads++;
    this.#state = state;
  }
}
