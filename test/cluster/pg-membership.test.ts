/**
 * Issue 21 item 3 with real PostgreSQL 15 servers made by the commands: a publisher (sbd cluster migrate, the real
 * sbd-clusterd running) and two subscribers joined by add-node + join, each on its own loopback alias. Proves:
 * both stream over TLS (pg_stat_ssl on the primary) and a node role cannot connect without TLS; each subscriber's
 * CallManager and TVS certificates reached the store through the publisher, with their keys only on that node;
 * a box never added is refused; status shows role, replication and lag on the publisher and on a subscriber; admin
 * writes on a subscriber are refused naming the publisher (CLI and console); a change on the publisher reaches a
 * standby (the time is printed); the publisher's backup and restore work with subscribers' keys elsewhere (and
 * name sbd-clusterd to restart); remove-node ends the node's replication, drops its slot, role and hba line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import postgres from 'postgres';
import { adminTable } from '../../src/admin/commands.js';
import { readClusterNode, ClusterNodeErrorCode, nodeRoleName } from '../../src/store/pg/cluster-node.js';
import { connectLocalAdmin } from '../../src/store/pg/replication-connect.js';
import { pgLayout } from '../../src/store/pg/replication-server.js';
import { PHONE_SECRET_KEY_FILE } from '../../src/credentials/phone-secret.js';
import { stateLayout } from '../../src/store/state.js';
import { joinNode, pgMissing, sbd, sbdOk, startClusterd, startPublisher, waitFor } from './pg-cluster.js';

function admin(t: { after: (fn: () => Promise<void>) => void }, state: string) {
  const sql = connectLocalAdmin(readClusterNode(state)!, stateLayout(state).keysDir);
  t.after(() => sql.end({ timeout: 1 }));
  return sql;
}

test('publisher + two subscribers joined by the commands, over TLS; status, refusal, remove-node', { skip: pgMissing() }, async (t) => {
  const pub = await startPublisher(t);
  startClusterd(t, pub);
  const sub1 = await joinNode(t, pub, 'sub1', '127.0.0.2');
  const sub2 = await joinNode(t, pub, 'sub2', '127.0.0.3');
  const primary = admin(t, pub.state);

  // Streaming replication over TLS, one walsender per subscriber, each as its own role.
  const senders = await waitFor('two streaming standbys', async () => {
    const rows = await primary`
      SELECT r.usename, r.state, s.ssl, s.version FROM pg_stat_replication r JOIN pg_stat_ssl s ON s.pid = r.pid
      WHERE r.state = 'streaming' ORDER BY r.usename`;
    return rows.length === 2 ? rows : undefined;
  });
  assert.deepEqual(
    senders.map((r) => [r.usename, r.ssl]),
    [
      [nodeRoleName('sub1'), true],
      [nodeRoleName('sub2'), true],
    ],
  );
  t.diagnostic(`replication TLS: ${senders.map((r) => r.version).join(', ')}`);
  const clear = postgres({
    host: '127.0.0.1',
    port: pub.port,
    user: nodeRoleName('sub1'),
    password: 'x',
    database: 'postgres',
    ssl: false,
    max: 1,
    connect_timeout: 5,
  });
  // 28000 invalid_authorization_specification: no pg_hba.conf line admits it (node roles are hostssl only).
  await assert.rejects(clear`SELECT 1`, { code: '28000' }, 'a node role without TLS is refused');
  await clear.end({ timeout: 1 });

  // Each subscriber's own certificates came back through the publisher; the keys exist on that node only.
  const standby1 = admin(t, sub1.state);
  const certs = await standby1`
    SELECT n.name AS node, c.name, c.key_file FROM sbd.certificates c JOIN sbd.nodes n ON n.id = c.node_id
    WHERE c.current AND n.name IN ('sub1', 'sub2') AND c.name IN ('CallManager', 'TVS') ORDER BY 1, 2`;
  assert.deepEqual(
    certs.map((c) => `${c.node}/${c.name}`),
    ['sub1/CallManager', 'sub1/TVS', 'sub2/CallManager', 'sub2/TVS'],
  );
  for (const c of certs) {
    const own = c.node === 'sub1' ? sub1 : sub2;
    assert.ok((c.key_file as string).startsWith(stateLayout(own.state).keysDir), 'the key path is on the node that made it');
    assert.ok(existsSync(c.key_file as string), 'and the key is there');
    assert.ok(!existsSync(c.key_file.replace(stateLayout(own.state).dir, stateLayout(pub.state).dir)));
  }
  assert.ok(!readFileSync(`${pgLayout(sub1.pgDir).data}/postgresql.auto.conf`, 'utf8').includes('sslmode=disable'));

  // The publisher's phone-password key came with the join (wrapped under the cluster secret in sbd.cluster_keys,
  // membership-keys.ts): a subscriber's TFTP delivers the same stored digest passwords. The row never holds it clear.
  const phoneKey = (state: string) => readFileSync(`${stateLayout(state).keysDir}/${PHONE_SECRET_KEY_FILE}`);
  for (const s of [sub1, sub2]) {
    assert.deepEqual(phoneKey(s.state), phoneKey(pub.state), `${s.name} holds the publisher's phone-password key`);
    assert.equal(statSync(`${stateLayout(s.state).keysDir}/${PHONE_SECRET_KEY_FILE}`).mode & 0o077, 0, 'not readable by others');
  }
  const [wrapped] = await primary`SELECT wrapped FROM sbd.cluster_keys WHERE name = 'sip-phone'`;
  assert.ok(wrapped, 'the wrapped key is on record');
  assert.ok(!(wrapped.wrapped as Buffer).includes(Buffer.from(phoneKey(pub.state).toString().trim(), 'hex')));

  // The daemons' environment: sbd_reader reads the node's own server and may not write; the node-local write path
  // to the primary works as the node's role over verified TLS, through connectPg as the daemons use it (a process).
  const envFile = `${sub1.state}.env`;
  assert.match(await sbdOk(['cluster', 'env', '--state', sub1.state, '--out', envFile]), /SBD_STORE_URL, PGPASSWORD, SBD_PRIMARY_URL/);
  assert.equal(statSync(envFile).mode & 0o777, 0o600);
  const env = Object.fromEntries(
    readFileSync(envFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;
  // The image's units pass these words to sbd-tftpd/sbd-sipd (both) and sbd-tvsd (the store's only).
  assert.equal(env.SBD_CLUSTER_STORE_ARGS, `--store-url ${env.SBD_STORE_URL} --node sub1`);
  assert.equal(env.SBD_CLUSTER_PRIMARY_ARGS, `--primary-url ${env.SBD_PRIMARY_URL}`);
  const reader = postgres(env.SBD_STORE_URL!, { password: env.PGPASSWORD!, max: 1, onnotice: () => {} });
  const [n] = await reader`SELECT count(*)::int AS n FROM sbd.certificates`;
  assert.ok((n?.n as number) > 0, 'the reader reads its standby');
  await reader.end({ timeout: 1 });
  const readerOnPrimary = postgres(env.SBD_STORE_URL!.replace(`:${sub1.port}/`, `:${pub.port}/`), { password: env.PGPASSWORD!, max: 1 });
  await assert.rejects(readerOnPrimary`INSERT INTO sbd.params (name, value) VALUES ('x', 'y')`, { code: '42501' }, 'SELECT only');
  await readerOnPrimary.end({ timeout: 1 });
  const script = `import { connectPg } from './src/store/pg/connect.ts';
    const sql = connectPg(process.env.SBD_PRIMARY_URL, { max: 1 });
    await sql\`INSERT INTO sbd.node_device_itl_hashes (device, node, sha256_hex, at) VALUES ('SEP0000000000AA', 'sub1', 'ab', '2026-01-01T00:00:00Z')\`;
    const [r] = await sql\`SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()\`;
    console.log(JSON.stringify(r)); await sql.end();`;
  const wrote = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  assert.deepEqual(JSON.parse(wrote), { ssl: true });
  const [row] = await primary`SELECT node FROM sbd.node_device_itl_hashes WHERE device = 'SEP0000000000AA'`;
  assert.equal(row?.node, 'sub1');

  // A box the publisher was not told about is refused.
  const stranger = await sbd([
    'cluster',
    'join',
    '--publisher',
    `127.0.0.1:${pub.port}`,
    '--name',
    'sub9',
    '--state',
    `${sub1.state}-9`,
    '--pg-dir',
    `${sub1.pgDir}-9`,
    '--listen',
    '127.0.0.4:5999',
  ]);
  assert.equal(stranger.code, 1);
  assert.match(stranger.err, /refused node sub9: sub9 is not on its allow-list .*add-node .*\[ERR_CLUSTER_NOT_ALLOWED\]/);

  // Status on the publisher: both subscribers streaming over TLS, with their lag; on a subscriber: its own replay.
  const onPub = await sbdOk(['cluster', 'status', '--state', pub.state]);
  t.diagnostic(onPub);
  assert.match(onPub, /^pub \* +publisher +127\.0\.0\.1 +primary/m);
  assert.match(onPub, /^sub1 +subscriber +127\.0\.0\.2 +streaming \(TLS\) +\d+ B +\d+ ms +callmanager,sip,tftp,tvs$/m);
  assert.match(onPub, /^sub2 +subscriber +127\.0\.0\.3 +streaming \(TLS\)/m);
  const onSub = await sbdOk(['cluster', 'status', '--state', sub2.state]);
  assert.match(onSub, /this node: sub2 \(subscriber, hot standby\)/);
  assert.match(onSub, /^sub2 \* +subscriber +127\.0\.0\.3 +streaming +\d+ B/m);

  // Administrative writes on a subscriber: one message naming the publisher, on the CLI and on the console.
  const refused = await sbd(['param', 'set', 'ServerNames', 'x', '--state', sub1.state]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.err,
    /this node \(sub1\) is a subscriber: administrative changes are made on the publisher pub \(127\.0\.0\.1\).*\[ERR_CLUSTER_SUBSCRIBER\]/,
  );
  const table = adminTable({
    privilege: {
      canRaise: false,
      asRoot: () => {
        throw new Error('no root');
      },
    },
    stateDir: sub1.state,
    firstBoot: () => undefined,
  });
  const found = table.find(['set', 'param', 'ServerNames', 'x'])!;
  await assert.rejects(
    Promise.resolve().then(() => found.command.run(found.args, { out: () => {}, err: () => {}, confirm: async () => true } as never)),
    { code: ClusterNodeErrorCode.subscriber },
  );
  const shown: string[] = [];
  const show = table.find(['show', 'cluster'])!;
  await show.command.run(show.args, { out: (l: string) => shown.push(l) } as never);
  assert.match(shown.join('\n'), /^pub +publisher/m, 'show cluster works on a subscriber');

  // A change on the publisher reaches a standby: sbd-clusterd publishes, the standby replays.
  const [before] = await standby1`SELECT value FROM sbd.meta WHERE key = 'generation'`;
  const started = performance.now();
  await sbdOk(['param', 'set', 'ServerNames', 'pub=127.0.0.1', '--state', pub.state]);
  await waitFor('the parameter on the standby', async () => {
    const [p] = await standby1`SELECT value FROM sbd.params WHERE name = 'ServerNames'`;
    return p?.value === 'pub=127.0.0.1' ? true : undefined;
  });
  t.diagnostic(
    `sbd param set on the publisher -> row on sub1's standby: ${(performance.now() - started).toFixed(0)} ms (clusterd polls every 100 ms)`,
  );
  const [after] = await standby1`SELECT value FROM sbd.meta WHERE key = 'generation'`;
  assert.ok(Number(after?.value) > Number(before?.value));

  // The publisher's backup holds its own and the cluster's keys; the subscribers' keys never left them.
  process.env.SBD_BACKUP_PASSPHRASE = 'backup passphrase for the test';
  t.after(() => {
    delete process.env.SBD_BACKUP_PASSPHRASE;
  });
  const backup = `${pub.state}.sbdbak`;
  await sbdOk(['backup', 'create', backup, '--state', pub.state]);
  const restoredOut = await sbdOk(['backup', 'restore', backup, '--state', pub.state]);
  assert.match(restoredOut, /restart these services .*sbd-clusterd/);

  // remove-node: sub2's replication ends, its slot, role and hba lines go; the publisher itself is refused.
  const removed = await sbdOk(['cluster', 'remove-node', 'sub2', '--state', pub.state]);
  assert.match(removed, /node sub2 removed \(replication slot dropped\)/);
  const left = await primary`SELECT usename FROM pg_stat_replication`;
  assert.deepEqual(
    left.map((r) => r.usename),
    [nodeRoleName('sub1')],
  );
  assert.equal((await primary`SELECT 1 FROM pg_replication_slots WHERE slot_name = ${nodeRoleName('sub2')}`).length, 0);
  assert.equal((await primary`SELECT 1 FROM pg_roles WHERE rolname = ${nodeRoleName('sub2')}`).length, 0);
  assert.ok(!readFileSync(`${pgLayout(pub.pgDir).data}/pg_hba.conf`, 'utf8').includes(nodeRoleName('sub2')));
  assert.ok(readFileSync(`${pgLayout(pub.pgDir).data}/pg_hba.conf`, 'utf8').includes(`hostssl replication ${nodeRoleName('sub1')}`));
  const self = await sbd(['cluster', 'remove-node', 'pub', '--state', pub.state]);
  assert.match(self.err, /pub is the publisher: it cannot be removed/);
});
