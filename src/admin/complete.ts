/**
 * Tab completion for the admin shell (node:readline's completer contract: [matches, the fragment completed]).
 * Completes the next command word from the table, then the first parameter's values when the command offers them.
 */
import type { CommandTable } from './command-table.js';
import { splitWords } from './command-table.js';

export function completeLine(table: CommandTable, line: string): [string[], string] {
  const endsWithSpace = line.length === 0 || /\s$/.test(line);
  const words = splitWords(line);
  const fragment = endsWithSpace ? '' : (words.pop() ?? '');
  const done = words.map((w) => w.toLowerCase());
  const options = new Set<string>();
  for (const c of table.commands) {
    if (c.words.length > done.length && done.every((w, i) => c.words[i] === w)) options.add(c.words[done.length]!);
  }
  const exact = table.find(done);
  if (exact && exact.command.words.length === done.length && exact.command.complete) {
    for (const v of exact.command.complete()) options.add(v);
  }
  const matches = [...options].filter((o) => o.toLowerCase().startsWith(fragment.toLowerCase())).sort();
  // A single match gets a trailing space so the next word can follow at once.
  return [matches.length === 1 ? [matches[0]! + ' '] : matches, fragment];
}
