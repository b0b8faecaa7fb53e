#!/usr/bin/env node
/**
 * `sbd` — one command with subcommands. Command groups are discovered from ./commands so each room adds its own
 * file. Errors print one clear line (no stack trace) and exit 1; usage errors exit 2.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command, CommandContext } from './command.js';
import { SbdError, UsageError } from '../lib/errors.js';

async function loadCommands(argv: string[]): Promise<Command[]> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
  let files = readdirSync(dir)
    .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts'))
    .sort();
  // `sbd daemon NAME` loads only its own command file: a daemon starts without every other command's modules.
  const own = argv[0] === 'daemon' ? files.find((f) => f.replace(/\.(js|ts)$/, '') === `daemon-${argv[1]}`) : undefined;
  if (own) files = [own];
  const all: Command[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { commands?: Command[] };
    if (mod.commands) all.push(...mod.commands);
  }
  return all;
}

function findCommand(all: Command[], argv: string[]): { cmd: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of all) {
    if (c.path.length <= argv.length && c.path.every((w, i) => argv[i] === w)) {
      if (!best || c.path.length > best.path.length) best = c;
    }
  }
  return best && { cmd: best, rest: argv.slice(best.path.length) };
}

function helpText(all: Command[], prefix: string[] = []): string {
  const rows = all
    .filter((c) => prefix.every((w, i) => c.path[i] === w))
    .map((c) => [`sbd ${c.path.join(' ')}`, c.summary] as const)
    .sort((a, b) => a[0].localeCompare(b[0]));
  const width = Math.max(0, ...rows.map((r) => r[0].length));
  return ['usage: sbd <command> [options]', '', ...rows.map(([n, s]) => `  ${n.padEnd(width)}  ${s}`)].join('\n');
}

/** Runs one command line; `commands` given (a bundle, scripts/bundle.ts) replaces the discovery in ./commands. */
export async function main(argv: string[], ctx: CommandContext, commands?: Command[]): Promise<number> {
  const all = commands ?? (await loadCommands(argv));
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help') {
    ctx.out(helpText(all, argv.slice(1)));
    return 0;
  }
  const found = findCommand(all, argv);
  if (!found) {
    const group = all.filter((c) => c.path[0] === argv[0]);
    ctx.err(group.length ? helpText(all, [argv[0]!]) : `sbd: unknown command "${argv.join(' ')}" (try "sbd help")`);
    return 2;
  }
  const { cmd, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    ctx.out(`usage: ${cmd.usage}`);
    return 0;
  }
  try {
    return await cmd.run(rest, ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      ctx.err(`sbd ${cmd.path.join(' ')}: ${err.message}\nusage: ${cmd.usage}`);
      return 2;
    }
    if (err instanceof SbdError) {
      ctx.err(`sbd ${cmd.path.join(' ')}: ${err.message} [${err.code}]`);
      return 1;
    }
    if (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string') {
      ctx.err(`sbd ${cmd.path.join(' ')}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

/** The process entry: `node main.js ARGS`, or a bundle passing its commands (scripts/bundle.ts). */
export function runMain(commands?: Command[]): void {
  // A closed pipe (`sbd itl show F | head`) ends output quietly instead of a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  const ctx: CommandContext = {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
  };
  main(process.argv.slice(2), ctx, commands).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`sbd: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 70;
    },
  );
}

const isEntry = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1]);
if (isEntry) runMain();
