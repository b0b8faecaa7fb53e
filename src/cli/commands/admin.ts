/** `sbd admin shell`: the serial console's admin shell on this terminal (host mode: no systemd actions). */
import type { Command } from '../command.js';
import { parse } from '../args.js';
import { adminMain } from '../../admin/main.js';

export const commands: Command[] = [
  {
    path: ['admin', 'shell'],
    summary: 'the admin console (`admin:` prompt) on this terminal',
    usage: 'sbd admin shell [--state DIR] [--history FILE]',
    run: async (args) => {
      const { values } = parse(args, { state: { type: 'string' }, history: { type: 'string' } }, false);
      await adminMain({ ...(values.state ? { stateDir: values.state } : {}), ...(values.history ? { historyFile: values.history } : {}) });
      return 0;
    },
  },
];
