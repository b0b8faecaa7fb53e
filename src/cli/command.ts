/**
 * The shape every `sbd` subcommand module exports. Modules live in `src/cli/commands/` (one file per command
 * group) and export `commands: Command[]`; `main.ts` discovers them, so adding a command group never edits a
 * shared file.
 */
export interface CommandContext {
  out: (text: string) => void;
  err: (text: string) => void;
}

export interface Command {
  /** Words after `sbd`, e.g. ['itl', 'show'] or ['daemon', 'tftp']. */
  path: readonly string[];
  /** One line for `sbd help`. */
  summary: string;
  /** Usage line(s) printed for `--help` and on usage errors. */
  usage: string;
  /** Returns the process exit code. */
  run(args: string[], ctx: CommandContext): Promise<number> | number;
}
