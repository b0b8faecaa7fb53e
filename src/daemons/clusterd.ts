/**
 * sbd-clusterd (issue 21). On the publisher (design: the SQLite store stays the store of record), every
 * `pollIntervalMs` it (1) imports the certificates joining nodes submitted to the primary into SQLite
 * (cluster/membership-submissions.ts), then (2) reads the SQLite generation and, when it moved since the last
 * publish, publishes one consistent snapshot to the primary (store/pg/publish.ts; one transaction, the generation
 * row moves with it). So a change made by any admin command reaches the primary within one poll interval plus one
 * publish, and each standby after its replay lag plus its own generation poll (docs/cluster.md states the figures).
 * A failed round (the server restarting) is logged and retried on the next tick; the last published generation
 * only moves on success. The cluster key rows are written in the same transaction as the rows encrypted under them
 * (store/pg/key-pins.ts: a node's copy then waits for the key before it loads them).
 * On a subscriber it only follows the keys the publisher hands out (cluster/membership-keys.ts): every
 * `pollIntervalMs` the wrapped rows of its own standby are compared with its keys folder and a changed key installed,
 * which TFTP and SIP use at their next read; a row that does not unwrap is logged once and the old key kept.
 */
import type { Sql } from 'postgres';
import {
  type ClusterKeyName,
  ensureClusterKeysTable,
  followClusterKeys,
  publishClusterKeys,
  publisherClusterKeys,
} from '../cluster/membership-keys.js';
import { importSubmissions } from '../cluster/membership-submissions.js';
import { createLogger, type Logger } from '../lib/log.js';
import { notifyReady } from '../lib/sd-notify.js';
import { waitForSignal } from '../lib/signals.js';
import type { Store } from '../store/index.js';
import { type ClusterNodeFile, readClusterNode, readClusterSecret } from '../store/pg/cluster-node.js';
import { publishToPg } from '../store/pg/publish.js';
import { connectLocalAdmin } from '../store/pg/replication-connect.js';
import { openState, stateLayout } from '../store/state.js';
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
  readonly stats = { ticks: 0, publishes: 0, reportPublishes: 0, imported: 0, errors: 0 };
  publishedGeneration = '';
  readonly #store: Store;
  readonly #sql: Sql;
  readonly #logger: Logger;
  readonly #keys: { keysDir: string; secret: Buffer } | undefined;
  #keysTable = false;

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
      // Phones' reports move their own counter (store/context.ts report), not the generation: both are published.
      const generation = `${this.#store.generation()}:${this.#store.reportsGeneration()}`;
      if (generation === this.publishedGeneration) return;
      // Only the reports counter moved: the report tables alone (a phone's report must not cost a whole store's read).
      const reportsOnly = this.publishedGeneration.split(':')[0] === generation.split(':')[0];
      // A restored backup brings its own phone-password key: the wrapped copy follows (checked on every publish), in
      // the publish's own transaction, the files read before the store (a key replaced meanwhile: published next round).
      const keys = this.#keys;
      if (keys && !this.#keysTable) {
        await ensureClusterKeysTable(this.#sql);
        this.#keysTable = true;
      }
      const before = keys && publisherClusterKeys(keys.keysDir);
      let written: ClusterKeyName[] = [];
      const within =
        keys &&
        (async (tx: Parameters<typeof publishClusterKeys>[0]) => {
          written = await publishClusterKeys(tx, keys.keysDir, keys.secret, before);
        });
      const r = await publishToPg(this.#store, this.#sql, { reportsOnly, ...(within ? { within } : {}) });
      this.publishedGeneration = generation;
      this.stats.publishes++;
      // Reports-only publishes come with every phone's report while phones boot: counted, not logged.
      if (reportsOnly) this.stats.reportPublishes++;
      else this.#logger.info('published', { sqliteGeneration: generation, pgGeneration: r.generation, certificates: r.certificates });
      for (const name of written) this.#logger.info('cluster key published', { name });
    } catch (err) {
      this.stats.errors++;
      this.#logger.warn('round failed, retrying', { error: (err as Error).message });
    }
  }
}

