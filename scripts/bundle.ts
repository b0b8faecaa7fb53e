/**
 * Bundles the built CLI (dist/src, from `tsc`) into a few single-file apps for the image (issue 19 items 6-7):
 * Node resolves, reads and compiles one file instead of ~140-270 modules, which under TCG is most of a daemon's
 * start. Output in OUT: `sbd.mjs` (every command), `sbd-daemon-NAME.mjs` (only `sbd daemon NAME`, as cli/main.ts
 * loads it unbundled), `sbd-init.mjs` (the cluster commands, `sbd init` among them: first boot), `sbd-admin.mjs`
 * (the console). koffi and better-sqlite3 stay external (native addons): they
 * resolve from node_modules above OUT. Every module's `import.meta.url` becomes the URL it has in the unbundled
 * layout (APP/dist/src/...), so files found next to it (package.json, native/build/*.so) are found as today.
 *
 *   node --import tsx scripts/bundle.ts OUT [--app RELATIVE]   (RELATIVE: from OUT to the app root, default "..")
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface BundleOptions {
  /** Where the bundles go. */
  out: string;
  /** The app root (holding dist/, package.json, native/, node_modules/) relative to `out`. Default "..". */
  app?: string;
  /** The built tree to bundle. Default <repo>/dist. */
  dist?: string;
}

/** Node built-ins and the two native addons; everything else (node-forge, postgres, our code) goes in. */
const EXTERNAL = ['koffi', 'better-sqlite3'];

/** `import.meta.url` of each module of DIST, rewritten to what it is in the unbundled layout under APP. */
function unbundledUrls(dist: string, app: string): Plugin {
  return {
    name: 'unbundled-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.js$/ }, (args) => {
        if (!args.path.startsWith(dist + '/')) return undefined;
        const text = readFileSync(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return { contents: text, loader: 'js' };
        const rel = `${app}/dist/${relative(dist, args.path)}`;
        return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: 'js' };
      });
    },
  };
}

function entries(dist: string): Record<string, string> {
  const cli = join(dist, 'src/cli');
  const commands = readdirSync(join(cli, 'commands'))
    .filter((f) => f.endsWith('.js'))
    .sort();
  const dispatch = (files: string[]) =>
    [
      `import { runMain } from ${JSON.stringify(join(cli, 'main.js'))};`,
      ...files.map((f, i) => `import * as c${i} from ${JSON.stringify(join(cli, 'commands', f))};`),
      `runMain([${files.map((_, i) => `...(c${i}.commands ?? [])`).join(', ')}]);`,
    ].join('\n');
  const out: Record<string, string> = { sbd: dispatch(commands) };
  for (const f of commands.filter((c) => c.startsWith('daemon-'))) out[`sbd-${f.replace(/\.js$/, '')}`] = dispatch([f]);
  // `sbd init` (first boot, on the way to the first ITL): the cluster command group only, half of sbd.mjs to parse.
  out['sbd-init'] = dispatch(['cluster.js']);
  out['sbd-admin'] = `import { runAdminMain } from ${JSON.stringify(join(dist, 'src/admin/main.js'))};\nrunAdminMain();`;
  return out;
}

export interface Bundled {
  file: string;
  /** What the bundle still imports at run time (esbuild's metafile): built-ins and the native addons. */
  external: string[];
}

export async function bundle(options: BundleOptions): Promise<Bundled[]> {
  const dist = resolve(options.dist ?? join(repo, 'dist'));
  const app = options.app ?? '..';
  const written: Bundled[] = [];
  for (const [name, source] of Object.entries(entries(dist))) {
    const outfile = join(options.out, `${name}.mjs`);
    const r = await build({
      stdin: { contents: source, resolveDir: dist, sourcefile: `${name}-entry.js`, loader: 'js' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      external: EXTERNAL,
      // CommonJS inside an ESM bundle (node-forge) calls require() for Node's built-ins: give it one.
      banner: {
        js: "import { createRequire as __sbdCreateRequire } from 'node:module'; const require = __sbdCreateRequire(import.meta.url);",
      },
      // Whitespace and syntax only: names stay (stack traces, error classes), and V8 keeps less source text.
      minifyWhitespace: true,
      minifySyntax: true,
      keepNames: true,
      legalComments: 'none',
      logLevel: 'warning',
      plugins: [unbundledUrls(dist, app)],
      metafile: true,
    });
    const external = Object.values(r.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
    written.push({ file: outfile, external: [...new Set(external)].sort() });
  }
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const out = args[0];
  if (!out || out.startsWith('--')) {
    process.stderr.write('usage: bundle.ts OUT [--app RELATIVE] [--dist DIR]\n');
    process.exit(2);
  }
  const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const files = await bundle({ out, app: opt('--app'), dist: opt('--dist') });
  process.stdout.write(`bundle: ${files.map((f) => relative(process.cwd(), f.file)).join(' ')}\n`);
}
