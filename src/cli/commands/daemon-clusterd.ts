/** `sbd daemon clusterd` (sbd-clusterd, daemons/clusterd.ts: on the publisher publishes every store change, on a subscriber follows the keys). */
import type { Command } from '../command.js';
import { intOption, parse, required } from '../args.js';
import { CLUSTERD_DEFAULTS, runClusterd } from '../../daemons/clusterd.js';

export const commands: Command[] = [
  {
    path: ['daemon', 'clusterd'],
    summary:
      "run sbd-clusterd: on the publisher every store change published to the cluster's PostgreSQL; on a subscriber the publisher's keys followed",
    usage: `sbd daemon clusterd --state DIR [--poll-ms N]   (default ${CLUSTERD_DEFAULTS.pollIntervalMs} ms)`,
    run(args) {
      const { values } = parse(args, { state: { type: 'string' }, 'poll-ms': { type: 'string' } }, false);
      return runClusterd({
        stateDir: required(values.state, '--state'),
        pollIntervalMs: intOption(values['poll-ms'], '--poll-ms', CLUSTERD_DEFAULTS.pollIntervalMs, 10, 60_000),
      });
    },
  },
];
