/**
 * Issue 21 item 5 over the real cluster store: a publisher and two subscribers made by the commands
 * (pg-cluster.ts: migrate, add-node + join, the real sbd-clusterd), each subscriber's real `sbd daemon tftp|tvs|sip`
 * reading its own hot standby (`sbd cluster env`: --store-url, --primary-url, PGPASSWORD) on its own address.
 * A phone in the call-manager group sub1, sub2 (added on the publisher, published, replayed) boots from sub1's TFTP
 * (its TFTP list holds sub1 and sub2, as DHCP option 150 does) and registers with sub1. Then sub1 stops (its
 * daemons and its PostgreSQL): the phone registers with sub2; it resets, boots from sub2's TFTP, whose ITL is signed
 * by sub2's CallManager key: sub2's TVS vouches for it (sub1's is down), the config signed by sub2 is accepted, and
 * the phone registers again; on the primary, each node's served ITL and the phone's trust report (from sub1, then
 * from sub2, naming the TFTP server its ITL came from) arrive through the nodes' writes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import postgres from 'postgres';
import { nodeEnvironment } from '../../src/cluster/membership-env.js';
import { readClusterNode } from '../../src/store/pg/cluster-node.js';
import { connectLocalAdmin } from '../../src/store/pg/replication-connect.js';
import { pgLayout, stopServer } from '../../src/store/pg/replication-server.js';
import { stateLayout } from '../../src/store/state.js';
import { bootSimPhone } from '../../src/sim/phone.js';
import { phoneConfigServices, type CallManagerEndpoint } from '../../src/sim/phone-config.js';
import { poolOptionsFor, TftpFetcher } from '../../src/sim/tftp-fetcher.js';
import { configTvsHook } from '../../src/sim/tvs-hook.js';
import { FetcherList } from '../../src/sim/fetcher-list.js';
import { FailoverRegistration } from '../../src/sim/sip-ua/failover.js';
import { heldInPhoneFolder } from '../../src/sim/sip-ua/device-tl-info.js';
import { TftpClientPool } from '../../src/tftp/client.js';
import { addPhone, Redirects, sbd as sbdIn, startDaemon, tempDir, type NodeDaemons } from './node-harness.js';
import { joinNode, pgMissing, startClusterd, startPublisher, type TestNode, waitFor } from './pg-cluster.js';

const NAME = 'SEP00AABBCC7401';
const DN = '7401';

/** A subscriber's TFTP, TVS and SIP on its standby, as its units run them (the env file's values). */
async function startSubscriber(node: TestNode, redirects: Redirects): Promise<NodeDaemons> {
  const env = nodeEnvironment(node.state);
  const pg = ['--store-url', env.SBD_STORE_URL!, '--node', node.name];
  const pgEnv = { PGPASSWORD: env.PGPASSWORD! };
  const common = ['--bind', node.ip, '--port', '0'];
  const [tftp, tvs, sip] = await Promise.all([
    startDaemon(
      ['tftp', '--state', node.state, ...pg, '--primary-url', env.SBD_PRIMARY_URL!, ...common],
      (ev) => Array.isArray(ev.addresses),
      pgEnv,
    ),
    startDaemon(['tvs', ...pg, ...common], (ev) => typeof ev.port === 'number', pgEnv),
    startDaemon(
      ['sip', '--state', node.state, ...pg, '--primary-url', env.SBD_PRIMARY_URL!, ...common, '--no-tls'],
      (ev) => typeof ev.tcp === 'number',
      pgEnv,
    ),
  ]);
  redirects.set(node.ip, 2445, tvs.listening.port as number);
  redirects.set(node.ip, 5060, sip.listening.tcp as number);
  return { tftp, tvs, sip, tftpPort: (tftp.listening.addresses as Array<{ port: number }>)[0]!.port };
}

