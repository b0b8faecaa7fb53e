import { readFileSync } from 'node:fs';
import type { Command } from '../command.js';

const pkgUrl = new URL('../../../package.json', import.meta.url);
const altUrl = new URL('../../../../package.json', import.meta.url);

export function sbdVersion(): string {
  for (const u of [pkgUrl, altUrl]) {
    try {
      return (JSON.parse(readFileSync(u, 'utf8')) as { version: string }).version;
    } catch {
      /* try the next layout (src/ under tsx, dist/src/ when built) */
    }
  }
  return 'unknown';
}

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
