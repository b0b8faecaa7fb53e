/**
 * Two helpers the console's store-editing commands share (devices, security profiles, trust stores, application
 * users): a change runs on the state folder as one audit row, as the CLI's do; and the use-case functions'
 * UsageError becomes the console's argument error (printed without a code).
 */
import { AdminError, AdminErrorCode } from '../errors.js';
import { withState, type State } from '../../store/state.js';
import { UsageError } from '../../lib/errors.js';
import { auditedSync, currentAdminUser, type AuditActionName } from '../../cluster/audit.js';

export function audited<T>(stateDir: string, action: AuditActionName, detail: string, fn: (s: State) => T): T {
  return withState(stateDir, (s) => auditedSync(s.store, { user: currentAdminUser(), action, detail }, () => fn(s)));
}

export async function asArgs<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UsageError) throw new AdminError(AdminErrorCode.args, err.message);
    throw err;
  }
}
