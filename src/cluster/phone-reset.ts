/**
 * Resetting phones from the CLI and the console: a request over the running sbd-sipd's control socket
 * (src/sip/phone-control), its progress as one line per change, and a summary that lists every phone of the
 * selection that was not registered (so none is forgotten), failed, or did not come back.
 *
 * Where the seeds' procedures end with "reset the phones" (certificate regeneration, ITL/CTL reset, Prepare
 * Cluster for Rollback), the commands call `offerPhoneReset`: the console asks "Reset all phones now?", the CLI
 * resets when given `--reset-phones`, and the rollback parameter resets without asking (as CUCM 10.5+ does).
 */
import { controlSocketPath, requestReset } from '../sip/phone-control/control-socket.js';
import type { ControlEvent, ResetSelect } from '../sip/phone-control/control-protocol.js';
import type { ResetKind } from '../sip/phone-control/notify.js';
import { resetPacingDefaults } from '../sip/phone-control/wave.js';
import { UsageError } from '../lib/errors.js';
import { MODEL_RESET_METHODS, type ModelFeaturesRow, type ModelResetMethod, type Store } from '../store/index.js';
import { AuditAction, auditedSync, currentAdminUser } from './audit.js';

export { resetPacingDefaults };

export interface PhoneResetOptions {
  kind: ResetKind;
  select: ResetSelect;
  /** Default resetPacingDefaults.phonesPerSecond (sized from the TFTP boot-storm figures). */
  phonesPerSecond?: number;
  /** Default `<state>/sipd-control/sipd.sock`. */
  socketPath?: string;
}

export interface PhoneResetOutcome {
  ok: boolean;
  last: ControlEvent;
}

/** The selection a command's words name: `SEP…`, `model M`, `partition P` or `all`. */
export function parseSelectWords(words: readonly string[]): ResetSelect {
  const [a, b, extra] = words;
  if (a === undefined) throw new UsageError('name the phones: SEP<MAC>, model MODEL, partition NAME or all');
  if (extra !== undefined) throw new UsageError(`unexpected "${extra}"`);
  const w = a.toLowerCase();
  if (w === 'all' && b === undefined) return { all: true };
  if ((w === 'model' || w === 'partition') && b !== undefined) return w === 'model' ? { model: b } : { partition: b };
  if (/^SEP[0-9A-F]{12}$/i.test(a) && b === undefined) return { device: a.toUpperCase() };
  throw new UsageError(`"${words.join(' ')}" is not SEP<MAC>, model MODEL, partition NAME or all`);
}

function describeSelect(s: ResetSelect): string {
  if ('all' in s) return 'all phones';
  if ('device' in s) return s.device;
  if ('model' in s) return `the phones of model ${s.model}`;
  return `the phones in partition ${s.partition}`;
}

/** Runs one wave, printing `started`, progress lines and the summary through `out`. */
export async function runPhoneReset(stateDir: string, o: PhoneResetOptions, out: (line: string) => void): Promise<PhoneResetOutcome> {
  const rate = o.phonesPerSecond ?? resetPacingDefaults.phonesPerSecond;
  const verb = o.kind === 'reset' ? 'reset' : 'restart';
  const last = await requestReset(
    o.socketPath ?? controlSocketPath(stateDir),
    { op: 'reset', kind: o.kind, select: o.select, phonesPerSecond: rate },
    (e) => {
      if (e.event === 'started') {
        out(`${verb}: ${describeSelect(o.select)}: ${e.total} registered, paced at ${e.phonesPerSecond} phones/s`);
        if (e.unregistered.length > 0) out(`not registered (${e.unregistered.length}, nothing sent): ${e.unregistered.join(' ')}`);
      } else if (e.event === 'progress') {
        out(`${verb}: ${e.sent} of ${e.total} sent, ${e.acknowledged} acknowledged, ${e.reregistered} re-registered, ${e.failed} failed`);
      }
    },
  );
  if (last.event === 'error') {
    out(`error: ${last.message} [${last.code}]`);
    return { ok: false, last };
  }
  if (last.event !== 'done') return { ok: false, last };
  out(
    `summary: ${last.total} phone${last.total === 1 ? '' : 's'} told to ${verb}: ${last.acknowledged} acknowledged, ${last.reregistered} re-registered, ${last.failed} failed; ${last.unregistered.length} not registered; ${(last.durationMs / 1000).toFixed(1)} s`,
  );
  for (const f of last.failures) out(`  failed: ${f.device}: ${f.reason}`);
  if (last.notReregistered.length > 0) out(`  acknowledged but not registered again: ${last.notReregistered.join(' ')}`);
  if (last.unregistered.length > 0) out(`  not registered (reset them when they are back, or by hand): ${last.unregistered.join(' ')}`);
  return { ok: last.failed === 0 && last.notReregistered.length === 0, last };
}

/**
 * After a step the seeds follow with "reset the phones": reset every phone now, or say why it could not be done
 * (sbd-sipd not running). Never throws: the step itself has already succeeded.
 */
export async function resetAllPhonesAfter(
  stateDir: string,
  step: string,
  out: (line: string) => void,
  socketPath?: string,
): Promise<boolean> {
  try {
    const r = await runPhoneReset(stateDir, { kind: 'reset', select: { all: true }, ...(socketPath ? { socketPath } : {}) }, out);
    return r.ok;
  } catch (err) {
    out(`The phones were not reset after ${step}: ${(err as Error).message}. Reset them with "utils phone reset all" once sbd-sipd runs.`);
    return false;
  }
}

/** sbd's name for the seeds' PrepareClusterForRollbackToPre8.0. */
export const ROLLBACK_PARAM = 'PrepareClusterForRollback';

/** What an administrator must know when Prepare Cluster for Rollback changes (printed before the phones reset). */
export function rollbackNotice(on: boolean): string[] {
  return on
    ? [
        'WARNING: Prepare Cluster for Rollback is on: the ITL now has empty TVS and TFTP entries, so phones trust no TVS.',
        'WARNING: HTTPS phone services (directories, services, anything on an HTTPS URL) stop working on the phones until it is turned off again.',
      ]
    : ['Prepare Cluster for Rollback is off: the phones take the signed ITL again, and HTTPS phone services work again after their reset.'];
}

/** The words a model's reset method is set with: one of the methods, or `auto` (by the registration's User-Agent). */
export const RESET_METHOD_WORDS = [...MODEL_RESET_METHODS, 'auto'] as const;

/** Sets (audited) how a model is told to reset; `auto` clears the override. */
export function setModelResetMethod(store: Store, model: string, word: string): ModelFeaturesRow {
  const w = word.toLowerCase();
  if (!(RESET_METHOD_WORDS as readonly string[]).includes(w))
    throw new UsageError(`reset method must be one of ${RESET_METHOD_WORDS.join(', ')}`);
  const method = w === 'auto' ? null : (w as ModelResetMethod);
  return auditedSync(store, { user: currentAdminUser(), action: AuditAction.featureSet, detail: `${model} reset-method=${w}` }, () =>
    store.setModelResetMethod(model, method),
  );
}

export function describeResetMethod(row: ModelFeaturesRow): string {
  return `${row.model}: reset method ${row.resetMethod ?? 'auto (service-control for Cisco enterprise firmware, check-sync for others, by User-Agent)'}`;
}
