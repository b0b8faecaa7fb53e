/**
 * The arrows inside src/sip/core (docs/architecture.md "Inside sip/core", issue 17 item 5): messages <-
 * transactions <- dialogs, auth beside on messages. Every core file lives in one of the four rooms, imports
 * only its own room, the rooms listed for it and lib/, and nothing upward (sip's transports, registrar,
 * routing ...) or sideways (sdp/, store/ ...). Read from the code with the same reader as imports.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allArrows, type Arrow, arrowsOf, roomOf, sourceFiles } from './imports.js';

/** The rooms inside src/sip/core and the ones each may import. */
const sipCoreRooms: Readonly<Record<string, readonly string[]>> = {
  messages: [],
  transactions: ['messages'],
  dialogs: ['messages', 'transactions'],
  auth: ['messages'],
};

const innerRoom = (path: string): string | undefined => /^src\/sip\/core\/([^/]+)\//.exec(path)?.[1];

/** The sip/core rule an arrow breaks, or undefined (also for arrows that do not start in src/sip/core/). */
function sipCoreRule(a: Arrow): string | undefined {
  if (!a.from.startsWith('src/sip/core/')) return undefined;
  const inner = innerRoom(a.from);
  const mayImport = inner === undefined ? undefined : sipCoreRooms[inner];
  if (mayImport === undefined) return 'sip/core/ file outside messages/, transactions/, dialogs/, auth/';
  const to = roomOf(a.to);
  if (to === undefined || to === 'lib') return undefined; // bare specifiers: imports.test.ts judges I/O modules
  const toInner = innerRoom(a.to);
  if (toInner === inner || (toInner !== undefined && mayImport.includes(toInner))) return undefined;
  return `sip/core/${inner}/ imports ${toInner === undefined ? a.to.slice(4) : `sip/core/${toInner}/`}`;
}

test('sip/core: every file in one of its four rooms, and only the allowed arrows between them', () => {
  const files = sourceFiles('src/sip/core');
  const rooms = new Set(files.map((f) => innerRoom(f) ?? f));
  assert.deepEqual([...rooms].sort(), ['auth', 'dialogs', 'messages', 'transactions']);
  const arrows = allArrows(files);
  // The reader sees the inner arrows (an empty list cannot pass unnoticed).
  const has = (from: string, to: string) => arrows.some((a) => a.from === from && a.to === to);
  assert.ok(has('src/sip/core/dialogs/dialog-request.ts', 'src/sip/core/transactions/branch.ts'));
  assert.ok(has('src/sip/core/auth/digest.ts', 'src/sip/core/messages/syntax.ts'));
  assert.ok(has('src/sip/core/transactions/transaction-base.ts', 'src/sip/core/messages/serializer.ts'));
  const broken = arrows.flatMap((a) => {
    const why = sipCoreRule(a);
    return why === undefined ? [] : [`${a.from} -> ${a.to} (${why})`];
  });
  assert.deepEqual(broken, []);
});

test('the sip/core rule judges each kind of arrow', () => {
  const judge = (from: string, text: string) => arrowsOf(from, text).map((x) => sipCoreRule(x) ?? 'ok');
  assert.deepEqual(
    judge('src/sip/core/messages/x.ts', "import { randomBytes } from 'node:crypto';\nimport { SbdError } from '../../../lib/errors.js';"),
    ['ok', 'ok'],
  );
  assert.deepEqual(
    judge(
      'src/sip/core/dialogs/x.ts',
      "import { m } from '../messages/m.js';\nimport { b } from '../transactions/b.js';\nimport { d } from '../auth/digest.js';",
    ),
    ['ok', 'ok', 'sip/core/dialogs/ imports sip/core/auth/'],
  );
  assert.deepEqual(
    judge('src/sip/core/messages/x.ts', "import type { T } from '../transactions/t.js';\nimport { r } from '../../routing/router.js';"),
    ['sip/core/messages/ imports sip/core/transactions/', 'sip/core/messages/ imports sip/routing/router.ts'],
  );
  assert.deepEqual(
    judge(
      'src/sip/core/auth/x.ts',
      "import { s } from '../messages/syntax.js';\nimport { D } from '../dialogs/dialog.js';\nimport { q } from '../../../sdp/index.js';",
    ),
    ['ok', 'sip/core/auth/ imports sip/core/dialogs/', 'sip/core/auth/ imports sdp/index.ts'],
  );
  assert.deepEqual(judge('src/sip/core/x.ts', "import { m } from './messages/m.js';"), [
    'sip/core/ file outside messages/, transactions/, dialogs/, auth/',
  ]);
  assert.deepEqual(judge('src/sip/routing/x.ts', "import { m } from '../core/dialogs/dialog.js';"), ['ok']);
});
