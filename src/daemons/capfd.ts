/** sbd-capfd: open the store, serve CAPF over TLS, tell systemd, stop on SIGTERM/SIGINT. */
import { createLogger } from '../lib/log.js';
import { notifyReady } from '../lib/sd-notify.js';
import { waitForSignal } from '../lib/signals.js';
import { openState } from '../store/state.js';
import { CapfServer, type CapfServerOptions } from '../capf/server.js';
import { capfOperations } from './adapters/capf-store.js';

export interface CapfdOptions extends Omit<CapfServerOptions, 'store' | 'logger'> {
  /** The appliance state folder (store and keys). */
  stateDir: string;
}

/** Runs until a signal; resolves with the process exit code. */
export async function runCapfd({ stateDir, ...options }: CapfdOptions): Promise<number> {
  const { store } = openState(stateDir);
  const logger = createLogger('capfd');
  const server = new CapfServer({ ...options, store: capfOperations(store), logger });
  const addr = await server.listen();
  const systemd = notifyReady(`CAPF on ${addr.address}:${addr.port}, TLS: ${server.tlsPath}`);
  return waitForSignal(async () => {
    systemd.stopping();
    logger.info('stopping', server.stats);
    await server.close(2000);
    store.close();
  });
}
