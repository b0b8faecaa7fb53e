/**
 * The writes a node's daemons make that are the node's own (issue 21, docs/cluster.md): the trust lists its TFTP
 * serves and the ITL/trust reports of phones registered to its SIP. A subscriber has no store of record, so they go to
 * the publisher's primary, into the node-local tables of schema.ts (never replaced by a publish), from where every
 * node's copy (store-copy.ts) and the publisher's reports read them.
 * The queue is bounded and coalesced (one entry per row key, at most `maxQueued`, oldest dropped first), flushed every
 * `flushIntervalMs` in one transaction, retried while the primary is down; entries older than `maxAgeMs` are dropped
 * and logged (a publisher gone for long must not grow a subscriber's memory). No service decision waits for them.
 */
import type { Sql } from 'postgres';
import type { Logger } from '../../lib/log.js';
import type { DeviceItlHashRow } from '../itl-hashes.js';
import type { DeviceTrustReportRow, ServedTrustFileRow } from '../trust-reports.js';

export interface PgNodeWriterOptions {
  /** This node's name (the `node` column). */
  node: string;
  /** Flush period in ms. Default 1000. */
  flushIntervalMs?: number;
  /** Distinct rows waiting at most; beyond it the oldest is dropped. Default 10000. */
  maxQueued?: number;
  /** A row not written within this many ms is dropped. Default 300000 (5 minutes). */
  maxAgeMs?: number;
  logger?: Logger;
  now?: () => number;
}

export const PG_NODE_WRITER_DEFAULTS = { flushIntervalMs: 1000, maxQueued: 10_000, maxAgeMs: 300_000 } as const;

type Entry =
  | { kind: 'served'; server: string; file: string; row: ServedTrustFileRow | null }
  | { kind: 'itl'; device: string; row: DeviceItlHashRow | null }
  | { kind: 'trust'; device: string; row: DeviceTrustReportRow };

export class PgNodeWriter {
  readonly stats = { queued: 0, written: 0, dropped: 0, errors: 0 };
  lastError: unknown;
  readonly #sql: Sql;
  readonly #node: string;
  readonly #maxQueued: number;
  readonly #maxAgeMs: number;
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  /** key → entry and when it was first queued; Map order = age order. */
  readonly #queue = new Map<string, { entry: Entry; since: number }>();
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<number> | undefined;

  constructor(sql: Sql, options: PgNodeWriterOptions) {
    this.#sql = sql;
    this.#node = options.node;
    this.#maxQueued = options.maxQueued ?? PG_NODE_WRITER_DEFAULTS.maxQueued;
    this.#maxAgeMs = options.maxAgeMs ?? PG_NODE_WRITER_DEFAULTS.maxAgeMs;
    this.#log = options.logger;
    this.#now = options.now ?? Date.now;
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? PG_NODE_WRITER_DEFAULTS.flushIntervalMs);
    this.#timer.unref();
  }

  get pending(): number {
    return this.#queue.size;
  }

  /** What this node's TFTP serves as `file` now; null: none. */
  servedTrustFile(file: string, row: ServedTrustFileRow | null): void {
    this.#push(`served\u0000${file}`, { kind: 'served', server: this.#node, file, row });
  }
  /** A phone's ITL report; null: forget it (the phone unregistered). */
  deviceItlHash(device: string, row: DeviceItlHashRow | null): void {
    this.#push(`itl\u0000${device}`, { kind: 'itl', device, row });
  }
  deviceTrustReport(row: DeviceTrustReportRow): void {
    this.#push(`trust\u0000${row.device}`, { kind: 'trust', device: row.device, row });
  }

  /** Writes what is queued in one transaction; resolves with the rows written (0 on failure: they stay queued). */
  flush(): Promise<number> {
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** One last flush, then no more timer. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  #push(key: string, entry: Entry): void {
    const since = this.#queue.get(key)?.since ?? this.#now();
    this.#queue.delete(key);
    this.#queue.set(key, { entry, since });
    this.stats.queued++;
    if (this.#queue.size > this.#maxQueued) {
      const oldest = this.#queue.keys().next().value as string;
      this.#queue.delete(oldest);
      this.#drop(1, 'queue full');
    }
  }

  #drop(n: number, why: string): void {
    this.stats.dropped += n;
    this.#log?.warn('node-write-dropped', { rows: n, why, node: this.#node });
  }

  async #flush(): Promise<number> {
    const now = this.#now();
    let old = 0;
    for (const [key, q] of this.#queue) {
      if (now - q.since <= this.#maxAgeMs) break;
      this.#queue.delete(key);
      old++;
    }
    if (old > 0) this.#drop(old, `not written within ${this.#maxAgeMs} ms (publisher unreachable)`);
    const batch = [...this.#queue];
    if (batch.length === 0) return 0;
    try {
      await this.#sql.begin(async (tx) => {
        for (const [, { entry: e }] of batch) {
          if (e.kind === 'served') {
            if (e.row === null) await tx`DELETE FROM sbd.node_served_trust_files WHERE server = ${e.server} AND file = ${e.file}`;
            else {
              const r = e.row;
              await tx`INSERT INTO sbd.node_served_trust_files (server, file, sha256_hex, sha1_hex, md5_hex, bytes, at)
                VALUES (${e.server}, ${e.file}, ${r.sha256Hex}, ${r.sha1Hex}, ${r.md5Hex}, ${r.bytes}, ${r.at})
                ON CONFLICT (server, file) DO UPDATE SET sha256_hex = excluded.sha256_hex, sha1_hex = excluded.sha1_hex,
                  md5_hex = excluded.md5_hex, bytes = excluded.bytes, at = excluded.at`;
            }
          } else if (e.kind === 'itl') {
            if (e.row === null) await tx`DELETE FROM sbd.node_device_itl_hashes WHERE device = ${e.device}`;
            else
              await tx`INSERT INTO sbd.node_device_itl_hashes (device, node, sha256_hex, status, at)
                VALUES (${e.device}, ${this.#node}, ${e.row.sha256Hex}, ${e.row.status}, ${e.row.at})
                ON CONFLICT (device) DO UPDATE SET node = excluded.node, sha256_hex = excluded.sha256_hex,
                  status = excluded.status, at = excluded.at`;
          } else {
            const r = e.row;
            await tx`INSERT INTO sbd.node_device_trust_reports (device, node, itl_signature, itl_tftp_server, ctl_signature, ctl_tftp_server, at)
              VALUES (${e.device}, ${this.#node}, ${r.itlSignature}, ${r.itlTftpServer}, ${r.ctlSignature}, ${r.ctlTftpServer}, ${r.at})
              ON CONFLICT (device) DO UPDATE SET node = excluded.node, itl_signature = excluded.itl_signature,
                itl_tftp_server = excluded.itl_tftp_server, ctl_signature = excluded.ctl_signature,
                ctl_tftp_server = excluded.ctl_tftp_server, at = excluded.at`;
          }
        }
      });
    } catch (err) {
      this.stats.errors++;
      this.lastError = err;
      return 0;
    }
    // Written: unless a newer entry for the same key arrived meanwhile (it stays for the next flush).
    for (const [key, q] of batch) if (this.#queue.get(key)?.entry === q.entry) this.#queue.delete(key);
    this.stats.written += batch.length;
    return batch.length;
  }
}
