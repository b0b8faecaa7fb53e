/**
 * Issue 21 item 5: a phone whose primary node stops fails over and keeps its trust. Two nodes in one store, each
 * running the real `sbd daemon tftp|tvs|sip --node NAME` on its own address (127.0.0.1 publisher, 127.0.0.2
 * subscriber). The phone boots from the publisher (its TFTP list holds both servers, as DHCP option 150 does), its
 * config names both call managers (the default group: every SIP node, publisher first) and both TVS servers; it
 * registers with the publisher. Then:
 * - the publisher's daemons stop: the TCP flow closes and the phone registers with the subscriber;
 * - the phone resets: the publisher's TFTP does not answer, so it boots from the subscriber, whose ITL is signed by
 *   the subscriber's CallManager key (not a SAST the phone holds): the publisher's TVS is down, the subscriber's TVS
 *   vouches for the signer, the ITL is installed, the subscriber-signed config is accepted;
 * - registered again, its ITL File Status is Match (the subscriber's hash); `sbd phone register --state --mac`
 *   skips the closed publisher and registers on the subscriber.
 * A second case: the primary stops answering without closing anything (its SIP process is stopped with SIGSTOP):
 * the refresh REGISTER times out and the phone moves to the secondary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withState } from '../../src/store/state.js';
import { bootSimPhone } from '../../src/sim/phone.js';
import { phoneConfigServices, type CallManagerEndpoint } from '../../src/sim/phone-config.js';
import { poolOptionsFor, TftpFetcher } from '../../src/sim/tftp-fetcher.js';
import { configTvsHook } from '../../src/sim/tvs-hook.js';
import { FetcherList } from '../../src/sim/fetcher-list.js';
import { FailoverRegistration } from '../../src/sim/sip-ua/failover.js';
import { heldInPhoneFolder } from '../../src/sim/sip-ua/device-tl-info.js';
import { TftpClientPool } from '../../src/tftp/client.js';
import { itlStatusRows } from '../../src/reports/itl-status.js';
import { addPhone, clusterState, Redirects, sbdExit, startNode, tempDir, type NodeSpec } from './node-harness.js';

const nodes: NodeSpec[] = [
  { name: 'pub', ipv4: '127.0.0.1' },
  { name: 'sub1', ipv4: '127.0.0.2' },
];

function served(dir: string, node: string): string | undefined {
  return withState(dir, (s) => s.store.listServedTrustFiles('ITLFile.tlv').find((r) => r.server === node)?.sha256Hex, { readonly: true });
}

function itlStatus(dir: string, device: string) {
  return withState(dir, (s) => itlStatusRows(s.store).find((r) => r.device === device), { readonly: true });
}

async function stage(name: string, dn: string) {
  const dir = await clusterState(nodes);
  const redirects = new Redirects();
  const daemons = await Promise.all(nodes.map((n) => startNode(dir, n, redirects, { tvs: true, sip: true })));
  await addPhone(dir, name, dn);
  const phones = tempDir('sbd-failover-phones-');
  const pool = new TftpClientPool(poolOptionsFor({ host: '127.0.0.1', port: 69 }, 1));
  const tftp = new FetcherList(
    nodes.map((n, i) => ({
      name: n.ipv4,
      fetcher: new TftpFetcher({ host: n.ipv4, port: daemons[i]!.tftpPort }, pool, { timeoutMs: 1000, retries: 3 }),
    })),
  );
  const boot = () =>
    bootSimPhone({
      stateDir: phones,
      deviceName: name,
      fetcher: tftp,
      verifyUnknownSigner: configTvsHook({ redirect: redirects.redirect }),
    });
  const members = () => phoneConfigServices(readFileSync(join(phones, name, 'config.xml'))).callManagers;
  const moves: string[] = [];
  let onMove: ((m: CallManagerEndpoint) => void) | undefined;
  // Generous timeouts: a loaded machine must not look like a dead primary.
  const registration = (keepaliveMs: number, registerTimeoutMs: number) =>
    new FailoverRegistration({
      members: members(),
      transport: 'tcp',
      phone: {
        line: dn,
        credentials: { username: `u${dn}`, password: `pw-${dn}-secret` },
        // The DeviceTLInfo report names the TFTP server the phone's ITL came from.
        trustLists: () => heldInPhoneFolder(phones, name, tftp.current.name)(),
      },
      redirect: redirects.redirect,
      keepaliveMs,
      registerTimeoutMs,
      onRegistered: (m, from, why) => {
        moves.push(`${from?.host ?? '-'} → ${m.host}: ${why}`);
        onMove?.(m);
      },
    });
  const movedTo = (host: string) =>
    new Promise<void>((resolve) => {
      onMove = (m) => {
        if (m.host === host) resolve();
      };
    });
  return { dir, daemons, phones, pool, tftp, boot, members, registration, movedTo, moves };
}

test('the primary stops: the phone registers with the secondary, boots its ITL through TVS, and is Match', {
  timeout: 240_000,
}, async () => {
  const name = 'SEP00AABBCC7301';
  const s = await stage(name, '7301');
  try {
    const first = await s.boot();
    assert.ok(first.configTrusted, first.decisions.map((d) => d.text).join('\n'));
    assert.equal(s.tftp.current.name, '127.0.0.1');
    assert.equal(first.itlSha256, served(s.dir, 'pub'));
    assert.deepEqual(
      s.members().map((m) => m.host),
      ['127.0.0.1', '127.0.0.2'],
      'the default group: publisher first',
    );
    const reg = s.registration(30_000, 10_000);
    try {
      assert.equal((await reg.start()).host, '127.0.0.1');
      assert.equal(reg.phone?.lastTrustReport?.status, 202);
      assert.deepEqual([itlStatus(s.dir, name)?.status, itlStatus(s.dir, name)?.tftpServer], ['Match', '127.0.0.1']);

      const moved = s.movedTo('127.0.0.2');
      const pub = s.daemons[0]!;
      await Promise.all([pub.sip!.stop(), pub.tvs!.stop(), pub.tftp.stop()]);
      await moved;
      await reg.settled();
      assert.equal(reg.member?.host, '127.0.0.2', s.moves.join('\n'));
      assert.equal(reg.stats.failovers, 1);
      assert.match(s.moves.at(-1)!, /the flow to 127\.0\.0\.1 closed/);

      // The phone resets: its TFTP list moves on to the subscriber, whose ITL TVS vouches for.
      const second = await s.boot();
      const story = second.decisions.map((d) => `${d.file}: [${d.verdict}] ${d.text}`).join('\n');
      assert.equal(s.tftp.current.name, '127.0.0.2', story);
      const itl = second.decisions.find((d) => d.subject === 'ITL')!;
      assert.equal(itl.verdict, 'accepted', story);
      assert.match(itl.text, /vouched for by TVS/, story);
      assert.equal(second.itlSha256, served(s.dir, 'sub1'), "the subscriber's own ITL is installed");
      assert.notEqual(second.itlSha256, first.itlSha256);
      assert.ok(second.configTrusted, story);
      assert.match(second.decisions.find((d) => d.subject === 'config')!.text, /config signature valid/, story);

      await reg.phone!.register();
      assert.equal(reg.phone?.lastTrustReport?.status, 202);
      assert.deepEqual([itlStatus(s.dir, name)?.status, itlStatus(s.dir, name)?.tftpServer], ['Match', '127.0.0.2']);
    } finally {
      reg.close();
    }

    // `sbd phone register --state --mac` takes the first call manager of the held config that answers. A copy of
    // the phone's folder whose config names the ports the daemons had (the publisher's is closed now).
    const copy = tempDir('sbd-failover-cli-');
    mkdirSync(join(copy, name));
    const ports = [s.daemons[0]!.sip!, s.daemons[1]!.sip!].map((d) => String(d.listening.tcp));
    let i = 0;
    const xml = readFileSync(join(s.phones, name, 'config.xml'), 'utf8').replace(
      /<sipPort>\d+<\/sipPort>/g,
      () => `<sipPort>${ports[i++]}</sipPort>`,
    );
    writeFileSync(join(copy, name, 'config.xml'), xml);
    const cli = await sbdExit(
      'phone',
      'register',
      '--state',
      copy,
      '--mac',
      name.slice(3),
      '--transport',
      'tcp',
      '--dns',
      'none',
      '--user',
      'u7301',
      '--password',
      'pw-7301-secret',
    );
    assert.equal(cli.code, 0, cli.text);
    assert.deepEqual(
      (({ status, callManager, skipped }) => ({ status, callManager, skipped }))(JSON.parse(cli.text) as Record<string, unknown>),
      { status: 200, callManager: '127.0.0.2', skipped: ['127.0.0.1'] },
    );
  } finally {
    s.pool.close();
  }
});

test('the primary goes silent (SIGSTOP): the refresh REGISTER times out and the phone moves to the secondary', {
  timeout: 240_000,
}, async () => {
  const name = 'SEP00AABBCC7302';
  const s = await stage(name, '7302');
  const pubSip = s.daemons[0]!.sip!;
  try {
    assert.ok((await s.boot()).configTrusted);
    const reg = s.registration(1000, 4000);
    try {
      assert.equal((await reg.start()).host, '127.0.0.1');
      const moved = s.movedTo('127.0.0.2');
      pubSip.child.kill('SIGSTOP');
      await moved;
      await reg.settled();
      assert.equal(reg.member?.host, '127.0.0.2');
      assert.match(s.moves.at(-1)!, /REGISTER to 127\.0\.0\.1 failed: .*no final response/, s.moves.join('\n'));
      assert.deepEqual([itlStatus(s.dir, name)?.status], ['Match'], 'the trust it holds is unchanged and still matches');
    } finally {
      reg.close();
    }
  } finally {
    pubSip.child.kill('SIGCONT');
    s.pool.close();
  }
});
