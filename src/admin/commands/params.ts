/**
 * Enterprise parameters on the admin console: `show params`, `set param NAME VALUE` (validated by the store;
 * every accepted change, and every failure that is not a refusal of the input, goes to the audit log as the CLI's
 * `sbd param set` does). Turning PrepareClusterForRollback on or off warns what stops (HTTPS phone services) and
 * resets every phone at once, as CUCM 10.5+ does for PrepareClusterForRollbackToPre8.0. Lowering TLSMinVersion
 * (also `set tls min-version`, CUCM's own command) warns what is lost and asks first; "no" stores nothing.
 */
import type { AdminCommand, AdminIo } from '../command-table.js';
import { withState } from '../../store/state.js';
import { AuditAction, auditedSync, currentAdminUser } from '../../cluster/audit.js';
import { ROLLBACK_PARAM, rollbackNotice } from '../../cluster/phone-reset.js';
import { offerPhoneReset } from './phones.js';
import { TLS_MIN_VERSIONS } from '../../lib/tls-service.js';
import { lowersTlsMinimum, TLS_MIN_VERSION_PARAM, tlsMinVersionQuestion, tlsMinVersionWarnings } from '../../cluster/tls-min-version.js';

/** Before TLSMinVersion goes down: the warnings, then the question; false when the owner said no. */
async function confirmTlsMinimum(stateDir: string, value: string, io: AdminIo): Promise<boolean> {
  const current = withState(stateDir, ({ store }) => store.getParam(TLS_MIN_VERSION_PARAM), { readonly: true });
  if (!lowersTlsMinimum(current, value)) return true;
  for (const w of tlsMinVersionWarnings(value)) io.out(`WARNING: ${w}`);
  if (await io.confirm(tlsMinVersionQuestion(value))) return true;
  io.out('cancelled');
  return false;
}

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
        if (name.toLowerCase() === TLS_MIN_VERSION_PARAM.toLowerCase() && !(await confirmTlsMinimum(stateDir, value, io))) return;
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
    {
      words: ['show', 'tls', 'min-version'],
      params: '',
      summary: 'the lowest TLS version SIP, TVS and CAPF accept (enterprise parameter TLSMinVersion)',
      run: (_args, io) => {
        io.out(withState(stateDir, ({ store }) => store.getParam(TLS_MIN_VERSION_PARAM), { readonly: true }));
      },
    },
    {
      words: ['set', 'tls', 'min-version'],
      params: '1.0|1.1|1.2',
      summary: 'set the lowest TLS version SIP, TVS and CAPF accept (warns and asks before lowering it)',
      minArgs: 1,
      maxArgs: 1,
      complete: () => [...TLS_MIN_VERSIONS],
      run: async (args, io) => {
        const value = args[0]!;
        if (!(await confirmTlsMinimum(stateDir, value, io))) return;
        withState(stateDir, ({ store }) =>
          auditedSync(store, { user: currentAdminUser(), action: AuditAction.paramSet, detail: `${TLS_MIN_VERSION_PARAM}=${value}` }, () =>
            store.setParam(TLS_MIN_VERSION_PARAM, value),
          ),
        );
        io.out(`${TLS_MIN_VERSION_PARAM} = ${value}`);
      },
    },
  ];
}
