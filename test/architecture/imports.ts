/**
 * Reads every import of the TypeScript sources (import/export-from declarations, `import type`, dynamic
 * `import()`) with the TypeScript parser, and judges each arrow by the house rules (docs/architecture.md,
 * STYLE.md "The arrows allowed between rooms"). Used by imports.test.ts and scripts/sipd-modules.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const root = fileURLToPath(new URL('../../', import.meta.url));

export interface Arrow {
  /** Repository-relative path of the importing file, e.g. `src/sip/server.ts`. */
  from: string;
  /** Repository-relative path of the imported file, or the bare specifier (`node:fs`, `koffi`). */
  to: string;
  /** `import type` / `export type`, or every named binding type-only: erased at run time. */
  typeOnly: boolean;
}

/** Every .ts file under `dir` (repository-relative), sorted. */
export function sourceFiles(dir = 'src'): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(join(root, d), { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

function target(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return relative(root, resolve(root, dirname(from), spec)).replace(/\.js$/, '.ts');
}

function allTypeOnly(clause: ts.ImportClause | undefined): boolean {
  if (!clause) return false;
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const b = clause.namedBindings;
  return b !== undefined && ts.isNamedImports(b) && b.elements.length > 0 && b.elements.every((e) => e.isTypeOnly);
}

/** The arrows out of one file, given its text. */
export function arrowsOf(from: string, text: string): Arrow[] {
  const sf = ts.createSourceFile(from, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const arrows: Arrow[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean) => {
    if (spec && ts.isStringLiteralLike(spec)) arrows.push({ from, to: target(from, spec.text), typeOnly });
  };
  const visit = (n: ts.Node) => {
    if (ts.isImportDeclaration(n)) add(n.moduleSpecifier, allTypeOnly(n.importClause));
    else if (ts.isExportDeclaration(n)) {
      const named = n.exportClause && ts.isNamedExports(n.exportClause) ? n.exportClause.elements : undefined;
      add(n.moduleSpecifier, n.isTypeOnly || (named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) {
      add(n.moduleReference.expression, n.isTypeOnly);
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) add(n.arguments[0], false);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) add(n.argument.literal as ts.Expression, true);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return arrows;
}

export function allArrows(files = sourceFiles()): Arrow[] {
  return files.flatMap((f) => arrowsOf(f, readFileSync(join(root, f), 'utf8')));
}

/** `src/<room>/…` → room; `native/…` → 'native'; a bare specifier → undefined. */
export function roomOf(path: string): string | undefined {
  const m = /^src\/([^/]+)\//.exec(path);
  if (m) return m[1];
  return path.startsWith('native/') ? 'native' : undefined;
}

export const isCore = (path: string): boolean => /^src\/[^/]+\/core\//.test(path);

export const services = ['tftp', 'tvs', 'capf', 'sip', 'media'] as const;
export const entryRooms = ['cli', 'admin', 'daemons'] as const;
/** Modules that touch sockets, files, processes or native code: no protocol core imports them. */
export const ioModules = [
  'node:net',
  'node:dgram',
  'node:fs',
  'node:fs/promises',
  'node:tls',
  'node:child_process',
  'node:http',
  'node:https',
  'node:worker_threads',
  'node:cluster',
  'fs',
  'net',
  'dgram',
  'tls',
  'child_process',
  'better-sqlite3',
  'koffi',
];

/** The rule an arrow breaks, or undefined. */
export function forbidden(a: Arrow): string | undefined {
  const from = roomOf(a.from);
  const to = roomOf(a.to);
  if (from === undefined) return undefined;
  if (isCore(a.from)) {
    if (ioModules.includes(a.to)) return 'core imports I/O';
    if (to === 'store' || to === 'daemons' || to === 'native') return `core imports ${to}/`;
  }
  if (to !== undefined && (entryRooms as readonly string[]).includes(to) && !(entryRooms as readonly string[]).includes(from)) {
    return `${from}/ imports the entry room ${to}/`;
  }
  if ((services as readonly string[]).includes(from) && to !== undefined && to !== from) {
    if (['cluster', 'reports', ...entryRooms].includes(to)) return `service ${from}/ imports ${to}/`;
    // A service sees the store through its own interface (issue 17 item 4); the store's row types may name it.
    if (to === 'store' && !a.typeOnly) return `service ${from}/ imports store/ code (types only)`;
    // A published type of another service is allowed (erased at run time); its code is not.
    if ((services as readonly string[]).includes(to) && !a.typeOnly) return `service ${from}/ imports service ${to}/`;
  }
  return undefined;
}

/** `from → to` for every forbidden arrow, once each, sorted. */
export function violations(arrows: readonly Arrow[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of arrows) {
    const why = forbidden(a);
    if (why) out.set(`${a.from} -> ${a.to}`, why);
  }
  return new Map([...out].sort(([x], [y]) => x.localeCompare(y)));
}
