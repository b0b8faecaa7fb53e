/**
 * Phones' reports in a cluster (bench/cluster at 30,000 phones): a report on the publisher is published alone (the
 * report tables, not the whole store), and a node's copy that loads only reports moves its reports counter, not its
 * generation, so its SIP directory and TFTP files (keyed by the generation) are not rebuilt at every phone's report.
 * A change an administrator makes still moves the generation everywhere. Real PostgreSQL 15.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Sql } from 'postgres';
import { ClusterPublisher } from '../../../src/daemons/clusterd.js';
import { createLogger } from '../../../src/lib/log.js';
import { publishToPg } from '../../../src/store/pg/publish.js';
import { bothEngines, PHONE, serviceStore } from './engines.js';
import { pgMissing } from './postgres.js';

const tableVersions = async (sql: Sql) =>
  new Map((await sql`SELECT name, sha256_hex FROM sbd.table_versions`).map((r) => [r.name as string, r.sha256_hex as string]));

test("a phone's report is published alone and moves a node's reports counter, not its generation", { skip: pgMissing() }, async (t) => {
  const { store } = serviceStore(t);
  const pg = await bothEngines(t, store);
  const copy = pg.copy.store;
  const generation = copy.generation();
  const generationFile = () => readFileSync(copy.generationFile!);
  const fileBefore = generationFile();
  const reportsBefore = copy.reportsGeneration();
  const versionsBefore = await tableVersions(pg.sql);

  const hash = 'cd'.repeat(32);
  store.recordDeviceItlHash(PHONE, hash, new Date().toISOString(), 'installed');
  const r = await publishToPg(store, pg.sql, { reportsOnly: true });
  assert.deepEqual(r.changed, ['device_itl_hashes']);
  const versionsAfter = await tableVersions(pg.sql);
  for (const [name, digest] of versionsBefore)
    if (name !== 'device_itl_hashes') assert.equal(versionsAfter.get(name), digest, `${name} was not rewritten`);
  assert.equal(await pg.copy.refresh(), true);
  assert.equal(copy.getDeviceItlHash(PHONE)?.sha256Hex, hash, 'the copy holds the report');
  assert.equal(copy.generation(), generation, "the copy's generation did not move");
  assert.deepEqual(generationFile(), fileBefore, "the generation file TFTP's data plane maps did not move");
  assert.ok(copy.reportsGeneration() > reportsBefore, 'the reports counter moved');

  // An administrator's change: the generation moves on the copy (and its file).
  store.updateDevice(PHONE, { description: 'moved to the lobby' });
  await pg.publish();
  assert.ok(copy.generation() > generation);
  assert.notDeepEqual(generationFile(), fileBefore);
});

test("sbd-clusterd's round: reports alone publish the report tables; a change publishes the store", { skip: pgMissing() }, async (t) => {
  const { store } = serviceStore(t);
  const pg = await bothEngines(t, store);
  const lines: string[] = [];
  const logger = createLogger('clusterd', { write: (line: string) => void lines.push(line) });
  const publisher = new ClusterPublisher(store, pg.sql, logger);
  await publisher.tick();
  assert.deepEqual([publisher.stats.publishes, publisher.stats.reportPublishes], [1, 0], 'the first round publishes the store');

  store.recordDeviceItlHash(PHONE, 'ef'.repeat(32), new Date().toISOString(), 'installed');
  await publisher.tick();
  assert.deepEqual([publisher.stats.publishes, publisher.stats.reportPublishes], [2, 1]);
  const [row] = await pg.sql`SELECT count(*)::int AS n FROM sbd.device_itl_hashes`;
  assert.equal(row?.n, 1, 'the report reached the primary');

  store.updateDevice(PHONE, { description: 'second floor' });
  await publisher.tick();
  assert.deepEqual([publisher.stats.publishes, publisher.stats.reportPublishes], [3, 1], 'a change is a whole publish');
  assert.equal(publisher.stats.errors, 0, lines.join('\n'));
});
