/**
 * `sbd report …`, `sbd feature set` and `sbd audit show`: the administrative reports as plain-text tables, or
 * CSV with --csv (RFC 4180, CRLF line ends).
 */
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import { withState } from '../../store/state.js';
import { AuditAction, auditedSync, currentAdminUser } from '../../cluster/audit.js';
import {
  auditReport,
  featureListReport,
  formatCsv,
  formatText,
  itlStatusReport,
  outdatedCredentialsReport,
  setPhoneFeatures,
  type Report,
} from '../../reports/index.js';
import { AUDIT_LIMITS, type Store } from '../../store/index.js';
import { ITL_STATUS_FILTERS, parseItlStatusFilter } from '../../reports/itl-status.js';

const opts = { state: { type: 'string' }, csv: { type: 'boolean' } } as const;

function print(report: Report, csv: boolean | undefined, out: (t: string) => void): void {
  const text = csv ? formatCsv(report) : formatText(report);
  // ctx.out adds a newline when missing; both forms already end in one.
  out(text);
}

function reportCommand(word: string, summary: string, build: (store: Store) => Report): Command {
  return {
    path: ['report', word],
    summary,
    usage: `sbd report ${word} [--csv] --state DIR`,
    run(args, ctx) {
      const { values } = parse(args, opts, false);
      const report = withState(required(values.state, '--state'), ({ store }) => build(store), { readonly: true });
      print(report, values.csv, ctx.out);
      return 0;
    },
  };
}

function yesNo(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase();
  if (v === 'yes' || v === 'true') return true;
  if (v === 'no' || v === 'false') return false;
  throw new UsageError(`${flag} must be yes or no, got "${value}"`);
}

export const commands: Command[] = [
  {
    path: ['report', 'itl-status'],
    summary: 'ITL File Status per phone: Match / MisMatch / Not Installed, with the TFTP server and the last report time',
    usage: `sbd report itl-status [--status ${Object.keys(ITL_STATUS_FILTERS).join('|')}] [--csv] --state DIR`,
    run(args, ctx) {
      const { values } = parse(args, { ...opts, status: { type: 'string' } }, false);
      const status = values.status === undefined ? undefined : parseItlStatusFilter(values.status);
      if (values.status !== undefined && status === undefined)
        throw new UsageError(`--status must be one of ${Object.keys(ITL_STATUS_FILTERS).join(', ')}, got "${values.status}"`);
      const report = withState(
        required(values.state, '--state'),
        ({ store }) => itlStatusReport(store, status === undefined ? {} : { status }),
        { readonly: true },
      );
      print(report, values.csv, ctx.out);
      return 0;
    },
  },
  reportCommand('credentials', 'users whose password or PIN still uses an out-of-date hash algorithm', (s) => outdatedCredentialsReport(s)),
  {
    path: ['report', 'features'],
    summary: 'the Phone Feature List: Security by Default, encrypted config and EC keys per model',
    usage: 'sbd report features [--model M] [--csv] --state DIR',
    run(args, ctx) {
      const { values } = parse(args, { ...opts, model: { type: 'string' } }, false);
      const report = withState(
        required(values.state, '--state'),
        ({ store }) => featureListReport(store, values.model === undefined ? {} : { model: values.model }),
        { readonly: true },
      );
      print(report, values.csv, ctx.out);
      return 0;
    },
  },
  {
    path: ['feature', 'set'],
    summary: 'edit one model in the Phone Feature List (features not given keep their value)',
    usage: 'sbd feature set MODEL [--security-by-default yes|no] [--encrypted-config yes|no] [--ec-keys yes|no] --state DIR',
    run(args, ctx) {
      const { values, positionals } = parse(args, {
        state: { type: 'string' },
        'security-by-default': { type: 'string' },
        'encrypted-config': { type: 'string' },
        'ec-keys': { type: 'string' },
      });
      const model = required(positionals[0], 'MODEL');
      const patch = {
        securityByDefault: yesNo(values['security-by-default'], '--security-by-default'),
        encryptedConfig: yesNo(values['encrypted-config'], '--encrypted-config'),
        ecKeys: yesNo(values['ec-keys'], '--ec-keys'),
      };
      const clean = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      if (Object.keys(clean).length === 0)
        throw new UsageError('give at least one of --security-by-default, --encrypted-config, --ec-keys');
      const row = withState(required(values.state, '--state'), ({ store }) =>
        auditedSync(store, { user: currentAdminUser(), action: AuditAction.featureSet, detail: `${model} ${JSON.stringify(clean)}` }, () =>
          setPhoneFeatures(store, model, clean),
        ),
      );
      const yn = (b: boolean): string => (b ? 'Yes' : 'No');
      ctx.out(
        `${row.model}: Security by Default ${yn(row.securityByDefault)}, Encrypted Config ${yn(row.encryptedConfig)}, EC Keys ${yn(row.ecKeys)}`,
      );
      return 0;
    },
  },
  {
    path: ['audit', 'show'],
    summary: 'the audit log of administrative changes, newest first',
    usage: `sbd audit show [--limit N] [--csv] --state DIR   (default ${AUDIT_LIMITS.defaultListLimit} entries)`,
    run(args, ctx) {
      const { values } = parse(args, { ...opts, limit: { type: 'string' } }, false);
      const limit = intOption(values.limit, '--limit', AUDIT_LIMITS.defaultListLimit, 1, AUDIT_LIMITS.maxListLimit);
      const report = withState(required(values.state, '--state'), ({ store }) => auditReport(store, { limit }), { readonly: true });
      print(report, values.csv, ctx.out);
      return 0;
    },
  },
];
