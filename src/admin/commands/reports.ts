/**
 * Reports and the audit log on the admin console, the same functions as `sbd report …` and `sbd audit show`:
 *   show report itl-status [match|mismatch|not-installed] [csv] · show report feature-list [MODEL] [csv] · show report credentials [csv] ·
 *   set phone-feature MODEL security-by-default|encrypted-config|ec-keys yes|no · show audit [LIMIT] [csv]
 */
import type { AdminCommand } from '../command-table.js';
import { AdminError, AdminErrorCode } from '../errors.js';
import { withState } from '../../store/state.js';
import { AuditAction, auditedSync, currentAdminUser } from '../../cluster/audit.js';
import {
  auditReport,
  featureListReport,
  formatReport,
  itlStatusReport,
  outdatedCredentialsReport,
  setPhoneFeatures,
  type Report,
} from '../../reports/index.js';
import { AUDIT_LIMITS, type ModelFeatures, type Store } from '../../store/index.js';
import { ITL_STATUS_FILTERS, parseItlStatusFilter } from '../../reports/itl-status.js';

/** Splits a trailing `csv` word off the arguments. */
function csvFlag(args: string[]): { csv: boolean; rest: string[] } {
  const csv = args.length > 0 && args[args.length - 1]!.toLowerCase() === 'csv';
  return { csv, rest: csv ? args.slice(0, -1) : args };
}

const FEATURES: Record<string, keyof ModelFeatures> = {
  'security-by-default': 'securityByDefault',
  'encrypted-config': 'encryptedConfig',
  'ec-keys': 'ecKeys',
};

export function reportCommands(stateDir: string): AdminCommand[] {
  const show = (build: (store: Store, rest: string[]) => Report) => (args: string[], io: { out(t: string): void }) => {
    const { csv, rest } = csvFlag(args);
    io.out(
      formatReport(
        withState(stateDir, ({ store }) => build(store, rest), { readonly: true }),
        csv,
      ),
    );
  };
  const noArgs = (rest: string[]): void => {
    if (rest.length > 0) throw new AdminError(AdminErrorCode.args, `unexpected "${rest.join(' ')}": only "csv" may follow`);
  };
  return [
    {
      words: ['show', 'report', 'itl-status'],
      params: '[match|mismatch|not-installed] [csv]',
      summary:
        'ITL File Status per phone (Match / MisMatch / Not Installed), its TFTP server and last report time; one status only when named',
      maxArgs: 2,
      complete: () => [...Object.keys(ITL_STATUS_FILTERS), 'csv'],
      run: show((store, rest) => {
        if (rest.length === 0) return itlStatusReport(store);
        const status = rest.length === 1 ? parseItlStatusFilter(rest[0]!) : undefined;
        if (status === undefined)
          throw new AdminError(
            AdminErrorCode.args,
            `unexpected "${rest.join(' ')}": a status (${Object.keys(ITL_STATUS_FILTERS).join(', ')}) and/or "csv" may follow`,
          );
        return itlStatusReport(store, { status });
      }),
    },
    {
      words: ['show', 'report', 'feature-list'],
      params: '[MODEL] [csv]',
      summary: 'the Phone Feature List: Security by Default, encrypted config, EC keys per model',
      maxArgs: 2,
      complete: () => ['csv'],
      run: show((store, rest) => featureListReport(store, rest[0] === undefined ? {} : { model: rest[0] })),
    },
    {
      words: ['show', 'report', 'credentials'],
      params: '[csv]',
      summary: 'users whose password or PIN still uses an out-of-date hash algorithm',
      maxArgs: 1,
      complete: () => ['csv'],
      run: show((store, rest) => (noArgs(rest), outdatedCredentialsReport(store))),
    },
    {
      words: ['show', 'audit'],
      params: '[LIMIT] [csv]',
      summary: `the audit log of administrative changes, newest first (default ${AUDIT_LIMITS.defaultListLimit})`,
      maxArgs: 2,
      run: show((store, rest) => {
        const limit = rest[0] === undefined ? AUDIT_LIMITS.defaultListLimit : Number(rest[0]);
        if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_LIMITS.maxListLimit)
          throw new AdminError(AdminErrorCode.args, `LIMIT must be 1 to ${AUDIT_LIMITS.maxListLimit}`);
        return auditReport(store, { limit });
      }),
    },
    {
      words: ['set', 'phone-feature'],
      params: 'MODEL security-by-default|encrypted-config|ec-keys yes|no',
      summary: 'edit one model of the Phone Feature List',
      minArgs: 3,
      maxArgs: 3,
      run: (args, io) => {
        const [model, feature, value] = args as [string, string, string];
        const key = FEATURES[feature.toLowerCase()];
        if (!key) throw new AdminError(AdminErrorCode.args, `feature must be one of ${Object.keys(FEATURES).join(', ')}`);
        if (!/^(yes|no)$/i.test(value)) throw new AdminError(AdminErrorCode.args, 'value must be yes or no');
        const report = withState(stateDir, ({ store }) => {
          const row = auditedSync(
            store,
            { user: currentAdminUser(), action: AuditAction.featureSet, detail: `${model} ${feature}=${value}` },
            () => setPhoneFeatures(store, model, { [key]: /^yes$/i.test(value) }),
          );
          return featureListReport(store, { model: row.model });
        });
        io.out(formatReport(report, false));
      },
    },
  ];
}
