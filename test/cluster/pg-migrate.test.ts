/**
 * Issue 21 item 7 with a real PostgreSQL 15: `sbd cluster migrate` turns a single-node store (a regenerated
 * certificate with its history, a trusted import, a stored parameter) into the publisher in one command (initdb,
 * settings, schema, publish, node marked publisher); PostgreSQL then holds what SQLite holds; running it again keeps
 * the data folder and publishes again. import.ts (promotion's rebuild) gives the same nodes, certificates and
 * parameters and devices back (promotion's rebuild of the store of record). Backup/restore: the encrypted backup of the publisher's SQLite store (the store of record, with
 * the cluster secret among the keys) restored, and sbd-clusterd's next round puts the restored state in PostgreSQL.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { initAppliance } from '../../src/cluster/init.js';
import { ClusterPublisher } from '../../src/daemons/clusterd.js';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import { generateIdentity } from '../../src/pki/profiles.js';
import { openStore } from '../../src/store/index.js';
import { readClusterNode } from '../../src/store/pg/cluster-node.js';
import { importFromPg } from '../../src/store/pg/import.js';
import { connectLocalAdmin } from '../../src/store/pg/replication-connect.js';
import { pgLayout, stopServer } from '../../src/store/pg/replication-server.js';
import { openState, stateLayout } from '../../src/store/state.js';
import { freePort, pgMissing, sbd, sbdOk } from './pg-cluster.js';

test('sbd cluster migrate: a single-node store becomes the publisher; import gives it back; backup/restore', {
  skip: pgMissing(),
}, async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'sbd-cl-migrate-'));
  chmodSync(root, 0o755);
  const state = path.join(root, 'state');
  const pgDir = path.join(root, 'pg');
  t.after(() => {
    if (existsSync(path.join(pgDir, 'data'))) stopServer(pgLayout(pgDir), 'immediate');
    rmSync(root, { recursive: true, force: true });
  });
  initAppliance({ dir: state, hostname: 'solo', nodeName: 'solo', ipv4: '127.0.0.1', clock: systemClock });
  await sbdOk(['cert', 'regen', 'TVS', '--state', state]);
  await sbdOk(['param', 'set', 'ServerNames', 'solo=127.0.0.1', '--state', state]);
  await sbdOk(['device', 'add', 'SEP001122334455', '--model', 'CP-8845', '--state', state]);
  const imported = generateIdentity({ name: 'tomcat', hostname: 'other', ipv4: '127.0.0.9', now: new Date() });
  {
    const { store } = openState(state);
    store.addTrustedCertificate({ name: 'tomcat-trust', node: null, pem: imported.certPem });
    store.close();
  }

  const refusedWeak = await sbd(['cluster', 'migrate', '--state', state, '--pg-dir', pgDir], 'short');
  assert.match(refusedWeak.err, /at least 8 characters/);
  const port = await freePort('127.0.0.1');
  const out = await sbdOk(['cluster', 'migrate', '--state', state, '--pg-dir', pgDir, '--listen', `127.0.0.1:${port}`]);
  assert.match(out, /^solo is the publisher \(new PostgreSQL data folder\)$/m);
  assert.match(out, /published 1 nodes, 7 certificates, 1 parameters; generation 1/);
  assert.deepEqual(readClusterNode(state), {
    node: 'solo',
    role: 'publisher',
    publisher: { name: 'solo', host: '127.0.0.1', port },
    pg: { dir: pgDir, host: '127.0.0.1', port },
  });
  assert.match(readFileSync(path.join(pgLayout(pgDir).data, 'postgresql.conf'), 'utf8'), /^ssl = on$/m);
  const certBefore = readFileSync(pgLayout(pgDir).cert, 'utf8');
  const again = await sbdOk(['cluster', 'migrate', '--state', state, '--pg-dir', pgDir, '--listen', `127.0.0.1:${port}`]);
  assert.match(again, /^solo is the publisher$/m, 'the second run keeps the data folder');
  assert.match(again, /generation 2/);
  assert.equal(readFileSync(pgLayout(pgDir).cert, 'utf8'), certBefore, 'the server key is kept (subscribers verify against it)');

  const sql = connectLocalAdmin(readClusterNode(state)!, stateLayout(state).keysDir);
  t.after(() => sql.end({ timeout: 1 }));
  const [ssl] = await sql`SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`;
  assert.equal(ssl?.ssl, false, 'the local admin connection is loopback without TLS (members need TLS: pg-membership)');

  // PostgreSQL holds what SQLite holds, and import.ts gives it back.
  const { store } = openState(state, { readonly: true });
  const importedPath = path.join(root, 'imported.db');
  const r = await importFromPg(sql, importedPath, { publisher: 'solo' });
  assert.deepEqual([r.nodes, r.certificates, r.params, r.devices], [1, 7, 1, 1]);
  await assert.rejects(
    importFromPg(sql, importedPath, { publisher: 'solo' }),
    { code: 'ERR_PG_SCHEMA' },
    'import never overwrites a store',
  );
  const copy = openStore(importedPath);
  try {
    const key = (s: typeof store) =>
      s
        .listCertificates({ includeHistory: true })
        .map((c) => `${c.name}/${c.node}/${c.current}/${c.sha256Hex}/${c.keyFile}`)
        .sort();
    assert.deepEqual(key(copy), key(store));
    assert.deepEqual(
      copy.listNodes().map((n) => [n.name, n.isPublisher, n.services]),
      store.listNodes().map((n) => [n.name, n.isPublisher, n.services]),
    );
    assert.equal(copy.getParam('ServerNames'), 'solo=127.0.0.1');
    assert.deepEqual(
      copy.listDevices().map((d) => [d.name, d.model, d.securityProfile]),
      store.listDevices().map((d) => [d.name, d.model, d.securityProfile]),
      'the device comes back too',
    );
  } finally {
    copy.close();
    store.close();
  }

  // Backup, a change, restore: the next sbd-clusterd round publishes the restored state.
  const file = path.join(root, 'backup.sbdbak');
  process.env.SBD_BACKUP_PASSPHRASE = 'backup passphrase for the test';
  t.after(() => {
    delete process.env.SBD_BACKUP_PASSPHRASE;
  });
  await sbdOk(['backup', 'create', file, '--state', state]);
  await sbdOk(['param', 'set', 'ServerNames', 'solo=127.0.0.5', '--state', state]);
  await sbdOk(['backup', 'restore', file, '--state', state]);
  assert.ok(existsSync(path.join(state, 'cluster-node.json')), 'the cluster file stays across a restore');
  const restored = openState(state);
  t.after(() => restored.store.close());
  const publisher = new ClusterPublisher(restored.store, sql, silentLogger);
  await publisher.tick();
  assert.equal(publisher.stats.publishes, 1);
  const [p] = await sql`SELECT value FROM sbd.params WHERE name = 'ServerNames'`;
  assert.equal(p?.value, 'solo=127.0.0.1');
  await publisher.tick();
  assert.equal(publisher.stats.publishes, 1, 'no change, no publish');
});
