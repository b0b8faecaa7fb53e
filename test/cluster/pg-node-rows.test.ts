/**
 * Row-level security on the primary's node-local tables (issue 21, store/pg/replication-members.ts
 * NODE_ROW_POLICIES): a publisher (sbd cluster migrate) and sub1 joined by the commands; then, on the primary as
 * sub1's own role over verify-ca TLS (the `SBD_PRIMARY_URL` of `sbd cluster env`, through connectPg as the daemons
 * use it): sub1 reads every node's rows, writes rows in its own name, and cannot write or erase a row in another
 * node's name — neither with plain SQL nor through the daemons' PgNodeWriter (a writer configured with another
 * node's name has its whole flush refused and keeps the rows queued). A phone that moved from pub to sub1 is taken
 * over by sub1's report (the row then names sub1). sub1's box had a first-boot store: `join --set-aside-store`
 * moved it and its keys into pre-join-<time>/ (0700, intact) once the publisher admitted the node.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeEnvironment } from '../../src/cluster/membership-env.js';
import { readClusterNode } from '../../src/store/pg/cluster-node.js';
import { connectPg } from '../../src/store/pg/connect.js';
import { PgNodeWriter } from '../../src/store/pg/node-writes.js';
import { connectLocalAdmin } from '../../src/store/pg/replication-connect.js';
import { openStore } from '../../src/store/index.js';
import { stateLayout } from '../../src/store/state.js';
import { joinNode, pgMissing, startClusterd, startPublisher } from './pg-cluster.js';

const AT = '2026-12-06T00:00:00Z';
const RLS = { code: '42501', message: /row-level security/ };

test("a node's role writes only its own node-local rows on the primary", { skip: pgMissing() }, async (t) => {
  const pub = await startPublisher(t);
  startClusterd(t, pub);
  // sub1's box had run its first boot (`sbd init`): join sets that store and its keys aside once admitted.
  const sub1 = await joinNode(t, pub, 'sub1', '127.0.0.2', { firstBoot: true });
  const [aside] = readdirSync(sub1.state).filter((f) => f.startsWith('pre-join-'));
  assert.ok(aside, "the first boot's store was set aside");
  assert.ok(existsSync(join(sub1.state, aside, 'sbd.db')) && existsSync(join(sub1.state, aside, 'keys')));
  assert.equal(statSync(join(sub1.state, aside)).mode & 0o777, 0o700);
  assert.ok(!existsSync(join(sub1.state, 'sbd.db')), 'a subscriber has no store of its own');
  assert.equal(readClusterNode(sub1.state)?.role, 'subscriber');
  const firstBootStore = openStore(join(sub1.state, aside, 'sbd.db'), { create: false, readonly: true });
  assert.equal(firstBootStore.listNodes()[0]?.name, 'sub1', 'the set-aside store is intact');
  firstBootStore.close();
  const admin = connectLocalAdmin(readClusterNode(pub.state)!, stateLayout(pub.state).keysDir);
  t.after(() => admin.end({ timeout: 1 }));
  const node = connectPg(nodeEnvironment(sub1.state).SBD_PRIMARY_URL!, { max: 1 });
  t.after(() => node.end({ timeout: 1 }));

  // The publisher's own rows (its daemons' reports, written here by the superuser).
  await admin`INSERT INTO sbd.node_served_trust_files (server, file, sha256_hex, sha1_hex, md5_hex, bytes, at)
    VALUES ('pub', 'ITLFile.tlv', 'aa', 'aa', 'aa', '\\x01', ${AT})`;
  for (const device of ['SEP0000000000A1', 'SEP0000000000A2', 'SEP0000000000A3']) {
    await admin`INSERT INTO sbd.node_device_itl_hashes (device, node, sha256_hex, at) VALUES (${device}, 'pub', 'aa', ${AT})`;
    await admin`INSERT INTO sbd.node_device_trust_reports (device, node, itl_signature, at) VALUES (${device}, 'pub', 'aa', ${AT})`;
  }

  // Reads: every node's rows (each node's copy lays them all over the published ones).
  const [seen] = await node`SELECT count(*)::int AS n FROM sbd.node_device_itl_hashes WHERE node = 'pub'`;
  assert.equal(seen?.n, 3);

  // Its own rows: yes.
  await node`INSERT INTO sbd.node_served_trust_files (server, file, sha256_hex, sha1_hex, md5_hex, bytes, at)
    VALUES ('sub1', 'ITLFile.tlv', 'bb', 'bb', 'bb', '\\x02', ${AT})`;
  await node`UPDATE sbd.node_served_trust_files SET sha256_hex = 'cc' WHERE server = 'sub1'`;
  await node`INSERT INTO sbd.node_device_itl_hashes (device, node, sha256_hex, at) VALUES ('SEP0000000000B1', 'sub1', 'bb', ${AT})`;

  // Another node's name: refused on insert, on update (of its own row or of another's), for every table.
  await assert.rejects(
    node`INSERT INTO sbd.node_served_trust_files (server, file, sha256_hex, sha1_hex, md5_hex, bytes, at)
      VALUES ('pub', 'CTLFile.tlv', 'bb', 'bb', 'bb', '\\x02', ${AT})`,
    RLS,
  );
  await assert.rejects(
    node`INSERT INTO sbd.node_device_itl_hashes (device, node, sha256_hex, at) VALUES ('SEP0000000000B2', 'pub', 'bb', ${AT})`,
    RLS,
  );
  await assert.rejects(
    node`INSERT INTO sbd.node_device_trust_reports (device, node, itl_signature, at) VALUES ('SEP0000000000B2', 'sub2', 'bb', ${AT})`,
    RLS,
  );
  await assert.rejects(node`UPDATE sbd.node_device_itl_hashes SET node = 'pub' WHERE device = 'SEP0000000000B1'`, RLS);
  await assert.rejects(
    node`UPDATE sbd.node_device_itl_hashes SET sha256_hex = 'ff' WHERE device = 'SEP0000000000A1'`,
    RLS,
    'a row it takes over must name it',
  );
  await assert.rejects(node`UPDATE sbd.node_device_trust_reports SET itl_signature = 'ff' WHERE device = 'SEP0000000000A1'`, RLS);

  // Another node's served files and reports cannot be changed or erased: those statements match no row.
  assert.equal((await node`UPDATE sbd.node_served_trust_files SET sha256_hex = 'ff', server = 'sub1' WHERE server = 'pub'`).count, 0);
  assert.equal((await node`DELETE FROM sbd.node_served_trust_files WHERE server = 'pub'`).count, 0);
  assert.equal((await node`DELETE FROM sbd.node_device_itl_hashes WHERE device = 'SEP0000000000A1'`).count, 0);
  assert.equal((await node`DELETE FROM sbd.node_device_trust_reports`).count, 0);
  const [pubFile] = await admin`SELECT sha256_hex FROM sbd.node_served_trust_files WHERE server = 'pub'`;
  assert.equal(pubFile?.sha256_hex, 'aa');
  const [kept] = await admin`SELECT count(*)::int AS n FROM sbd.node_device_itl_hashes WHERE node = 'pub'`;
  assert.equal(kept?.n, 3);

  // The daemons' writer as sub1: a phone that moved from pub to sub1 is taken over (its row now names sub1); a
  // phone forgotten on sub1 that pub reported stays pub's.
  const writer = new PgNodeWriter(node, { node: 'sub1', flushIntervalMs: 3_600_000 });
  writer.deviceItlHash('SEP0000000000A2', { device: 'SEP0000000000A2', sha256Hex: 'dd', at: AT, status: null });
  writer.deviceTrustReport({
    device: 'SEP0000000000A2',
    itlSignature: 'dd',
    itlTftpServer: 'sub1',
    ctlSignature: null,
    ctlTftpServer: null,
    at: AT,
  });
  writer.deviceItlHash('SEP0000000000A3', null);
  assert.equal(await writer.flush(), 3);
  const rows =
    await admin`SELECT device, node, sha256_hex FROM sbd.node_device_itl_hashes WHERE device IN ('SEP0000000000A2', 'SEP0000000000A3') ORDER BY device`;
  assert.deepEqual(
    rows.map((r) => [r.device, r.node, r.sha256_hex]),
    [
      ['SEP0000000000A2', 'sub1', 'dd'],
      ['SEP0000000000A3', 'pub', 'aa'],
    ],
  );
  const [report] = await admin`SELECT node FROM sbd.node_device_trust_reports WHERE device = 'SEP0000000000A2'`;
  assert.equal(report?.node, 'sub1');

  // A writer configured with another node's name: the flush is refused as a whole and its rows stay queued.
  const impostor = new PgNodeWriter(node, { node: 'pub', flushIntervalMs: 3_600_000 });
  impostor.servedTrustFile('ITLFile.tlv', {
    server: 'pub',
    file: 'ITLFile.tlv',
    sha256Hex: 'ee',
    sha1Hex: 'ee',
    md5Hex: 'ee',
    bytes: Buffer.from([3]),
    at: AT,
  });
  assert.equal(await impostor.flush(), 0);
  assert.equal(impostor.stats.errors, 1);
  assert.equal((impostor.lastError as { code?: string }).code, '42501');
  assert.equal(impostor.pending, 1);
  const [still] = await admin`SELECT sha256_hex FROM sbd.node_served_trust_files WHERE server = 'pub'`;
  assert.equal(still?.sha256_hex, 'aa');
});
