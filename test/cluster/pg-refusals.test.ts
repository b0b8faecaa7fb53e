/**
 * The cluster commands' refusals that come before any PostgreSQL is reached (no server needed): each names what to
 * do instead, with a stable code. A box with a store does not join unless told to set it aside (join with
 * --set-aside-store: pg-node-rows.test.ts); publisher-only and
 * subscriber-only commands on a single node; no password in the environment; a password too short; a clear
 * subscriber refusal from openState for a hand-made cluster-node.json.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { ClusterNodeErrorCode, writeClusterNode } from '../../src/store/pg/cluster-node.js';
import { openState } from '../../src/store/state.js';
import { tempDir } from '../tvs/helpers.js';
import { initAppliance } from '../../src/cluster/init.js';
import { systemClock } from '../../src/lib/clock.js';
import { sbd } from './pg-cluster.js';

test('cluster commands refuse clearly before reaching PostgreSQL', async (t) => {
  const single = tempDir(t);
  initAppliance({ dir: single, hostname: 'solo', ipv4: '127.0.0.1', clock: systemClock });
  const join = await sbd([
    'cluster',
    'join',
    '--publisher',
    '127.0.0.1:1',
    '--name',
    'b',
    '--state',
    single,
    '--pg-dir',
    `${single}/pg`,
    '--listen',
    '127.0.0.2:2',
  ]);
  assert.equal(join.code, 1);
  assert.match(
    join.err,
    /sbd\.db exists \(it holds 0 phones and \d+ users\): a subscriber serves the publisher's store and has none of its own.* --set-aside-store .*sbd cluster migrate.*\[ERR_CLUSTER_EXISTS\]/,
  );
  assert.ok(existsSync(`${single}/sbd.db`) && existsSync(`${single}/keys`), 'a refused join leaves the store where it was');
  const add = await sbd(['cluster', 'add-node', 'b', '--ip', '127.0.0.2', '--state', single]);
  assert.match(add.err, /add-node: this box is not in a cluster \(sbd cluster migrate makes a publisher\) \[ERR_CLUSTER_ROLE\]/);
  const promote = await sbd(['cluster', 'promote', '--state', single]);
  assert.match(promote.err, /\[ERR_CLUSTER_ROLE\]/);
  const status = await sbd(['cluster', 'status', '--state', single]);
  assert.match(status.err, /not in a cluster/);
  const noPassword = await sbd(['cluster', 'migrate', '--state', single, '--pg-dir', `${single}/pg`], '');
  assert.equal(noPassword.code, 2);
  assert.match(noPassword.err, /give the cluster security password in SBD_CLUSTER_PASSWORD/);
  const short = await sbd(['cluster', 'migrate', '--state', single, '--pg-dir', `${single}/pg`], 'short');
  assert.equal(short.code, 2);

  // A subscriber's state folder (as join leaves it): every store command is refused, naming the publisher.
  const sub = tempDir(t);
  writeClusterNode(sub, {
    node: 'b',
    role: 'subscriber',
    publisher: { name: 'solo', host: '127.0.0.1', port: 5432 },
    pg: { dir: `${sub}/pg`, host: '127.0.0.2', port: 5432 },
  });
  assert.throws(() => openState(sub), { code: ClusterNodeErrorCode.subscriber });
  const list = await sbd(['device', 'list', '--state', sub]);
  assert.match(list.err, /this node \(b\) is a subscriber: administrative changes are made on the publisher solo \(127\.0\.0\.1\)/);
  const addOnSub = await sbd(['cluster', 'add-node', 'c', '--ip', '127.0.0.3', '--state', sub]);
  assert.match(addOnSub.err, /add-node runs on the publisher solo \(127\.0\.0\.1\); this node \(b\) is a subscriber \[ERR_CLUSTER_ROLE\]/);
});
