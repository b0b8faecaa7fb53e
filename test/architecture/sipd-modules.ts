/**
 * How many of our modules sbd-sipd loads: the files reached from its entry by imports that exist at run time
 * (type-only imports are erased), counted by room. `node --import tsx test/architecture/sipd-modules.ts [REV]`
 * prints the count for the working tree and, given a git revision, for that revision's entry too (before
 * issue 17 item 3 the entry was src/cli/commands/daemon-sip.ts over src/sip/daemon.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { arrowsOf, root, roomOf } from './imports.js';

/** Every module reached from `entry` by run-time imports; `read` gives a file's text or undefined. */
export function closure(entry: string, read: (path: string) => string | undefined): string[] {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    const text = read(f);
    if (text === undefined) continue;
    seen.add(f);
    for (const a of arrowsOf(f, text)) if (!a.typeOnly && (a.to.startsWith('src/') || a.to.startsWith('native/'))) todo.push(a.to);
  }
  return [...seen].sort();
}

export function byRoom(files: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of files) {
    const r = f.startsWith('src/sip/') ? `sip/${f.split('/')[2]!.replace(/\.ts$/, '')}` : (roomOf(f) ?? '?');
    const key = r.startsWith('sip/') ? 'sip' : r;
    out[key] = (out[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort(([, a], [, b]) => b - a));
}

const worktree = (p: string) => (existsSync(join(root, p)) ? readFileSync(join(root, p), 'utf8') : undefined);
const atRevision = (rev: string) => (p: string) => {
  try {
    return execFileSync('git', ['show', `${rev}:${p}`], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
};

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const now = closure('src/daemons/sipd.ts', worktree);
  console.log(`sbd-sipd (src/daemons/sipd.ts): ${now.length} modules`, byRoom(now));
  const rev = process.argv[2];
  if (rev) {
    const read = atRevision(rev);
    const entry = read('src/daemons/sipd.ts') !== undefined ? 'src/daemons/sipd.ts' : 'src/cli/commands/daemon-sip.ts';
    const then = closure(entry, read);
    console.log(`at ${rev} (${entry}): ${then.length} modules`, byRoom(then));
  }
}
