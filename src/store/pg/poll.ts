/**
 * The two pieces every PostgreSQL view of a node shares (trust-cache.ts for TVS, store-copy.ts for TFTP and SIP):
 * client and server failures turned into one typed error, and the poll loop that reads the generation row again
 * `intervalMs` after the previous poll ended (never two at once), on a timer that does not keep the process alive.
 */
import { PgStoreError, PgStoreErrorCode } from './errors.js';

/** Client and server errors become PgStoreError (ERR_PG_UNAVAILABLE, the cause kept); our own typed errors pass through. */
export async function pgCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PgStoreError) throw err;
    throw new PgStoreError(PgStoreErrorCode.unavailable, `PostgreSQL: ${(err as Error).message}`, { cause: err });
  }
}

/** Runs `poll` every `intervalMs` after the previous one settled; a failure goes to `onError` and the loop goes on. */
export function pollLoop(poll: () => Promise<unknown>, intervalMs: number, onError: (err: unknown) => void): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      poll().catch(onError).finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