/** A subscriber's round: the keys of its standby's `sbd.cluster_keys` followed into its keys folder. */
export class ClusterKeyFollower {
  readonly stats = { ticks: 0, installed: 0, refused: 0, errors: 0 };
  readonly #sql: Sql;
  readonly #keysDir: string;
  readonly #secret: Buffer;
  readonly #logger: Logger;
  /** Key name → the refused row last reported (logged once per row, not at every poll). */
  readonly #reported = new Map<string, string>();

  constructor(sql: Sql, keysDir: string, secret: Buffer, logger: Logger) {
    this.#sql = sql;
    this.#keysDir = keysDir;
    this.#secret = secret;
    this.#logger = logger;
  }

  async tick(): Promise<void> {
    this.stats.ticks++;
    try {
      for (const o of await followClusterKeys(this.#sql, this.#keysDir, this.#secret)) {
        if (o.result === 'installed') {
          this.stats.installed++;
          this.#reported.delete(o.name);
          this.#logger.info('cluster key installed', { name: o.name, row: o.row });
        } else if (o.result === 'refused' && this.#reported.get(o.name) !== o.row) {
          this.stats.refused++;
          this.#reported.set(o.name, o.row ?? '');
          this.#logger.error('cluster key refused, the installed key is kept', { name: o.name, row: o.row, message: o.message });
        } else if (o.result === 'unchanged') this.#reported.delete(o.name);
      }
    } catch (err) {
      this.stats.errors++;
      this.#logger.warn('key round failed, retrying', { error: (err as Error).message });
    }
  }
}

export async function runClusterd(opts: ClusterdOptions): Promise<number> {
  const logger = opts.logger ?? createLogger('clusterd');
  const node = readClusterNode(opts.stateDir);
  if (!node) throw new UsageError(`${opts.stateDir} is not in a cluster: sbd cluster migrate makes this node the publisher`);
  if (node.role === 'subscriber') return runFollower(opts, node, logger);
  const { store, layout } = openState(opts.stateDir);
  const sql = connectLocalAdmin(node, layout.keysDir);
  const publisher = new ClusterPublisher(store, sql, logger, { keysDir: layout.keysDir, secret: readClusterSecret(layout.keysDir) });
  return runLoop(publisher, opts, logger, `publishing ${opts.stateDir} to PostgreSQL on port ${node.pg.port}`, async () => {
    await sql.end({ timeout: 2 });
    store.close();
  });
}

/** A subscriber has no store of record to open: only its keys folder and its standby. */
function runFollower(opts: ClusterdOptions, node: ClusterNodeFile, logger: Logger): Promise<number> {
  const keysDir = stateLayout(opts.stateDir).keysDir;
  const sql = connectLocalAdmin(node, keysDir);
  const follower = new ClusterKeyFollower(sql, keysDir, readClusterSecret(keysDir), logger);
  return runLoop(follower, opts, logger, `following the publisher's keys from PostgreSQL on port ${node.pg.port}`, () =>
    sql.end({ timeout: 2 }),
  );
}

/** One round at a time, `pollIntervalMs` apart, until a signal. */
function runLoop(
  round: { tick(): Promise<void>; stats: Record<string, number> },
  opts: ClusterdOptions,
  logger: Logger,
  status: string,
  close: () => Promise<void>,
): Promise<number> {
  const interval = opts.pollIntervalMs ?? CLUSTERD_DEFAULTS.pollIntervalMs;
  let stopped = false;
  let running: Promise<void> = round.tick();
  const loop = async () => {
    while (!stopped) {
      await running;
      await new Promise((r) => setTimeout(r, interval));
      if (!stopped) running = round.tick();
    }
  };
  const looping = loop();
  const systemd = notifyReady(`${status} every ${interval} ms`);
  return waitForSignal(async () => {
    systemd.stopping();
    stopped = true;
    await looping;
    logger.info('stopping', round.stats);
    await close();
  });
}
