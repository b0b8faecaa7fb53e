/**
 * sbd-clusterd, on the publisher only (issue 21, design: the SQLite store stays the store of record). Every
 * `pollIntervalMs` it (1) imports the certificates joining nodes submitted to the primary into SQLite
 * (cluster/membership-submissions.ts), then (2) reads the SQLite generation and, when it moved since the last
 * publish, publishes one consistent snapshot to the primary (store/pg/publish.ts; one transaction, the generation
 * row moves with it). So a change made by any admin command reaches the primary within one poll interval plus one
 * publish, and each standby after its replay lag plus its own generation poll (docs/cluster.md states the figures).
 * A failed round (the server restarting) is logged and retried on the next tick; the last published generation
 * only moves on success.
 */
import type { Sql } from 'postgres';
import { CLUSTER_KEYS, publishClusterKeys } from '../cluster/membership-keys.js';
import { importSubmissions } from '../cluster/membership-submissions.js';
import { createLogger, type Logger } from '../lib/log.js';
import { notifyReady } from '../lib/sd-notify.js';
import { waitForSignal } from '../lib/signals.js';
import type { Store } from '../store/index.js';
import { readClusterNode, readClusterSecret, subscriberRefusal } from '../store/pg/cluster-node.js';
import { publishToPg } from '../store/pg/publish.js';
import { connectLocalAdmin } from '../store/pg/replication-connect.js';
import { openState } from '../store/state.js';
import { UsageError } from '../lib/errors.js';

export const CLUSTERD_DEFAULTS = {
  /** How often SQLite's generation and the submissions are looked at, in ms. */
  pollIntervalMs: 250,
} as const;

export interface ClusterdOptions {
  stateDir: string;
  pollIntervalMs?: number;
  logger?: Logger;
}

/** One publisher round at a time; `tick()` is what the timer calls (tests call it directly). */
export class ClusterPublisher {
  readonly stats = { ticks: 0, publishes: 0, imported: 0, errors: 0 };
  publishedGeneration = -1;
  readonly #store: Store;
  readonly #sql: Sql;
  readonly #logger: Logger;
  readonly #keys: { keysDir: string; secret: Buffer } | undefined;

  /** `keys`: the publisher's keys folder and cluster secret, to keep the keys subscribers take current (membership-keys.ts). */
  constructor(store: Store, sql: Sql, logger: Logger, keys?: { keysDir: string; secret: Buffer }) {
    this.#store = store;
    this.#sql = sql;
    this.#logger = logger;
    this.#keys = keys;
  }

  async tick(): Promise<void> {
    this.stats.ticks++;
    try {
      for (const o of await importSubmissions(this.#store, this.#sql)) {
        if (o.result === 'imported') this.stats.imported++;
        this.#logger.info('submission', { ...o });
      }
      const generation = this.#store.generation();
      if (generation === this.publishedGeneration) return;
      const r = await publishToPg(this.#store, this.#sql);
      this.publishedGeneration = generation;
      this.stats.publishes++;
      this.#logger.info('published', { sqliteGeneration: generation, pgGeneration: r.generation, certificates: r.certificates });
      // A restored backup brings its own phone-password key: the wrapped copy follows (checked on every publish).
      if (this.#keys && (await publishClusterKeys(this.#sql, this.#keys.keysDir, this.#keys.secret)))
        this.#logger.info('cluster key published', { name: CLUSTER_KEYS.phonePassword });
    } catch (err) {
      this.stats.errors++;
      this.#logger.warn('round failed, retrying', { error: (err as Error).message });
    }
  }
}

export async function runClusterd(opts: ClusterdOptions): Promise<number> {
  const logger = opts.logger ?? createLogger('clusterd');
  const node = readClusterNode(opts.stateDir);
  if (!node) throw new UsageError(`${opts.stateDir} is not in a cluster: sbd cluster migrate makes this node the publisher`);
  if (node.role !== 'publisher') throw subscriberRefusal(node);
  const { store, layout } = openState(opts.stateDir);
  const sql = connectLocalAdmin(node, layout.keysDir);
  const publisher = new ClusterPublisher(store, sql, logger, { keysDir: layout.keysDir, secret: readClusterSecret(layout.keysDir) });
  const interval = opts.pollIntervalMs ?? CLUSTERD_DEFAULTS.pollIntervalMs;
  let stopped = false;
  let running: Promise<void> = publisher.tick();
  const loop = async () => {
    while (!stopped) {
      await running;
      await new Promise((r) => setTimeout(r, interval));
      if (!stopped) running = publisher.tick();
    }
  };
  const looping = loop();
  const systemd = notifyReady(`publishing ${opts.stateDir} to PostgreSQL on port ${node.pg.port} every ${interval} ms`);
  return waitForSignal(async () => {
    systemd.stopping();
    stopped = true;
    await looping;
    logger.info('stopping', publisher.stats);
    await sql.end({ timeout: 2 });
    store.close();
  });
}
