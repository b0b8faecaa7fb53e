/** sbd-tvsd: open the store (SQLite, or the node's PostgreSQL in a cluster), serve TVS over TLS, tell systemd, stop on SIGTERM/SIGINT. */
import { UsageError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { notifyReady } from '../lib/sd-notify.js';
import { waitForSignal } from '../lib/signals.js';
import { connectPg } from '../store/pg/connect.js';
import { PgTrustCache } from '../store/pg/trust-cache.js';
import { openState } from '../store/state.js';
import { TvsServer, type TvsServerOptions } from '../tvs/server.js';
import type { TvsTrustView } from '../tvs/trust-view.js';
import { pgTvsTrustView, tvsTrustView } from './adapters/tvs-store.js';

export interface TvsdOptions extends Omit<TvsServerOptions, 'store' | 'logger'> {
  /** The appliance state folder (store and keys); unused when `storeUrl` is given. */
  stateDir?: string;
  /** PostgreSQL URL of the node's local server (issue 21, docs/cluster.md); the password comes from PGPASSWORD. */
  storeUrl?: string;
}

/** Runs until a signal; resolves with the process exit code. */
export async function runTvsd({ stateDir, storeUrl, ...options }: TvsdOptions): Promise<number> {
  const logger = createLogger('tvsd');
  let view: TvsTrustView;
  let closeStore: () => Promise<void>;
  if (storeUrl !== undefined) {
    const sql = connectPg(storeUrl);
    const cache = await PgTrustCache.open(sql);
    view = pgTvsTrustView(cache);
    closeStore = async () => {
      cache.close();
      await sql.end({ timeout: 2 });
    };
  } else {
    if (stateDir === undefined) throw new UsageError('give the state folder (--state) or a PostgreSQL store (--store-url)');
    const { store } = openState(stateDir);
    view = tvsTrustView(store);
    closeStore = async () => store.close();
  }
  const server = new TvsServer({ ...options, store: view, logger });
  const addr = await server.listen();
  const systemd = notifyReady(`TVS on ${addr.address}:${addr.port}, TLS: ${server.tlsPath}`);
  return waitForSignal(async () => {
    systemd.stopping();
    logger.info('stopping', server.stats);
    await server.close(2000);
    await closeStore();
  });
}
