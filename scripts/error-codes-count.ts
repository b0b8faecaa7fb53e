/**
 * Counts, per room, error codes written inline and how tests check errors (issue 17 item 6): an `'ERR_…'` literal
 * outside a room's `const … = { … } as const` table is "typed" when the type checker holds it to a literal union
 * (a typo does not compile) and "untyped" when it could be any string; each assert.throws/rejects is classed by
 * what it matches (`code`, message text, error class only, nothing).
 * Run: node --import tsx scripts/error-codes-count.ts [room…]   (VERBOSE=1 lists each untyped code and non-code assert)
 */
import ts from 'typescript';

const ROOMS_DEFAULT = [
  'tftp',
  'trust',
  'tvs',
  'capf',
  'pki',
  'config',
  'store',
  'backup',
  'admin',
  'cli',
  'media',
  'cluster',
  'reports',
  'credentials',
  'lib',
  'sim',
  'sip',
  'daemons',
  'sdp',
];
const rooms = process.argv.length > 2 ? process.argv.slice(2) : ROOMS_DEFAULT;

const config = ts.getParsedCommandLineOfConfigFile('tsconfig.json', {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
if (!config) throw new Error('cannot read tsconfig.json');
const roots = config.fileNames.filter((f) => rooms.some((r) => f.includes(`/src/${r}/`) || f.includes(`/test/${r}/`)));
const program = ts.createProgram(roots, config.options);
const checker = program.getTypeChecker();

type Row = { declared: number; typed: number; untyped: number; code: number; message: number; klass: number; bare: number };
const rows = new Map<string, Row>(rooms.map((r) => [r, { declared: 0, typed: 0, untyped: 0, code: 0, message: 0, klass: 0, bare: 0 }]));
const sites: string[] = [];

function where(node: ts.Node): string {
  const sf = node.getSourceFile();
  const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
  return `${sf.fileName.replace(/^.*\/(src|test)\//, '$1/')}:${line + 1}`;
}

/** A literal that is a property value of `const X = { … } as const` (or `satisfies`): the table itself. */
function isTableEntry(node: ts.Node): boolean {
  let p = node.parent;
  if (!p || !ts.isPropertyAssignment(p) || p.initializer !== node) return false;
  p = p.parent;
  if (!p || !ts.isObjectLiteralExpression(p)) return false;
  let q: ts.Node = p.parent;
  while (q && (ts.isAsExpression(q) || ts.isSatisfiesExpression(q) || ts.isParenthesizedExpression(q))) q = q.parent;
  return q !== undefined && ts.isVariableDeclaration(q) && p.parent !== q;
}

/** Held to a union of literals (or one literal) rather than `string`. */
function isTyped(node: ts.Expression): boolean {
  const t = checker.getContextualType(node);
  if (!t) return false;
  const parts = t.isUnion() ? t.types : [t];
  return parts.every((p) => (p.flags & (ts.TypeFlags.StringLiteral | ts.TypeFlags.Undefined | ts.TypeFlags.Null)) !== 0);
}

function classify(arg: ts.Expression | undefined): keyof Row {
  if (!arg) return 'bare';
  if (ts.isRegularExpressionLiteral(arg)) return 'message';
  if (ts.isObjectLiteralExpression(arg)) {
    const names = arg.properties.map((p) => (p.name && ts.isIdentifier(p.name) ? p.name.text : ''));
    if (names.includes('code')) return 'code';
    if (names.includes('message')) return 'message';
    return 'klass';
  }
  if (ts.isArrowFunction(arg) || ts.isFunctionExpression(arg)) {
    const body = arg.body.getText();
    if (/\.code\b|\bcode\b/.test(body)) return 'code';
    if (/message|\.test\(|\.match\(/.test(body)) return 'message';
    return 'klass';
  }
  if (ts.isCallExpression(arg)) {
    // A matcher factory (`code('ERR_…')`, `isPkiError(PkiErrorCode.serial)`): judged by what its body checks.
    const decl = checker.getSymbolAtLocation(arg.expression)?.declarations?.[0];
    const body = decl ? decl.getText() : '';
    if (/\.code\b|\bcode\b/.test(body)) return 'code';
    if (/message|\.test\(|\.match\(/.test(body)) return 'message';
    return 'klass';
  }
  if (ts.isIdentifier(arg) || ts.isPropertyAccessExpression(arg)) return 'klass';
  if (ts.isStringLiteral(arg) || ts.isNoSubstitutionTemplateLiteral(arg)) return 'bare'; // assert message, not a matcher
  return 'klass';
}

for (const sf of program.getSourceFiles()) {
  const m = /\/(src|test)\/([a-z-]+)\//.exec(sf.fileName);
  if (!m || !rows.has(m[2]!) || sf.fileName.includes('/node_modules/')) continue;
  const row = rows.get(m[2]!)!;
  const inTest = m[1] === 'test';
  const visit = (node: ts.Node): void => {
    if (!inTest && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && /^ERR_[A-Z0-9_]+$/.test(node.text)) {
      if (isTableEntry(node)) row.declared++;
      else if (isTyped(node)) row.typed++;
      else {
        row.untyped++;
        sites.push(`${where(node)} ${node.text} (untyped)`);
      }
    }
    if (inTest && ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const name = node.expression.name.text;
      const obj = node.expression.expression.getText();
      if ((name === 'throws' || name === 'rejects') && /(^|\.)assert$/.test(obj)) {
        const kind = classify(node.arguments[1]);
        row[kind]++;
        if (kind !== 'code') sites.push(`${where(node)} assert.${name} by ${kind}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}

console.log('room          declared  typed  untyped | throws/rejects: code  message  class  bare');
for (const [room, r] of rows) {
  console.log(
    `${room.padEnd(13)} ${String(r.declared).padStart(8)} ${String(r.typed).padStart(6)} ${String(r.untyped).padStart(8)} |` +
      `                 ${String(r.code).padStart(4)} ${String(r.message).padStart(8)} ${String(r.klass).padStart(6)} ${String(r.bare).padStart(5)}`,
  );
}
if (process.env.VERBOSE) for (const s of sites) console.log(s);
