/**
 * The arrows allowed between rooms (docs/architecture.md, issue 17 item 7), read from the code itself: every
 * import in src/ and every cross-file call and #include between native/ C files. A forbidden arrow fails here.
 * Arrows that exist today and that a later item of issue 17 removes are listed in `allowed`, each with the item
 * that removes it; an allowed arrow that no longer exists fails too, so the list only shrinks and stays true.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allArrows, arrowsOf, forbidden, root, sourceFiles, violations } from './imports.js';
import { crossFileCalls } from '../tftp/native/c-layers.test.js';
import { graphCycle } from './graph-cycle.js';

const allowed: ReadonlyMap<string, string> = new Map([]);

const arrows = allArrows();

test('no forbidden arrow between rooms in src/ beyond the shrinking allow-list', () => {
  // The reader sees the arrows that hold the house together (an empty list cannot pass unnoticed).
  const has = (from: string, to: string) => arrows.some((a) => a.from === from && a.to === to);
  assert.ok(has('src/daemons/sipd.ts', 'src/sip/server.ts') && has('src/cli/commands/daemon-sip.ts', 'src/daemons/sipd.ts'));
  assert.ok(arrows.length > 1000, `only ${arrows.length} imports read`);
  const found = violations(arrows);
  const unexpected = [...found].filter(([k]) => !allowed.has(k)).map(([k, why]) => `${k} (${why})`);
  assert.deepEqual(unexpected, [], 'forbidden arrows (docs/architecture.md says which are allowed)');
  const gone = [...allowed.keys()].filter((k) => !found.has(k));
  assert.deepEqual(gone, [], 'allowed arrows that no longer exist: remove them from the allow-list');
});

test('nothing below the entry rooms imports cli/, admin/ or daemons/', () => {
  const up = arrows.filter((a) => /^src\/(cli|admin|daemons)\//.test(a.to) && !/^src\/(cli|admin|daemons)\//.test(a.from));
  assert.deepEqual(
    up.map((a) => `${a.from} -> ${a.to}`),
    [],
  );
});

test('the checker reads every kind of import and judges each rule', () => {
  const a = (from: string, text: string) => arrowsOf(from, text).map((x) => forbidden(x) ?? 'ok');
  assert.deepEqual(
    a('src/tftp/core/x.ts', "import { createSocket } from 'node:dgram';\nimport type { Store } from '../../store/index.js';"),
    ['core imports I/O', 'core imports store/'],
  );
  assert.deepEqual(a('src/sip/core/x.ts', "import { randomBytes } from 'node:crypto';\nimport { SbdError } from '../../lib/errors.js';"), [
    'ok',
    'ok',
  ]);
  assert.deepEqual(
    a('src/tvs/x.ts', "import { A } from '../capf/a.js';\nimport type { B } from '../capf/b.js';\nimport { type C } from '../capf/c.js';"),
    ['service tvs/ imports service capf/', 'ok', 'ok'],
  );
  assert.deepEqual(a('src/media/x.ts', "export { r } from '../reports/r.js';\nconst m = await import('../cluster/c.js');"), [
    'service media/ imports reports/',
    'service media/ imports cluster/',
  ]);
  assert.deepEqual(
    a('src/capf/x.ts', "import { DEVICE_LIMITS } from '../store/index.js';\nimport type { DeviceRow } from '../store/index.js';"),
    ['service capf/ imports store/ code (types only)', 'ok'],
  );
  assert.deepEqual(a('src/backup/x.ts', "import { v } from '../cli/commands/version.js';"), ['backup/ imports the entry room cli/']);
  assert.deepEqual(a('src/cli/x.ts', "import { runSipd } from '../daemons/sipd.js';"), ['ok']);
  assert.deepEqual(a('src/lib/x.ts', "type T = import('../daemons/sipd.js').SipdOptions;"), ['lib/ imports the entry room daemons/']);
});

function graph(edges: readonly { from: string; to: string }[]): Map<string, Set<string>> {
  const next = new Map<string, Set<string>>();
  for (const e of edges) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
  return next;
}

test('no cycle between native/ C files: neither by calls nor by #include', () => {
  const dir = join(root, 'native');
  const files = readdirSync(dir)
    .filter((f) => /\.[ch]$/.test(f))
    .sort();
  const text = new Map(files.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  const calls = crossFileCalls(new Map([...text].filter(([f]) => f.endsWith('.c'))));
  assert.ok(
    calls.some((e) => e.from === 'srtp-rtcp.c' && e.to === 'srtp-core.c'),
    'the call reader sees srtp-rtcp.c calling srtp-core.c',
  );
  assert.equal(graphCycle(graph(calls)), null);
  const includes = [...text].flatMap(([f, s]) => [...s.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)].map((m) => ({ from: f, to: m[1]! })));
  assert.ok(includes.length > 0);
  assert.deepEqual(
    includes.filter((e) => e.to.endsWith('.c')),
    [],
    'a C file includes another C file',
  );
  assert.equal(graphCycle(graph(includes)), null);
});

test('the cycle finder finds one', () => {
  assert.deepEqual(
    graphCycle(
      graph([
        { from: 'a.c', to: 'b.c' },
        { from: 'b.c', to: 'a.c' },
      ]),
    ),
    ['a.c', 'b.c', 'a.c'],
  );
  assert.equal(
    sourceFiles().every((f) => f.startsWith('src/')),
    true,
  );
});

test('services see the appliance only through their own interfaces, implemented in daemons/adapters/ (item 4)', () => {
  // No service names the store's class: each declares what it asks (tftp ApplianceFiles, tvs TvsTrustView, capf
  // CapfOperations, sip Directory / RoutingDirectory / PhoneControlDirectory / TrunkCredentialLookup).
  const naming = sourceFiles()
    .filter((f) => /^src\/(tftp|tvs|capf|sip|media)\//.test(f))
    .filter((f) => /import[^;]*\bStore\b[^;]*from\s*'[^']*store\/index\.js'/.test(readFileSync(join(root, f), 'utf8')));
  assert.deepEqual(naming, []);
  // The implementations are the adapters: one file per service and store engine (SQLite `<service>-store.ts`,
  // a second engine `<engine>-<service>-store.ts`); the SQLite ones read the store.
  const adapters = sourceFiles('src/daemons/adapters');
  const sqlite = ['capf-store', 'sip-store', 'tftp-store', 'tvs-store'].map((n) => `src/daemons/adapters/${n}.ts`);
  assert.deepEqual(
    adapters.filter((f) => !/^src\/daemons\/adapters\/(?:[a-z0-9]+-)?(tftp|tvs|capf|sip|media)-store\.ts$/.test(f)),
    [],
  );
  for (const f of sqlite)
    assert.ok(
      arrows.some((x) => x.from === f && x.to === 'src/store/index.ts'),
      `${f} reads the store`,
    );
});
