/**
 * Issue 21 item 6 with real servers: a publisher and two subscribers (made by the commands, as in
 * pg-membership.test.ts). Promotion is refused while the publisher answers; the publisher's PostgreSQL then dies
 * (immediate stop) and `utils cluster promote` on sub1's console makes it the primary with a SQLite store of record rebuilt from
 * PostgreSQL (its own keys usable, the nodes and parameters as published); administrative writes work there
 * again; `sbd cluster repoint` on sub2 makes it stream from sub1 over TLS, and a change made on sub1 (published by
 * sbd-clusterd now running on sub1) reaches sub2.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { adminTable } from '../../src/admin/commands.js';
import { ClusterNodeErrorCode, nodeRoleName, readClusterNode } from '../../src/store/pg/cluster-node.js';
import { connectLocalAdmin } from '../../src/store/pg/replication-connect.js';
import { pgLayout, stopServer } from '../../src/store/pg/replication-server.js';
import { openState, stateLayout } from '../../src/store/state.js';
import { joinNode, pgMissing, sbd, sbdOk, startClusterd, startPublisher, waitFor } from './pg-cluster.js';

function admin(t: { after: (fn: () => Promise<void>) => void }, state: string) {
  const sql = connectLocalAdmin(readClusterNode(state)!, stateLayout(state).keysDir);
  t.after(() => sql.end({ timeout: 1 }));
  return sql;
}

test('the publisher dies; promote a subscriber, writes work again, the other subscriber follows it', { skip: pgMissing() }, async (t) => {
  const pub = await startPublisher(t);
  const clusterd = startClusterd(t, pub);
  const sub1 = await joinNode(t, pub, 'sub1', '127.0.0.2');
  const sub2 = await joinNode(t, pub, 'sub2', '127.0.0.3');
  await sbdOk(['param', 'set', 'ServerNames', 'pub=127.0.0.1', '--state', pub.state]);
  const primary = admin(t, pub.state);
  await waitFor('both standbys replayed everything', async () => {
    const [g] = await primary`SELECT value FROM sbd.meta WHERE key = 'generation'`;
    const [p] = await primary`SELECT 1 AS one FROM sbd.params WHERE name = 'ServerNames'`;
    const rows = await primary`SELECT 1 FROM pg_stat_replication WHERE replay_lsn = pg_current_wal_lsn()`;
    return p && Number(g?.value) > 0 && rows.length === 2 ? true : undefined;
  });

  const early = await sbd(['cluster', 'promote', '--state', sub1.state]);
  assert.equal(early.code, 1);
  assert.match(early.err, /the publisher pub \(127\.0\.0\.1:\d+\) still answers.*\[ERR_CLUSTER_PUBLISHER_ALIVE\]/);

  // The publisher is gone.
  clusterd.kill('SIGTERM');
  await primary.end({ timeout: 1 });
  stopServer(pgLayout(pub.pgDir), 'immediate');
  const still = await sbd(['param', 'set', 'ServerNames', 'x', '--state', sub1.state]);
  assert.match(still.err, /\[ERR_CLUSTER_SUBSCRIBER\]/, 'before promotion sub1 refuses writes');

  // Promotion from the console (the CLI's `sbd cluster promote` runs the same function; refused above).
  const shell = adminTable({
    privilege: {
      canRaise: false,
      asRoot: () => {
        throw new Error('no root');
      },
    },
    stateDir: sub1.state,
    firstBoot: () => undefined,
  });
  const promote = shell.find(['utils', 'cluster', 'promote'])!;
  const lines: string[] = [];
  const asked: string[] = [];
  const io = { out: (l: string) => lines.push(l), confirm: async (q: string) => (asked.push(q), true), secret: async () => '' };
  await promote.command.run(promote.args, io);
  const promoted = lines.join('\n');
  t.diagnostic(promoted);
  assert.match(asked[0]!, /Make this node the publisher\?/);
  assert.match(promoted, /sub1 is the publisher \(was pub\); store rebuilt: 3 nodes, \d+ certificates, 1 parameters/);
  assert.match(promoted, new RegExp(`slots: ${nodeRoleName('sub2')}`));
  assert.equal(readClusterNode(sub1.state)?.role, 'publisher');
  const s1 = admin(t, sub1.state);
  const [rec] = await s1`SELECT pg_is_in_recovery() AS standby`;
  assert.equal(rec?.standby, false);

  // The store of record, rebuilt: sub1 is the publisher, its own keys are on this node, the parameter is there.
  const { store } = openState(sub1.state, { readonly: true });
  try {
    assert.deepEqual(
      store.listNodes().map((n) => [n.name, n.isPublisher]),
      [
        ['sub1', true],
        ['pub', false],
        ['sub2', false],
      ],
    );
    const cm = store.currentCertificate('CallManager', 'sub1')!;
    assert.ok(cm.keyFile && existsSync(cm.keyFile), "sub1's CallManager key is on sub1");
    assert.equal(store.getParam('ServerNames'), 'pub=127.0.0.1');
    assert.ok(store.currentCertificate('ITLRecovery', null), 'the cluster ITLRecovery certificate is kept (its key stayed on pub)');
  } finally {
    store.close();
  }

  // Writes work again on the promoted node.
  await sbdOk(['param', 'set', 'ServerNames', 'sub1=127.0.0.2', '--state', sub1.state]);
  startClusterd(t, sub1);

  // The other subscriber follows the new publisher, over TLS, and sees the change made there.
  const repointed = await sbdOk(['cluster', 'repoint', '--publisher', `127.0.0.2:${sub1.port}`, '--state', sub2.state]);
  assert.match(repointed, /following sub1 \(3 node certificates trusted\)/);
  const follower = await waitFor('sub2 streaming from sub1', async () => {
    const [r] = await s1`
      SELECT r.usename, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s ON s.pid = r.pid WHERE r.state = 'streaming'`;
    return r;
  });
  assert.deepEqual([follower.usename, follower.ssl], [nodeRoleName('sub2'), true]);
  const s2 = admin(t, sub2.state);
  await waitFor('the change made on sub1 reaches sub2', async () => {
    const [p] = await s2`SELECT value FROM sbd.params WHERE name = 'ServerNames'`;
    return p?.value === 'sub1=127.0.0.2' ? true : undefined;
  });
  const status = await sbdOk(['cluster', 'status', '--state', sub1.state]);
  t.diagnostic(status);
  assert.match(status, /^sub1 \* +publisher +127\.0\.0\.2 +primary/m);
  assert.match(status, /^sub2 +subscriber +127\.0\.0\.3 +streaming \(TLS\)/m);
  const refusedOnSub2 = await sbd(['param', 'set', 'ServerNames', 'y', '--state', sub2.state]);
  assert.match(refusedOnSub2.err, /administrative changes are made on the publisher sub1 \(127\.0\.0\.2\)/);
  assert.equal(ClusterNodeErrorCode.subscriber, 'ERR_CLUSTER_SUBSCRIBER');
});
