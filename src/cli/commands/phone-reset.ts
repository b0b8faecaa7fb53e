/**
 * `sbd phone reset|restart`: tell registered phones to reset (power-on reset, then TFTP and REGISTER) or restart
 * (re-read their files and register again), through the running sbd-sipd (its control socket under the state
 * folder): one device, a model, a partition or all; paced (`--pace`, phones per second), progress and a summary.
 */
import type { Command } from '../command.js';
import { parse, required } from '../args.js';
import { UsageError } from '../../lib/errors.js';
import {
  describeResetMethod,
  parseSelectWords,
  RESET_METHOD_WORDS,
  resetPacingDefaults,
  runPhoneReset,
  setModelResetMethod,
} from '../../cluster/phone-reset.js';
import { withState } from '../../store/state.js';
import { controlProtocolLimits } from '../../sip/phone-control/control-protocol.js';

const usage = (kind: string) =>
  `sbd phone ${kind} (--device SEP<MAC> | --model MODEL | --partition NAME | --all) --state DIR [--pace N] [--socket PATH]\n` +
  `  --pace: NOTIFYs per second (default ${resetPacingDefaults.phonesPerSecond}: what TFTP serves without retransmissions, docs/sip-app.md)`;

function command(kind: 'reset' | 'restart'): Command {
  return {
    path: ['phone', kind],
    summary:
      kind === 'reset'
        ? 'reset registered phones (NOTIFY over their own flow): power-on reset, new files over TFTP, REGISTER'
        : 'restart registered phones (NOTIFY over their own flow): re-read their files and register again',
    usage: usage(kind),
    async run(args, ctx) {
      const { values } = parse(
        args,
        {
          state: { type: 'string' },
          device: { type: 'string' },
          model: { type: 'string' },
          partition: { type: 'string' },
          all: { type: 'boolean' },
          pace: { type: 'string' },
          socket: { type: 'string' },
        },
        false,
      );
      const given = [values.device !== undefined, values.model !== undefined, values.partition !== undefined, values.all === true].filter(
        Boolean,
      ).length;
      if (given !== 1) throw new UsageError('name the phones with exactly one of --device, --model, --partition, --all');
      const words = values.all
        ? ['all']
        : values.device !== undefined
          ? [values.device]
          : values.model !== undefined
            ? ['model', values.model]
            : ['partition', values.partition!];
      let pace: number = resetPacingDefaults.phonesPerSecond;
      if (values.pace !== undefined) {
        pace = Number(values.pace);
        if (!Number.isFinite(pace) || pace <= 0 || pace > controlProtocolLimits.maxPhonesPerSecond)
          throw new UsageError(`--pace must be above 0 and at most ${controlProtocolLimits.maxPhonesPerSecond}`);
      }
      const r = await runPhoneReset(
        required(values.state, '--state'),
        {
          kind,
          select: parseSelectWords(words),
          phonesPerSecond: pace,
          ...(values.socket ? { socketPath: values.socket } : {}),
        },
        ctx.out,
      );
      return r.ok ? 0 : 1;
    },
  };
}

export const commands: Command[] = [
  command('reset'),
  command('restart'),
  {
    path: ['phone', 'reset-method'],
    summary: 'how a model is told to reset: service-control, check-sync, check-sync-reboot, or auto (by User-Agent)',
    usage: `sbd phone reset-method MODEL ${RESET_METHOD_WORDS.join('|')} --state DIR`,
    run(args, ctx) {
      const { values, positionals } = parse(args, { state: { type: 'string' } });
      const model = required(positionals[0], 'MODEL');
      const word = required(positionals[1], RESET_METHOD_WORDS.join('|'));
      ctx.out(describeResetMethod(withState(required(values.state, '--state'), ({ store }) => setModelResetMethod(store, model, word))));
      return 0;
    },
  },
];