test('PostgreSQL cluster: the primary subscriber stops; the phone registers with its secondary and keeps its trust', {
  skip: pgMissing(),
  timeout: 600_000,
}, async (t) => {
  const pub = await startPublisher(t);
  startClusterd(t, pub);
  const sub1 = await joinNode(t, pub, 'sub1', '127.0.0.2');
  const sub2 = await joinNode(t, pub, 'sub2', '127.0.0.3');

  await addPhone(pub.state, NAME, DN);
  await sbdIn('cm-group', 'add', 'G12', '--node', 'sub1', '--node', 'sub2', '--state', pub.state);
  await sbdIn('cm-group', 'device', NAME, 'G12', '--state', pub.state);
  // sbd-clusterd publishes; both standbys replay the phone and its group before their daemons start.
  for (const s of [sub1, sub2]) {
    const env = nodeEnvironment(s.state);
    const sql = postgres(env.SBD_STORE_URL!, { password: env.PGPASSWORD!, max: 1, onnotice: () => {} });
    try {
      await waitFor(
        `${s.name}: the phone's group replayed`,
        async () => {
          const [r] = await sql`SELECT count(*)::int AS n FROM sbd.device_cm_groups`;
          return r?.n === 1 ? true : undefined;
        },
        60,
      );
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
  const redirects = new Redirects();
  const [d1, d2] = await Promise.all([startSubscriber(sub1, redirects), startSubscriber(sub2, redirects)]);

  const phones = tempDir('sbd-pg-failover-phones-');
  const pool = new TftpClientPool(poolOptionsFor({ host: '127.0.0.1', port: 69 }, 1));
  t.after(() => pool.close());
  const tftp = new FetcherList(
    [
      [sub1, d1],
      [sub2, d2],
    ].map(([n, d]) => ({
      name: (n as TestNode).ip,
      fetcher: new TftpFetcher({ host: (n as TestNode).ip, port: (d as NodeDaemons).tftpPort }, pool, { timeoutMs: 1000, retries: 3 }),
    })),
  );
  const boot = () =>
    bootSimPhone({
      stateDir: phones,
      deviceName: NAME,
      fetcher: tftp,
      verifyUnknownSigner: configTvsHook({ redirect: redirects.redirect }),
    });
  const story = (r: Awaited<ReturnType<typeof boot>>) => r.decisions.map((d) => `${d.file}: [${d.verdict}] ${d.text}`).join('\n');

  const first = await boot();
  assert.ok(first.configTrusted, story(first));
  assert.equal(tftp.current.name, '127.0.0.2', "booted from sub1's TFTP");
  const members = phoneConfigServices(readFileSync(join(phones, NAME, 'config.xml'))).callManagers;
  assert.deepEqual(
    members.map((m) => m.host),
    ['127.0.0.2', '127.0.0.3'],
    'the config names its group: sub1 then sub2',
  );

  const moves: string[] = [];
  let onMove: ((m: CallManagerEndpoint) => void) | undefined;
  const reg = new FailoverRegistration({
    members,
    transport: 'tcp',
    phone: {
      line: DN,
      credentials: { username: `u${DN}`, password: `pw-${DN}-secret` },
      trustLists: () => heldInPhoneFolder(phones, NAME, tftp.current.name)(),
    },
    redirect: redirects.redirect,
    // Generous: a loaded machine must not look like a dead primary.
    keepaliveMs: 30_000,
    registerTimeoutMs: 10_000,
    onRegistered: (m, from, why) => {
      moves.push(`${from?.host ?? '-'} → ${m.host}: ${why}`);
      onMove?.(m);
    },
  });
  t.after(() => reg.close());
  assert.equal((await reg.start()).host, '127.0.0.2', 'registered with its primary, sub1');
  assert.equal(reg.phone?.lastTrustReport?.status, 202);

  // On the primary: each node's TFTP recorded the ITL it served; the phone's trust report (DeviceTLInfo), sent by
  // the node's SIP, names the node and the TFTP server its ITL came from.
  const primary = connectLocalAdmin(readClusterNode(pub.state)!, stateLayout(pub.state).keysDir);
  t.after(() => primary.end({ timeout: 1 }));
  // Each waits for the row it names (an earlier row of the same phone may be there first).
  const served = (node: string, sha256: string | undefined) => async () => {
    const [r] = await primary`SELECT sha256_hex FROM sbd.node_served_trust_files WHERE server = ${node} AND file = 'ITLFile.tlv'`;
    return r?.sha256_hex === sha256 ? true : undefined;
  };
  const reported = (node: string, tftpServer: string) => async () => {
    const [r] = await primary`SELECT node, itl_tftp_server FROM sbd.node_device_trust_reports WHERE device = ${NAME}`;
    return r?.node === node && r.itl_tftp_server === tftpServer ? true : undefined;
  };
  await waitFor("sub1's served ITL (the phone's) on the primary", served('sub1', first.itlSha256));
  await waitFor('the trust report through sub1 on the primary: ITL from 127.0.0.2', reported('sub1', '127.0.0.2'));

  // sub1 stops: its daemons and its PostgreSQL.
  const moved = new Promise<void>((resolve) => {
    onMove = (m) => {
      if (m.host === '127.0.0.3') resolve();
    };
  });
  const started = performance.now();
  await Promise.all([d1.sip!.stop(), d1.tvs!.stop(), d1.tftp.stop()]);
  stopServer(pgLayout(sub1.pgDir), 'immediate');
  await moved;
  await reg.settled();
  t.diagnostic(`sub1 stopped -> registered with sub2: ${(performance.now() - started).toFixed(0)} ms`);
  assert.equal(reg.member?.host, '127.0.0.3', moves.join('\n'));
  assert.equal(reg.stats.failovers, 1);
  assert.match(moves.at(-1)!, /the flow to 127\.0\.0\.2 closed/);

  // The phone resets: its TFTP list moves on to sub2, whose ITL (signed by sub2's CallManager key) sub2's TVS vouches for.
  const second = await boot();
  assert.equal(tftp.current.name, '127.0.0.3', story(second));
  const itl = second.decisions.find((d) => d.subject === 'ITL')!;
  assert.equal(itl.verdict, 'accepted', story(second));
  assert.match(itl.text, /vouched for by TVS/, story(second));
  assert.notEqual(second.itlSha256, first.itlSha256, "sub2's own ITL");
  assert.ok(second.configTrusted, story(second));
  assert.match(second.decisions.find((d) => d.subject === 'config')!.text, /config signature valid/, story(second));

  await reg.phone!.register();
  assert.equal(reg.phone?.lastTrustReport?.status, 202);
  await waitFor("sub2's served ITL (the phone's now) on the primary", served('sub2', second.itlSha256));
  await waitFor('the trust report through sub2 on the primary: ITL from 127.0.0.3', reported('sub2', '127.0.0.3'));
});
