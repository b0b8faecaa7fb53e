import type { Command } from '../command.js';
import { sbdVersion } from '../../lib/version.js';

export const commands: Command[] = [
  {
    path: ['version'],
    summary: 'print the sbd version',
    usage: 'sbd version',
    run: (_args, ctx) => {
      ctx.out(`sbd ${sbdVersion()} (node ${process.versions.node}, openssl ${process.versions.openssl})`);
      return 0;
    },
  },
];
