/**
 * Exports in src/ that no other file imports (issue 17 item 4, "dead exports removed"):
 * `node --import tsx test/architecture/dead-exports.ts` prints `file: name` for each. Read with the TypeScript
 * parser: every exported declaration of src/, and every name imported (or re-exported, or named by an
 * `import('…').Name` type) by any file of src/, test/, bench/ and scripts/. Printed: the exports used nowhere, not
 * even in their own file (dead code); counted: those used only in their own file (public types, option tables).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { root, sourceFiles } from './imports.js';

function resolveSpec(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const p = join(from, '..', spec).replace(/\.js$/, '.ts');
  return p;
}

/** `file -> names imported from it` across the given files. */
export function importedNames(files: readonly string[]): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const use = (file: string | undefined, name: string) => {
    if (!file) return;
    (used.get(file) ?? used.set(file, new Set()).get(file)!).add(name);
  };
  for (const f of files) {
    const sf = ts.createSourceFile(f, readFileSync(join(root, f), 'utf8'), ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
    const visit = (n: ts.Node) => {
      if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
        const to = resolveSpec(f, n.moduleSpecifier.text);
        const c = n.importClause;
        if (c?.name) use(to, 'default');
        if (c?.namedBindings && ts.isNamespaceImport(c.namedBindings)) use(to, '*');
        if (c?.namedBindings && ts.isNamedImports(c.namedBindings))
          for (const e of c.namedBindings.elements) use(to, (e.propertyName ?? e.name).text);
      } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
        const to = resolveSpec(f, n.moduleSpecifier.text);
        if (!n.exportClause) use(to, '*');
        else if (ts.isNamedExports(n.exportClause)) for (const e of n.exportClause.elements) use(to, (e.propertyName ?? e.name).text);
      } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const a = n.arguments[0];
        if (a && ts.isStringLiteralLike(a)) use(resolveSpec(f, a.text), '*');
      } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
        const to = resolveSpec(f, n.argument.literal.text);
        if (n.qualifier) use(to, ts.isIdentifier(n.qualifier) ? n.qualifier.text : n.qualifier.left.getText(sf));
        else use(to, '*');
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return used;
}

/** The names a file exports by declaration (`export function f`, `export { a, b }` of local names). */
export function exportedNames(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const out: string[] = [];
  for (const s of sf.statements) {
    const exported = ts.canHaveModifiers(s) && ts.getModifiers(s)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (exported) {
      if (ts.isVariableStatement(s)) {
        for (const d of s.declarationList.declarations) if (ts.isIdentifier(d.name)) out.push(d.name.text);
      } else if ('name' in s && s.name && ts.isIdentifier(s.name as ts.Node)) out.push((s.name as ts.Identifier).text);
    } else if (ts.isExportDeclaration(s) && !s.moduleSpecifier && s.exportClause && ts.isNamedExports(s.exportClause)) {
      for (const e of s.exportClause.elements) out.push(e.name.text);
    }
  }
  return out;
}

/** Exports nobody imports; `local`: the file itself uses the name (only its `export` is dead), else the code is. */
export function deadExports(): { file: string; name: string; local: boolean }[] {
  const dirs = ['src', 'test', 'bench', 'scripts'].filter((d) => existsSync(join(root, d)));
  const used = importedNames(dirs.flatMap((d) => sourceFiles(d)));
  const dead: { file: string; name: string; local: boolean }[] = [];
  for (const f of sourceFiles('src')) {
    const u = used.get(f);
    if (u?.has('*')) continue;
    const text = readFileSync(join(root, f), 'utf8');
    for (const name of exportedNames(f)) {
      // cli/main.ts imports every cli/commands/*.ts by its file name and reads its `commands`.
      if (u?.has(name) || (name === 'commands' && f.startsWith('src/cli/commands/'))) continue;
      const uses = text.match(new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`, 'g'))?.length ?? 0;
      dead.push({ file: f, name, local: uses > 1 });
    }
  }
  return dead;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dead = deadExports();
  const unused = dead.filter((d) => !d.local);
  for (const d of unused) console.log(`${d.file}: ${d.name}`);
  console.log(
    `${unused.length} exports used nowhere (not even in their own file); ${dead.length - unused.length} more used only in their own file`,
  );
}
