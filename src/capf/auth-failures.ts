/**
 * Failed CAPF authentications count against the pending operation (issue 16 row 9): each one is written to the
 * device (`capfAuthFailures`, `capfStatus`) and to the audit log, and the Nth cancels the operation and spends the
 * auth string, so guessing costs the guesser the operation instead of going on forever. The administrator sees
 * why in `sbd capf show` and `sbd audit show`, and schedules the operation again (which resets the count).
 * A success resets the count too. Unknown devices are not counted: there is nothing to cancel and nothing to
 * guess (and writing a row per stranger's attempt would let anyone fill the audit log).
 */
import type { CapfOperations } from './operations.js';
import { cancelledStatus, failedAttemptStatus } from './operation-status.js';

export const CAPF_AUTH_FAILURE_DEFAULTS = { maxAuthFailures: 5 } as const;

/** Audit actions written by sbd-capfd (user 'capfd'). */
export const CapfAuditAction = { authFailure: 'capf-auth-failure', operationCancelled: 'capf-operation-cancelled' } as const;
export const CAPF_AUDIT_USER = 'capfd';

export interface AuthFailureInput {
  deviceName: string;
  /** The phone's address, for the audit line. */
  remote: string;
  /** Why the proof failed (kept on the device and in the audit log, never sent to the phone). */
  why: string;
  now: Date;
  /** Failures that cancel the operation. Default 5. */
  maxAuthFailures?: number;
}

export interface AuthFailureResult {
  failures: number;
  cancelled: boolean;
}

/** Counts one failed authentication; one store transaction, so concurrent sessions cannot lose a count. */
export function recordAuthFailure(store: CapfOperations, f: AuthFailureInput): AuthFailureResult {
  const max = f.maxAuthFailures ?? CAPF_AUTH_FAILURE_DEFAULTS.maxAuthFailures;
  return store.transaction(() => {
    const d = store.getDevice(f.deviceName);
    if (!d || d.capfOperation === 'none') return { failures: 0, cancelled: false };
    const failures = d.capfAuthFailures + 1;
    const cancelled = failures >= max;
    const why = `Authentication Failed (${failures} of ${max}): ${f.why}`;
    if (cancelled) {
      store.updateDevice(d.name, {
        capfOperation: 'none',
        capfAuthString: null,
        capfAuthFailures: failures,
        capfStatus: cancelledStatus(d.capfStatus, d.capfOperation, f.now, why),
      });
    } else {
      store.updateDevice(d.name, {
        capfAuthFailures: failures,
        capfStatus: failedAttemptStatus(d.capfStatus, d.capfOperation, f.now, why),
      });
    }
    store.appendAudit({
      user: CAPF_AUDIT_USER,
      action: cancelled ? CapfAuditAction.operationCancelled : CapfAuditAction.authFailure,
      detail:
        `${d.name} ${d.capfOperation} (authentication ${d.capfAuthMode}) from ${f.remote}: failure ${failures} of ${max}${cancelled ? ', operation cancelled' : ''}: ${f.why}`.slice(
          0,
          4096,
        ),
      result: 'failure',
    });
    return { failures, cancelled };
  });
}
