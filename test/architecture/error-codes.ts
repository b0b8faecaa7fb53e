/**
 * Per room, how error codes are written and how tests check errors (issue 17 item 6), read with the type checker:
 * an `'ERR_…'` literal outside a room's `const … = { … } as const` table is "typed" when it is held to a literal
 * union (a typo does not compile) and "untyped" when it could be any string; each assert.throws/rejects is classed
 * by what it matches (`code`, message text, the error class only, nothing). Used by error-codes.test.ts and
 * scripts/error-codes-count.ts.
 */
import { join } from 'node:path';
import ts from 'typescript';

/** Rooms whose codes are declared once in a table and typed by it (issue 17 item 6); sip, daemons and sdp follow. */
export const TABLED_ROOMS = [
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
] as const;

export type ErrorCodeRow = { declared: number; typed: number; untyped: number; code: number; message: number; klass: number; bare: number };
export type AssertKind = 'code' | 'message' | 'klass' | 'bare';

export interface ErrorCodeCount {
  rows: Map<string, ErrorCodeRow>;
  /** `src/…:line ERR_X` for each untyped code. */
  untyped: string[];
  /** `test/…:line assert.throws by message` for each assert that does not check a code. */
  notByCode: string[];
}

export function countErrorCodes(rooms: readonly string[], root: string): ErrorCodeCount {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  if (!config) throw new Error('cannot read tsconfig.json');
  const roots = config.fileNames.filter((f) => rooms.some((r) => f.includes(`/src/${r}/`) || f.includes(`/test/${r}/`)));
  const program = ts.createProgram(roots, config.options);
  const checker = program.getTypeChecker();
  const rows = new Map<string, ErrorCodeRow>(
    rooms.map((r) => [r, { declared: 0, typed: 0, untyped: 0, code: 0, message: 0, klass: 0, bare: 0 }]),
  );
  const untyped: string[] = [];
  const notByCode: string[] = [];

  const where = (node: ts.Node): string => {
    const sf = node.getSourceFile();
    const { line } = sf.getLineAndCharacterOfPosition(node.getStart());
    return `${sf.fileName.replace(/^.*\/(src|test)\//, '$1/')}:${line + 1}`;
  };

  /** A literal that is a property value of `const X = { … } as const` (or `satisfies`): the table itself. */
  const isTableEntry = (node: ts.Node): boolean => {
    let p = node.parent;
    if (!p || !ts.isPropertyAssignment(p) || p.initializer !== node) return false;
    p = p.parent;
    if (!p || !ts.isObjectLiteralExpression(p)) return false;
    let q: ts.Node = p.parent;
    while (q && (ts.isAsExpression(q) || ts.isSatisfiesExpression(q) || ts.isParenthesizedExpression(q))) q = q.parent;
    return q !== undefined && ts.isVariableDeclaration(q) && p.parent !== q;
  };

  /** Held to a union of literals (or one literal) rather than `string`. */
  const isTyped = (node: ts.Expression): boolean => {
    const t = checker.getContextualType(node);
    if (!t) return false;
    const parts = t.isUnion() ? t.types : [t];
    return parts.every((p) => (p.flags & (ts.TypeFlags.StringLiteral | ts.TypeFlags.Undefined | ts.TypeFlags.Null)) !== 0);
  };

  const judge = (text: string): AssertKind => {
    if (/\.code\b|\bcode\b/.test(text)) return 'code';
    if (/message|\.test\(|\.match\(/.test(text)) return 'message';
    return 'klass';
  };

  const classify = (arg: ts.Expression | undefined): AssertKind => {
    if (!arg) return 'bare';
    if (ts.isRegularExpressionLiteral(arg)) return 'message';
    if (ts.isObjectLiteralExpression(arg)) {
      const names = arg.properties.map((p) => (p.name && ts.isIdentifier(p.name) ? p.name.text : ''));
      if (names.includes('code')) return 'code';
      return names.includes('message') ? 'message' : 'klass';
    }
    if (ts.isArrowFunction(arg) || ts.isFunctionExpression(arg)) return judge(arg.body.getText());
    if (ts.isCallExpression(arg)) {
      // A matcher factory (`code('ERR_…')`, `isPkiError(PkiErrorCode.serial)`): judged by what its body checks.
      const decl = checker.getSymbolAtLocation(arg.expression)?.declarations?.[0];
      return decl ? judge(decl.getText()) : 'klass';
    }
    if (ts.isIdentifier(arg)) {
      // `const input = code(…)` used as the matcher: judged by its initializer.
      const decl = checker.getSymbolAtLocation(arg)?.declarations?.[0];
      if (decl && ts.isVariableDeclaration(decl) && decl.initializer) return classify(decl.initializer);
    }
    if (ts.isStringLiteral(arg) || ts.isNoSubstitutionTemplateLiteral(arg)) return 'bare'; // an assert message, not a matcher
    return 'klass';
  };

  for (const sf of program.getSourceFiles()) {
    const m = /\/(src|test)\/([a-z-]+)\//.exec(sf.fileName);
    if (!m || !rows.has(m[2]!) || sf.fileName.includes('/node_modules/')) continue;
    const row = rows.get(m[2]!)!;
    const inTest = m[1] === 'test';
    const visit = (node: ts.Node): void => {
      if (!inTest && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && /^ERR_[A-Z0-9_]+$/.test(node.text)) {
        if (isTableEntry(node) || ts.isLiteralTypeNode(node.parent)) row.declared++;
        else if (isTyped(node)) row.typed++;
        else {
          row.untyped++;
          untyped.push(`${where(node)} ${node.text}`);
        }
      }
      if (inTest && ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
        const name = node.expression.name.text;
        if ((name === 'throws' || name === 'rejects') && /(^|\.)assert$/.test(node.expression.expression.getText())) {
          const kind = classify(node.arguments[1]);
          row[kind]++;
          if (kind !== 'code') notByCode.push(`${where(node)} assert.${name} by ${kind}`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return { rows, untyped, notByCode };
}
