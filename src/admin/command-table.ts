/**
 * The admin shell's command table: each command is a fixed sequence of words (`show status`,
 * `utils service restart`) followed by its parameters. Lookup takes the longest word sequence that prefixes the
 * input line; what follows is the command's arguments. Each command group lives in its own file under commands/.
 */
import { AdminError, AdminErrorCode } from './errors.js';

export interface AdminIo {
  /** One block of output (a trailing newline is added when missing). */
  out(text: string): void;
  /** A yes/no question on the console; resolves true only for "yes" or "y". */
  confirm(question: string): Promise<boolean>;
  /** A question whose answer is not echoed (passwords). */
  secret(question: string): Promise<string>;
}

export interface AdminCommand {
  /** The command words, e.g. ['utils', 'service', 'restart']. */
  words: readonly string[];
  /** Parameters in usage form, e.g. 'NAME' or '[mixed-mode|non-secure]'; '' for none. */
  params: string;
  /** One line for `help`. */
  summary: string;
  /** Values offered by tab completion for the first parameter. */
  complete?: () => string[];
  /** Smallest and largest argument count (default 0..0). */
  minArgs?: number;
  maxArgs?: number;
  run(args: string[], io: AdminIo): Promise<void> | void;
}

export interface Lookup {
  command: AdminCommand;
  args: string[];
}

/** Splits a command line into words; double or single quotes keep spaces inside one word. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

export function usageOf(command: AdminCommand): string {
  return [...command.words, command.params].filter(Boolean).join(' ');
}

export class CommandTable {
  readonly commands: readonly AdminCommand[];

  constructor(commands: readonly AdminCommand[]) {
    this.commands = [...commands].sort((a, b) => a.words.join(' ').localeCompare(b.words.join(' ')));
  }

  /** The command the words name, with its arguments; undefined when no command's words prefix them. */
  find(words: readonly string[]): Lookup | undefined {
    let best: AdminCommand | undefined;
    for (const c of this.commands) {
      if (c.words.length <= words.length && c.words.every((w, i) => words[i]?.toLowerCase() === w)) {
        if (!best || c.words.length > best.words.length) best = c;
      }
    }
    return best && { command: best, args: words.slice(best.words.length) };
  }

  /** Checks the argument count against the command's bounds. */
  checkArgs(lookup: Lookup): void {
    const { command, args } = lookup;
    const min = command.minArgs ?? 0;
    const max = command.maxArgs ?? min;
    if (args.length < min) throw new AdminError(AdminErrorCode.args, `missing parameter: usage: ${usageOf(command)}`);
    if (args.length > max) {
      throw new AdminError(AdminErrorCode.args, `unexpected "${args.slice(max).join(' ')}": usage: ${usageOf(command)}`);
    }
  }

  /** Commands whose words start with the given words (for `help show`, and incomplete input like `show`). */
  under(prefix: readonly string[]): AdminCommand[] {
    return this.commands.filter((c) => prefix.every((w, i) => c.words[i] === w.toLowerCase()));
  }
}
