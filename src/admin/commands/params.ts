/**
 * Enterprise parameters on the admin console: `show params`, `set param NAME VALUE` (validated by the store;
 * every accepted change, and every failure that is not a refusal of the input, goes to the audit log as the CLI's
 * `sbd param set` does). Turning PrepareClusterForRollback on or off warns what stops (HTTPS phone services) and
 * resets every phone at once, as CUCM 10.5+ does for PrepareClusterForRollbackToPre8.0.
 */
import type { AdminCommand } from '../command-table.js';
import { withState } from '../../store/state.js';
import { AuditAction, auditedSync, currentAdminUser } from '../../cluster/audit.js';
import { ROLLBACK_PARAM, rollbackNotice } from '../../cluster/phone-reset.js';
import { offerPhoneReset } from './phones.js';

export function paramCommands(stateDir: string): AdminCommand[] {
  const names = (): string[] => {
    try {
      return withState(stateDir, ({ store }) => store.listParams().map((p) => p.name), { readonly: true });
    } catch {
      return [];
    }
  };
  return [
    {
      words: ['show', 'params'],
      params: '',
      summary: 'enterprise parameters with their values (and defaults where changed)',
      run: (_args, io) => {
        const rows = withState(stateDir, ({ store }) => store.listParams(), { readonly: true });
        const width = Math.max(0, ...rows.map((p) => p.name.length));
        io.out(rows.map((p) => `${p.name.padEnd(width)}  ${p.value}${p.isDefault ? '' : `  (default ${p.default})`}`).join('\n'));
      },
    },
    {
      words: ['set', 'param'],
      params: 'NAME VALUE',
      summary: 'set an enterprise parameter (trust lists follow on the next request)',
      minArgs: 2,
      maxArgs: 2,
      complete: names,
      run: async (args, io) => {
        const [name, value] = args as [string, string];
        const rollback = name.toLowerCase() === ROLLBACK_PARAM.toLowerCase();
        const change = withState(stateDir, ({ store }) =>
          auditedSync(store, { user: currentAdminUser(), action: AuditAction.paramSet, detail: `${name}=${value}` }, () => {
            const before = rollback ? store.getBoolParam(ROLLBACK_PARAM) : undefined;
            store.setParam(name, value);
            return rollback ? { before, after: store.getBoolParam(ROLLBACK_PARAM) } : undefined;
          }),
        );
        io.out(`${args[0]} = ${args[1]}`);
        if (!change || change.before === change.after) return;
        for (const line of rollbackNotice(change.after)) io.out(line);
        // As CUCM 10.5+ does: every phone is reset at once so it takes the rollback ITL (or, back, the signed one).
        await offerPhoneReset(stateDir, io, `${ROLLBACK_PARAM} = ${change.after}`, true);
      },
    },
  ];
}
