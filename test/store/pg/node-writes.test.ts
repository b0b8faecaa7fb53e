/**
 * The bounded queue of node-local writes (store/pg/node-writes.ts) against a real PostgreSQL 15: rows of one key
 * coalesce; beyond `maxQueued` the oldest is dropped and logged; while the primary is down a flush writes nothing,
 * keeps the rows and counts the error; a row older than `maxAgeMs` is dropped with a log line, a younger one stays.
 * Time is a clock the test moves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../../src/lib/log.js';
import { applyPgSchema } from '../../../src/store/pg/schema.js';
import { PgNodeWriter } from '../../../src/store/pg/node-writes.js';
import { pgMissing, startPostgres } from './postgres.js';

const itl = (device: string, hash: string, at: string) => ({ device, sha256Hex: hash, at, status: 'installed' });

test('node-local writes: coalesced, bounded, kept while the primary is down, dropped when too old', { skip: pgMissing() }, async (t) => {
  const server = await startPostgres(t);
  const sql = server.connect();
  await applyPgSchema(sql);
  let now = 0;
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('test', { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const writes = new PgNodeWriter(sql, {
    node: 'sub1',
    maxQueued: 3,
    maxAgeMs: 60_000,
    flushIntervalMs: 3_600_000,
    logger,
    now: () => now,
  });
  t.after(() => writes.close());

  writes.deviceItlHash('SEP000000000001', itl('SEP000000000001', 'a1'.repeat(32), '2026-01-01T00:00:00.000Z'));
  writes.deviceItlHash('SEP000000000001', itl('SEP000000000001', 'a2'.repeat(32), '2026-01-01T00:00:01.000Z'));
  assert.equal(writes.pending, 1, 'one key, one row');
  for (const n of [2, 3, 4])
    writes.deviceItlHash(`SEP00000000000${n}`, itl(`SEP00000000000${n}`, 'b0'.repeat(32), '2026-01-01T00:00:02.000Z'));
  assert.equal(writes.pending, 3);
  assert.equal(writes.stats.dropped, 1, 'the oldest key went');
  assert.equal(lines.filter((l) => l.event === 'node-write-dropped').length, 1);
  assert.equal(await writes.flush(), 3);
  const rows = await sql`SELECT device, node FROM sbd.node_device_itl_hashes ORDER BY device`;
  assert.deepEqual(
    rows.map((r) => `${r.device} ${r.node}`),
    ['SEP000000000002 sub1', 'SEP000000000003 sub1', 'SEP000000000004 sub1'],
  );

  // The primary goes away: rows wait, the error is counted.
  writes.deviceItlHash('SEP000000000005', itl('SEP000000000005', 'c0'.repeat(32), '2026-01-01T00:00:03.000Z'));
  now = 30_000;
  writes.deviceItlHash('SEP000000000006', itl('SEP000000000006', 'c1'.repeat(32), '2026-01-01T00:00:04.000Z'));
  server.stop();
  assert.equal(await writes.flush(), 0);
  assert.equal(writes.stats.errors, 1);
  assert.equal(writes.pending, 2, 'kept for the next flush');
  // Past maxAgeMs for the first of them: dropped with a line; the younger one stays.
  now = 61_000;
  assert.equal(await writes.flush(), 0);
  assert.equal(writes.pending, 1);
  assert.equal(writes.stats.dropped, 2);
  assert.match(String(lines.at(-1)?.why), /not written within 60000 ms/);
});
