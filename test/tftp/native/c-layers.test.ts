/**
 * The native data plane's C files in layers (issue 17, build item 2): every call from one tftp-*.c file to a
 * function defined in another goes to a strictly lower layer, so there is no cycle between files. Read from the
 * sources: each file's non-static function definitions and every `name(` in each file. The layer table is the one
 * native/tftp-internal.h shows; a new file must be given its place here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { graphCycle } from '../../architecture/graph-cycle.js';

const nativeDir = fileURLToPath(new URL('../../../native/', import.meta.url));

/** Top to bottom; a file may call only files of a later row. */
const layers: readonly (readonly string[])[] = [
  ['tftp-engine.c'],
  ['tftp-control.c'],
  ['tftp-requests.c'],
  ['tftp-opens.c'],
  ['tftp-transfer.c'],
  ['tftp-pool.c', 'tftp-folder.c', 'tftp-config.c'],
  ['tftp-files.c'],
  ['tftp-log.c'],
  ['tftp-net.c'],
  ['tftp-packet.c', 'tftp-options.c'],
  ['tftp-text.c'],
];

type Edge = { from: string; to: string; fn: string };

function strip(src: string): string {
  return src
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\/\/.*$/gm, ' ')
    .replace(/"(?:\\.|[^"\\\n])*"/g, '""')
    .replace(/'(?:\\.|[^'\\\n])*'/g, "''");
}

const definition = /^(static\s+)?(?:inline\s+)?[A-Za-z_][\w \t*]*?\b(\w+)\s*\([^;{]*\)\s*\{/gm;

/** Cross-file calls: `name(` in one file where name is a non-static function another file defines. */
export function crossFileCalls(sources: ReadonlyMap<string, string>): Edge[] {
  const owner = new Map<string, string>();
  const local = new Map<string, Set<string>>();
  const code = new Map<string, string>();
  for (const [file, src] of sources) {
    const s = strip(src);
    code.set(file, s);
    const statics = new Set<string>();
    for (const m of s.matchAll(definition)) {
      if (m[1]) statics.add(m[2]!);
      else owner.set(m[2]!, file);
    }
    local.set(file, statics);
  }
  const edges: Edge[] = [];
  for (const [file, s] of code) {
    const seen = new Set<string>();
    for (const m of s.matchAll(/\b(\w+)\s*\(/g)) {
      const fn = m[1]!;
      const to = owner.get(fn);
      if (!to || to === file || local.get(file)!.has(fn) || seen.has(fn)) continue;
      seen.add(fn);
      edges.push({ from: file, to, fn });
    }
  }
  return edges;
}

function layerOf(file: string): number {
  return layers.findIndex((row) => row.includes(file));
}

function upward(edges: readonly Edge[]): string[] {
  return edges.filter((e) => layerOf(e.to) <= layerOf(e.from)).map((e) => `${e.from} → ${e.to} (${e.fn})`);
}

function cycle(edges: readonly Edge[]): string[] | null {
  const next = new Map<string, Set<string>>();
  for (const e of edges) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
  return graphCycle(next);
}

function nativeSources(): Map<string, string> {
  const files = readdirSync(nativeDir)
    .filter((f) => /^tftp-.*\.c$/.test(f))
    .sort();
  return new Map(files.map((f) => [f, readFileSync(nativeDir + f, 'utf8')]));
}

test('every tftp-*.c file has a place in the layer table', () => {
  const missing = [...nativeSources().keys()].filter((f) => layerOf(f) < 0);
  assert.deepEqual(missing, []);
});

test('C files call only downward, and no cycle joins them', () => {
  const edges = crossFileCalls(nativeSources());
  // The reader sees the calls that hold the data plane together (so an empty edge list cannot pass unnoticed).
  const has = (from: string, fn: string) => edges.some((e) => e.from === from && e.fn === fn);
  assert.ok(has('tftp-engine.c', 'request_datagram') && has('tftp-transfer.c', 'pool_take') && has('tftp-net.c', 'tftp_encode_error'));
  assert.deepEqual(upward(edges), []);
  assert.equal(cycle(edges), null);
});

test('transfer lifecycle lives in tftp-transfer.c; sockets and ERROR packets in tftp-net.c; log lines in tftp-log.c', () => {
  const defined = (file: string) =>
    new Set([...strip(nativeSources().get(file)!).matchAll(definition)].filter((m) => !m[1]).map((m) => m[2]!));
  const transfer = defined('tftp-transfer.c');
  for (const fn of ['transfer_start', 'transfer_release', 'transfer_finish', 'transfer_datagram', 'transfer_socket_error'])
    assert.ok(transfer.has(fn), fn);
  const net = defined('tftp-net.c');
  for (const fn of ['udp_socket', 'send_error_to']) assert.ok(net.has(fn), fn);
  const log = defined('tftp-log.c');
  for (const fn of ['control_send_log', 'log_limited']) assert.ok(log.has(fn), fn);
});

test('the checker finds an upward call and a cycle', () => {
  const sources = new Map([
    ['tftp-pool.c', 'void pool_take(void) { transfer_start(); }\nstatic int helper(int x) { return x; }'],
    ['tftp-transfer.c', 'void transfer_start(void) { pool_take(); helper(1); }'],
  ]);
  const edges = crossFileCalls(sources);
  assert.deepEqual(upward(edges), ['tftp-pool.c → tftp-transfer.c (transfer_start)']);
  assert.deepEqual(cycle(edges), ['tftp-pool.c', 'tftp-transfer.c', 'tftp-pool.c']);
});
