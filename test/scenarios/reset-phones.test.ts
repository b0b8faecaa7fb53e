/**
 * Resetting phones from the appliance (issue 18 item 1): a real `sbd daemon sip` (its own process, loopback),
 * simulated phones booted over TFTP and registered with digest credentials, then `sbd phone reset --all`: each
 * phone receives the NOTIFY over its own flow (TCP and UDP; service-control for 88xx, check-sync for a 7960),
 * obeys it by itself — unregisters, boots again over TFTP (its `refetch`), registers with a new Call-ID — and the
 * command prints progress and a summary that lists the phone that was not registered. A NOTIFY a stranger sends
 * through sbd, even naming the victim's real RegisterCallId, is refused by the phone.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { SipPhone } from '../../src/sim/sip-ua/user-agent.js';
import { SipRequest } from '../../src/sip/core/messages/message.js';
import { parseUri } from '../../src/sip/core/messages/uri.js';
import { makeTag } from '../../src/sip/core/transactions/branch.js';
import { refetchOnReset, type PhoneBootReport } from '../../src/sim/phone.js';
import { TftpFetcher } from '../../src/sim/tftp-fetcher.js';
import { configTvsHook } from '../../src/sim/tvs-hook.js';
import { bootAll, fleet, redirect, sbd, startCluster, type Cluster, type Fleet } from './harness.js';

const PHONES = [
  { name: 'SEP0000000A7001', dn: '7001', model: '8845', transport: 'tcp' as const, ua: 'Cisco-CP8845/14.2.1' },
  { name: 'SEP0000000A7002', dn: '7002', model: '8845', transport: 'udp' as const, ua: 'Cisco-CP8845/14.2.1' },
  { name: 'SEP0000000A7003', dn: '7003', model: '7821', transport: 'tcp' as const, ua: 'Cisco-CP7960G/8.0' },
];
const OFFLINE = 'SEP0000000A7009';

let cluster: Cluster;
let phones: Fleet;
let daemon: ChildProcess;
let ports: { udp: number; tcp: number };
const sip: SipPhone[] = [];
const boots = new Map<string, PhoneBootReport[]>();

/** Waits (bounded) until `cond` holds; polling, no timing assertion. */
async function until(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

describe('sbd phone reset --all against a running sbd-sipd', async () => {
  // The harness registers its clean-up with after(): the stage is set up here, not inside a before() hook.
  cluster = await startCluster();
  for (const p of [...PHONES, { name: OFFLINE, dn: '7009', model: '8845' }]) {
    await cluster.admin(
      'device',
      'add',
      p.name,
      '--model',
      p.model,
      '--dn',
      p.dn,
      '--digest-user',
      `u${p.dn}`,
      '--digest-password',
      `pw-${p.dn}-secret`,
    );
  }
  phones = fleet();
  const first = await bootAll(
    phones,
    cluster,
    PHONES.map((p) => p.name),
  );
  for (const r of first) assert.ok(r.configTrusted, `${r.deviceName} booted`);
  daemon = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'daemon',
      'sip',
      '--state',
      cluster.dir,
      '--bind',
      '127.0.0.1',
      '--port',
      '0',
      '--tls-port',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  daemon.stderr!.resume();
  const lines = createInterface({ input: daemon.stdout! });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(daemon, 'exit').then(() => {
      throw new Error('sbd daemon sip exited');
    }),
  ])) as [string];
  ports = JSON.parse(line) as { udp: number; tcp: number };
  lines.on('line', () => {});
  const fetcher = new TftpFetcher({ host: cluster.ipv4, port: cluster.tftp.port }, phones.pool, { timeoutMs: 3000, retries: 8 });
  const tvs = configTvsHook({ redirect, timeoutMs: 30_000 });
  for (const p of PHONES) {
    const phone = await SipPhone.connect({
      flow: { transport: p.transport, host: '127.0.0.1', port: p.transport === 'udp' ? ports.udp : ports.tcp },
      line: p.dn,
      credentials: { username: `u${p.dn}`, password: `pw-${p.dn}-secret` },
      userAgent: p.ua,
      // The phone's own reset: boot again over TFTP (what it would do after power-on), then register.
      refetch: refetchOnReset(
        { stateDir: phones.dir, deviceName: p.name, model: p.model, fetcher, views: phones.views, verifyUnknownSigner: tvs },
        (r) => boots.set(p.name, [...(boots.get(p.name) ?? []), r]),
      ),
    });
    await phone.register();
    sip.push(phone);
  }
  after(async () => {
    for (const p of sip) p.close();
    if (daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await once(daemon, 'exit');
    }
  });

  it('a stranger cannot reset a phone: a NOTIFY relayed through sbd is refused, even with the right RegisterCallId', async () => {
    const [stranger, victim] = [sip[0]!, sip[2]!];
    const callId = victim.currentRegisterCallId;
    const res = await stranger.withAuth(
      (auth) =>
        new SipRequest(
          'NOTIFY',
          parseUri(`sip:${victim.o.line}@127.0.0.1`),
          [
            stranger.viaHeader(),
            { name: 'Max-Forwards', value: '70' },
            { name: 'From', value: `<sip:${stranger.o.line}@127.0.0.1>;tag=${makeTag()}` },
            { name: 'To', value: `<sip:${victim.o.line}@127.0.0.1>` },
            { name: 'Call-ID', value: `stranger-${makeTag()}@test` },
            { name: 'CSeq', value: '1 NOTIFY' },
            { name: 'Event', value: 'service-control' },
            { name: 'Subscription-State', value: 'active' },
            { name: 'Content-Type', value: 'text/plain' },
            ...(auth ? [auth] : []),
          ],
          Buffer.from(`action=reset\r\nRegisterCallId={${callId}}\r\n`),
        ),
    );
    assert.notEqual(res.status, 200, "the stranger's NOTIFY was not obeyed");
    await until(() => victim.control.refused >= 1 || res.status !== 403, 'the victim to answer');
    assert.equal(victim.control.refused, 1, `the victim refused the relayed NOTIFY itself (answer ${res.status} ${res.reason})`);
    assert.equal(victim.control.resets + victim.control.restarts, 0);
    assert.equal(victim.currentRegisterCallId, callId);
  });

  it('every registered phone gets the NOTIFY on its flow, boots over TFTP and registers again by itself', async () => {
    const before = sip.map((p) => p.currentRegisterCallId);
    const r = await sbd(['phone', 'reset', '--all', '--state', cluster.dir]);
    assert.equal(r.code, 0, `${r.out}\n${r.err}`);
    assert.match(r.out, /reset: all phones: 3 registered, paced at 100 phones\/s/);
    assert.match(r.out, new RegExp(`not registered \\(1, nothing sent\\): ${OFFLINE}`));
    assert.match(r.out, /reset: 3 of 3 sent, \d acknowledged, \d re-registered, 0 failed/);
    assert.match(r.out, /summary: 3 phones told to reset: 3 acknowledged, 3 re-registered, 0 failed; 1 not registered/);
    await until(() => sip.every((p) => p.control.resets === 1), 'every phone to finish its reset');
    // Chosen by User-Agent: Cisco enterprise firmware gets service-control, the 7960 SIP image check-sync.
    assert.deepEqual(
      sip.map((p) => p.control.lastEvent),
      ['service-control', 'service-control', 'check-sync'],
    );
    for (const [i, p] of sip.entries()) {
      assert.notEqual(p.currentRegisterCallId, before[i], `${PHONES[i]!.name} registered with a new Call-ID`);
      const b = boots.get(PHONES[i]!.name) ?? [];
      assert.equal(b.length, 1, `${PHONES[i]!.name} booted once over TFTP on its reset`);
      assert.ok(b[0]!.fetches >= 2 && b[0]!.configTrusted, `${PHONES[i]!.name} fetched its files again`);
    }
  });

  it('sbd phone restart --device: one phone, over its flow; the others untouched', async () => {
    const r = await sbd(['phone', 'restart', '--device', PHONES[1]!.name, '--state', cluster.dir]);
    assert.equal(r.code, 0, `${r.out}\n${r.err}`);
    assert.match(r.out, /summary: 1 phone told to restart: 1 acknowledged, 1 re-registered, 0 failed; 0 not registered/);
    await until(() => sip[1]!.control.restarts === 1, 'the UDP phone to restart');
    assert.deepEqual(
      sip.map((p) => p.control.restarts),
      [0, 1, 0],
    );
    assert.equal((boots.get(PHONES[1]!.name) ?? []).length, 1, 'a restart does not boot over TFTP');
  });

  it('the feature list overrides the method per model: sbd phone reset-method 7821 service-control', async () => {
    let r = await sbd(['phone', 'reset-method', '7821', 'service-control', '--state', cluster.dir]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^7821: reset method service-control$/m);
    r = await sbd(['phone', 'restart', '--model', '7821', '--state', cluster.dir]);
    assert.equal(r.code, 0, `${r.out}\n${r.err}`);
    await until(() => sip[2]!.control.restarts === 1, 'the 7821 to restart');
    assert.equal(sip[2]!.control.lastEvent, 'service-control', 'a 7960 User-Agent, but the model says service-control');
    r = await sbd(['phone', 'reset-method', '7821', 'auto', '--state', cluster.dir]);
    assert.match(r.out, /^7821: reset method auto/m);
  });

  it('a phone in a call restarts only when the call has ended', async () => {
    const [caller, callee] = [sip[0]!, sip[2]!];
    const call = await caller.call(callee.o.line);
    await until(() => callee.calls.size === 1, 'the callee to hold the call');
    callee.control.lastEvent = '';
    // The 7960 User-Agent gets check-sync, which the phone carries out as a reset: count both.
    const obeyed = () => callee.control.restarts + callee.control.resets;
    const before = obeyed();
    const pending = sbd(['phone', 'restart', '--device', PHONES[2]!.name, '--state', cluster.dir]);
    await until(() => callee.control.lastEvent !== '', 'the callee to take the NOTIFY');
    assert.equal(obeyed(), before, 'no restart while the call is up');
    await call.hangup();
    const r = await pending;
    assert.equal(r.code, 0, `${r.out}\n${r.err}`);
    await until(() => obeyed() === before + 1, 'the callee to restart after the call');
  });

  it('a device that does not exist is a clear error', async () => {
    const r = await sbd(['phone', 'reset', '--device', 'SEP0000000AFFFF', '--state', cluster.dir]);
    assert.equal(r.code, 1);
    assert.match(r.out, /no device SEP0000000AFFFF \[ERR_PHONE_CONTROL_UNKNOWN\]/);
  });
});
