/**
 * The console's cluster words (issue 21 item 3) without a server: they are in `help`; the cluster security password
 * is read without echo and never reaches the history; a mismatch stops before anything runs as root; a shell that
 * cannot raise says so; names and addresses are refused by the real root entry (`sbd cluster appliance`, run as a
 * process) with its one line and code. The whole procedure over real servers: test/cluster/pg-console.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { adminTable } from '../../src/admin/commands.js';
import type { Privilege } from '../../src/admin/privilege.js';
import { helpText, runShell } from '../../src/admin/shell.js';

const asRootHere: Privilege = { canRaise: true, asRoot: (file, args) => ({ file, args: [...args] }) };
const noRoot: Privilege = {
  canRaise: false,
  asRoot: () => {
    throw new Error('no root');
  },
};

function table(state: string, privilege: Privilege) {
  return adminTable({
    privilege,
    stateDir: state,
    firstBoot: () => undefined,
    cluster: { sbd: [process.execPath, '--import', 'tsx', 'src/cli/main.ts'], env: { SBD_STATE: state, SBD_PG_DIR: join(state, 'pg') } },
  });
}

/** A terminal session: each answer is typed once its question is on the screen. Everything the screen showed. */
async function session(state: string, privilege: Privilege, script: [string | RegExp, string][]): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let screen = '';
  output.on('data', (d: Buffer) => (screen += d.toString()));
  const done = runShell({ input, output, table: table(state, privilege), terminal: true, historyFile: join(state, 'history') });
  for (const [waitFor, line] of script) {
    for (let i = 0; i < 600 && !(typeof waitFor === 'string' ? screen.includes(waitFor) : waitFor.test(screen)); i++)
      await new Promise((r) => setTimeout(r, 50));
    input.write(`${line}\r`);
  }
  input.end();
  await done;
  return screen;
}

test('help lists the cluster words', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-cluster-words-'));
  try {
    const help = helpText(table(dir, asRootHere), ['set', 'network']) + helpText(table(dir, asRootHere), ['utils', 'cluster']);
    for (const words of [
      'set network cluster subscriber details NAME ADDRESS[:PGPORT] [CIDR]',
      'set network cluster subscriber delete NAME',
      'utils cluster join PUBLISHER[:PORT] NAME [ADDRESS[:PGPORT]]',
      'utils cluster migrate',
      'utils cluster promote',
      'utils cluster repoint PUBLISHER[:PORT]',
    ])
      assert.ok(help.includes(words), `help: ${words}\n${help}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the cluster security password: no echo, not in the history; a mismatch or no root stops first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-cluster-words-'));
  try {
    const screen = await session(dir, asRootHere, [
      ['admin: ', 'utils cluster migrate'],
      ['(yes/no)', 'yes'],
      ['Cluster security password: ', 'first-secret-typed'],
      ['(again): ', 'second-secret-typed'],
      [/differ; nothing changed\n[\s\S]*admin: /, 'exit'],
    ]);
    assert.match(screen, /error: the two passwords differ; nothing changed/);
    assert.doesNotMatch(screen, /secret-typed/, 'the password is not echoed');
    assert.doesNotMatch(readFileSync(join(dir, 'history'), 'utf8'), /secret-typed/, 'nor kept in the history');

    const refused = await session(dir, noRoot, [
      ['admin: ', 'utils cluster join 198.18.0.10 sub1 198.18.0.11'],
      ['(yes/no)', 'yes'],
      ['Cluster security password: ', 'the-right-length'],
      [/need root[\s\S]*admin: /, 'exit'],
    ]);
    assert.match(refused, /error: the cluster commands need root: run the admin shell through its login/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the root entry refuses a bad name, address or network with one line and its code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-cluster-words-'));
  try {
    const screen = await session(dir, asRootHere, [
      ['admin: ', 'set network cluster subscriber details "sub 1" 10.0.0.5'],
      [/ERR_CLUSTER_INPUT[\s\S]*admin: /, 'set network cluster subscriber details sub1 10.0.0.300'],
      [/300".*\n[\s\S]*admin: /, 'set network cluster subscriber details sub1 10.0.0.5 10.0.0.0/40'],
      [/\/40"[\s\S]*admin: /, 'exit'],
    ]);
    assert.match(
      screen,
      /error: node name "sub 1": a letter, then letters, digits or "-" \(at most 32 characters, no spaces\) \[ERR_CLUSTER_INPUT\]/,
    );
    assert.match(screen, /error: node address "10\.0\.0\.300": an IPv4 address, optionally :PORT \[ERR_CLUSTER_INPUT\]/);
    assert.match(screen, /error: "10\.0\.0\.0\/40" is not an IPv4 network \(ADDRESS\/BITS\) \[ERR_CLUSTER_INPUT\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
