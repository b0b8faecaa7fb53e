/**
 * `utils phone reset|restart SEP<MAC>|model MODEL|partition NAME|all [pace N]` on the admin console: the same
 * wave as `sbd phone reset|restart` (src/cluster/phone-reset.ts), through the running sbd-sipd's control socket.
 * A bulk reset (anything but one device) asks first; progress and the summary are printed as they come.
 * `set phone reset-method MODEL …`: the feature list's per-model override of how a phone is told to reset.
 */
import type { AdminCommand, AdminIo } from '../command-table.js';
import { AdminError, AdminErrorCode } from '../errors.js';
import {
  describeResetMethod,
  parseSelectWords,
  resetAllPhonesAfter,
  RESET_METHOD_WORDS,
  resetPacingDefaults,
  runPhoneReset,
  setModelResetMethod,
} from '../../cluster/phone-reset.js';
import { withState } from '../../store/state.js';
import { controlProtocolLimits } from '../../sip/phone-control/control-protocol.js';
import { UsageError } from '../../lib/errors.js';

export function phoneCommands(stateDir: string, socketPath?: string): AdminCommand[] {
  const command = (kind: 'reset' | 'restart'): AdminCommand => ({
    words: ['utils', 'phone', kind],
    params: 'SEP<MAC>|model MODEL|partition NAME|all [pace N]',
    summary:
      kind === 'reset'
        ? `reset registered phones (NOTIFY over their flow; paced, default ${resetPacingDefaults.phonesPerSecond}/s); unregistered ones are listed`
        : 'restart registered phones: they re-read their files and register again',
    minArgs: 1,
    maxArgs: 4,
    complete: () => ['all', 'model', 'partition'],
    run: async (args, io) => {
      let words = args;
      let pace: number = resetPacingDefaults.phonesPerSecond;
      if (words.length >= 3 && words[words.length - 2]!.toLowerCase() === 'pace') {
        pace = Number(words[words.length - 1]);
        if (!Number.isFinite(pace) || pace <= 0 || pace > controlProtocolLimits.maxPhonesPerSecond)
          throw new AdminError(
            AdminErrorCode.args,
            `pace must be above 0 and at most ${controlProtocolLimits.maxPhonesPerSecond} phones per second`,
          );
        words = words.slice(0, -2);
      }
      let select;
      try {
        select = parseSelectWords(words);
      } catch (err) {
        throw new AdminError(AdminErrorCode.args, (err as UsageError).message);
      }
      if (
        !('device' in select) &&
        !(await io.confirm(
          `${kind === 'reset' ? 'Reset' : 'Restart'} ${'all' in select ? 'all phones' : words.join(' ')} now? Each phone waits for its active calls to end first.`,
        ))
      ) {
        io.out('cancelled');
        return;
      }
      await runPhoneReset(stateDir, { kind, select, phonesPerSecond: pace, ...(socketPath ? { socketPath } : {}) }, (line) => io.out(line));
    },
  });
  return [
    command('reset'),
    command('restart'),
    {
      words: ['set', 'phone', 'reset-method'],
      params: `MODEL ${RESET_METHOD_WORDS.join('|')}`,
      summary: 'how a model is told to reset (feature list): Cisco service-control, check-sync, or auto by User-Agent',
      minArgs: 2,
      maxArgs: 2,
      run: (args, io) => {
        try {
          io.out(describeResetMethod(withState(stateDir, ({ store }) => setModelResetMethod(store, args[0]!, args[1]!))));
        } catch (err) {
          if (err instanceof UsageError) throw new AdminError(AdminErrorCode.args, err.message);
          throw err;
        }
      },
    },
  ];
}

/**
 * Where a seed procedure says "reset the phones" (cert regen, ITL/CTL reset): ask, and reset every phone now if
 * the answer is yes; otherwise say how to do it later. `automatic`: no question (Prepare Cluster for Rollback).
 */
export async function offerPhoneReset(stateDir: string, io: AdminIo, step: string, automatic = false): Promise<void> {
  if (!automatic && !(await io.confirm('Reset all phones now?'))) {
    io.out('Phones not reset: they take the change at their next reset ("utils phone reset all").');
    return;
  }
  if (automatic) io.out(`Resetting all phones after ${step}, as the procedure requires.`);
  await resetAllPhonesAfter(stateDir, step, (line) => io.out(line));
}
