/**
 * The admin shell: a line-oriented console (node:readline: line editing, history, tab completion) that runs the
 * commands of a CommandTable. Every failure prints exactly one line starting with "error:" — never a stack
 * trace — and the prompt comes back. Unknown commands get the nearest known one as a suggestion; a command's
 * leading words alone (e.g. `show`) list what follows them. `help [WORDS]` lists commands; `exit`/`quit` or
 * end of input ends the session (logout on the serial console).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { type CommandTable, splitWords, usageOf, type AdminIo } from './command-table.js';
import { completeLine } from './complete.js';
import { AdminErrorCode, isAdminErrorCode } from './errors.js';
import { nearest } from './suggest.js';
import { SbdError } from '../lib/errors.js';

export interface ShellOptions {
  input: Readable;
  output: Writable;
  table: CommandTable;
  /** Default 'admin: '. */
  prompt?: string;
  /** Lines kept for up-arrow recall. Default 500. */
  historySize?: number;
  /** File the history is loaded from and appended to; none when unset or not writable. */
  historyFile?: string;
  /** Force terminal mode (line editing, echo); default: output.isTTY. */
  terminal?: boolean;
  /** Printed once before the first prompt. */
  banner?: string;
}

const builtins = ['help', 'exit', 'quit'];

export function runShell(options: ShellOptions): Promise<void> {
  const { input, output, table } = options;
  const prompt = options.prompt ?? 'admin: ';
  const write = (text: string): void => void output.write(text.endsWith('\n') ? text : text + '\n');
  const history = loadHistory(options.historyFile, options.historySize ?? 500);
  const rl: Interface = createInterface({
    input,
    output,
    prompt,
    terminal: options.terminal ?? Boolean((output as { isTTY?: boolean }).isTTY),
    historySize: options.historySize ?? 500,
    history,
    removeHistoryDuplicates: true,
    completer: (line: string) => {
      const [matches, fragment] = completeLine(table, line);
      const extra = builtins.filter((b) => splitWords(line).length === 0 || (!/\s/.test(line) && b.startsWith(line)));
      return [[...new Set([...matches, ...(line.includes(' ') ? [] : extra.filter((b) => b.startsWith(fragment)))])].sort(), fragment];
    },
  });
  const io: AdminIo = {
    out: write,
    confirm: async (question) => {
      const answer = await new Promise<string>((resolve) => rl.question(`${question} (yes/no) `, resolve));
      return /^(y|yes)$/i.test(answer.trim());
    },
    secret: (question) =>
      new Promise<string>((resolve) => {
        // readline echoes through _writeToOutput; muted while the answer is typed (terminal mode only).
        const rlo = rl as unknown as { _writeToOutput: (s: string) => void };
        const original = rlo._writeToOutput.bind(rl);
        output.write(question);
        rlo._writeToOutput = (s: string) => {
          if (s.includes('\n')) original('\n');
        };
        rl.question('', (answer) => {
          rlo._writeToOutput = original;
          // readline keeps every line entered in a terminal, answers too: a secret must never come back with
          // the up arrow (the history file only ever gets command lines, see execute()).
          const kept = (rl as unknown as { history?: string[] }).history;
          if (kept && kept[0] === answer) kept.shift();
          resolve(answer);
        });
      }),
  };

  const queue: string[] = [];
  let busy = false;
  let closed = false;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));

  async function drain(): Promise<void> {
    if (busy) return;
    busy = true;
    while (queue.length > 0) {
      const line = queue.shift()!;
      const end = await execute(line);
      if (end) {
        closed = true;
        rl.close();
        break;
      }
    }
    busy = false;
    if (!closed) rl.prompt();
    else finish();
  }

  async function execute(line: string): Promise<boolean> {
    const words = splitWords(line);
    if (words.length === 0) return false;
    if (options.historyFile) appendHistory(options.historyFile, line);
    const first = words[0]!.toLowerCase();
    if (first === 'exit' || first === 'quit') return true;
    if (first === 'help') {
      write(helpText(table, words.slice(1)));
      return false;
    }
    const found = table.find(words);
    try {
      if (!found) {
        const below = table.under(words);
        if (below.length > 0) {
          write(`incomplete command; one of:\n${below.map((c) => `  ${usageOf(c)}`).join('\n')}`);
          return false;
        }
        const near = nearest(words, [...table.commands.map((c) => c.words), ...builtins.map((b) => [b])]);
        write(`error: unknown command "${words.join(' ')}"${near ? `; did you mean "${near}"?` : ' (type "help")'}`);
        return false;
      }
      table.checkArgs(found);
      await found.command.run(found.args, io);
    } catch (err) {
      write(`error: ${describe(err)}`);
    }
    return false;
  }

  rl.on('line', (line) => {
    queue.push(line);
    void drain();
  });
  rl.on('SIGINT', () => {
    // Ctrl-C drops the line being typed; it never ends the session.
    output.write('^C\n');
    rl.write(null, { ctrl: true, name: 'u' });
    rl.prompt();
  });
  rl.on('close', () => {
    closed = true;
    if (!busy) finish();
  });
  if (options.banner) write(options.banner);
  rl.prompt();
  return done;
}

export function helpText(table: CommandTable, prefix: readonly string[]): string {
  const rows = table.under(prefix).map((c) => [usageOf(c), c.summary] as const);
  if (prefix.length === 0) rows.push(['help [COMMAND]', 'list commands (those starting with COMMAND)'], ['exit', 'end the session']);
  if (rows.length === 0) return `error: no command starts with "${prefix.join(' ')}" (type "help")`;
  const width = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([u, s]) => `  ${u.padEnd(width)}  ${s}`).join('\n');
}

/** One line, no stack: the message, and the stable code for sbd's own errors. */
export function describe(err: unknown): string {
  if (err instanceof SbdError) {
    return isAdminErrorCode(err.code) && err.code !== AdminErrorCode.system ? err.message : `${err.message} [${err.code}]`;
  }
  if (err instanceof Error) return err.message.split('\n')[0]!;
  return String(err);
}

function loadHistory(file: string | undefined, size: number): string[] {
  if (!file) return [];
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(-size).reverse();
  } catch {
    return [];
  }
}

function appendHistory(file: string, line: string): void {
  try {
    appendFileSync(file, line.replace(/\n/g, ' ') + '\n', { mode: 0o600 });
  } catch {
    // History is a convenience: a read-only or missing state directory must not break the console.
  }
}
