/**
 * A file's opening comment is at most 10 lines (issue 17 item 6): what the file is and why, briefly; tables and
 * rules sit on the declaration they describe, history and measurements in docs/. Checked for the rooms of
 * TABLED_ROOMS (sip and daemons follow); `allowed` lists the files still over, and only shrinks.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TABLED_ROOMS } from './error-codes.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const MAX_LINES = 10;
const allowed: ReadonlySet<string> = new Set([]);

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Lines of the block comment the file starts with (0 when it starts with code). */
function openingCommentLines(text: string): number {
  if (!text.startsWith('/*')) return 0;
  const end = text.indexOf('*/');
  return end < 0 ? text.split('\n').length : text.slice(0, end).split('\n').length;
}

test('opening comments are at most 10 lines', () => {
  assert.equal(openingCommentLines('/**\n * a\n */\nx'), 3);
  const over = new Map<string, number>();
  for (const room of TABLED_ROOMS) {
    for (const f of tsFiles(join(root, 'src', room))) {
      const n = openingCommentLines(readFileSync(f, 'utf8'));
      if (n > MAX_LINES) over.set(relative(root, f), n);
    }
  }
  const unexpected = [...over].filter(([f]) => !allowed.has(f)).map(([f, n]) => `${f}: ${n} lines`);
  assert.deepEqual(unexpected, [], 'opening comments over 10 lines: move tables to their declaration, history to docs/');
  const gone = [...allowed].filter((f) => !over.has(f));
  assert.deepEqual(gone, [], 'files now within the limit: remove them from `allowed`');
});
