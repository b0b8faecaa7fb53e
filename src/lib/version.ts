/** The sbd version, read from package.json (the CLI, `show status` and backup manifests print it). */
import { readFileSync } from 'node:fs';

// src/lib/ under tsx, dist/src/lib/ when built.
const candidates = [new URL('../../package.json', import.meta.url), new URL('../../../package.json', import.meta.url)];

export function sbdVersion(): string {
  for (const u of candidates) {
    try {
      return (JSON.parse(readFileSync(u, 'utf8')) as { version: string }).version;
    } catch {
      /* try the next layout */
    }
  }
  return 'unknown';
}
