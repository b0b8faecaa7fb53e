/** sbd-tvsd: open the store, serve TVS over TLS, tell systemd, stop on SIGTERM/SIGINT. */
import { createLogger } from '../lib/log.js';
import { notifyReady } from '../lib/sd-notify.js';
import { waitForSignal } from '../lib/signals.js';
import { openState } from '../store/state.js';
import { TvsServer, type TvsServerOptions } from '../tvs/server.js';
import { tvsTrustView } from './adapters/tvs-store.js';

export interface TvsdOptions extends Omit<TvsServerOptions, 'store' | 'logger'> {
  /** The appliance state folder (store and keys). */
  stateDir: string;
}

/** Runs until a signal; resolves with the process exit code. */
export async function runTvsd({ stateDir, ...options }: TvsdOptions): Promise<number> {
  const { store } = openState(stateDir);
  const logger = createLogger('tvsd');
  const server = new TvsServer({ ...options, store: tvsTrustView(store), logger });
  const addr = await server.listen();
  const systemd = notifyReady(`TVS on ${addr.address}:${addr.port}, TLS: ${server.tlsPath}`);
  return waitForSignal(async () => {
    systemd.stopping();
    logger.info('stopping', server.stats);
    await server.close(2000);
    store.close();
  });
}
