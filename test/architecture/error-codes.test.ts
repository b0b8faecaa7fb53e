/**
 * Error codes are declared once per room and typed by the room's table, and tests check codes (issue 17 item 6).
 * Read with the type checker (error-codes.ts): an inline 'ERR_…' string that any string could replace fails here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { countErrorCodes, TABLED_ROOMS } from './error-codes.js';

/**
 * Asserts that still match something other than a code, per room, as of this test; the counts only go down. Today:
 * tftp — a RangeError for a programming error (data-packets); store — a thrown non-sbd error matched by identity
 * and a TypeError (concurrency), and the sqlite3 CLI's own CHECK text (sip-trunk-ca).
 */
const NOT_BY_CODE_CEILING: Readonly<Record<string, number>> = { tftp: 1, store: 3 };

const { rows, untyped, notByCode } = countErrorCodes(TABLED_ROOMS, fileURLToPath(new URL('../../', import.meta.url)));

test('every error code in the tabled rooms comes from its table or is typed by it (a typo does not compile)', () => {
  let declared = 0;
  for (const r of rows.values()) declared += r.declared;
  assert.ok(declared > 150, `only ${declared} table entries found: is the reader looking at the tree?`);
  assert.deepEqual(untyped, [], "inline 'ERR_…' strings typed as string: use the room's table");
});

test('tests match error codes, not message text; the rest only shrinks', () => {
  const over: string[] = [];
  const under: string[] = [];
  for (const [room, r] of rows) {
    const n = r.message + r.klass + r.bare;
    const ceiling = NOT_BY_CODE_CEILING[room] ?? 0;
    if (n > ceiling) over.push(`${room}: ${n} > ${ceiling}`);
    if (n < ceiling) under.push(`${room}: ${n} < ${ceiling}`);
  }
  assert.deepEqual(over, [], `asserts that do not check a code:\n${notByCode.join('\n')}`);
  assert.deepEqual(under, [], 'fewer asserts without a code than the ceiling: lower NOT_BY_CODE_CEILING');
});
