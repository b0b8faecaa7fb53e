/**
 * Issue 16 row 7 / bench/sip-abuse (c): a source that only earns refusals is dropped before its datagrams are
 * parsed, so a flood of unauthenticated INVITEs from a few addresses leaves the CPU to honest phones; a source
 * that registered is never banned (a stranger cannot get a phone's address banned by spoofing it). Counts
 * datagrams, not time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { FloodGuard, floodGuardDefaults } from '../../src/sip/auth/flood-guard.js';
import { answerChallenge } from '../../src/sip/core/auth/digest.js';
import { addLineUser, makeState, startDaemon } from '../sip/interop/harness.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');

test('FloodGuard: ban after maxRefusals in the window, for banSeconds; verified sources never; bounded tables', () => {
  const g = new FloodGuard({ maxRefusals: 3, windowSeconds: 10, banSeconds: 30, maxKeys: 4 });
  assert.equal(g.recordRefusal('10.0.0.1', T0), false);
  assert.equal(g.recordRefusal('10.0.0.1', T0 + 1), false);
  assert.equal(g.recordRefusal('10.0.0.1', T0 + 2), true);
  assert.equal(g.admit('10.0.0.1', T0 + 3), false);
  assert.equal(g.admit('10.0.0.2', T0 + 3), true, 'others unaffected');
  assert.equal(g.admit('10.0.0.1', T0 + 2 + 30_000), true, 'the ban ends');
  // Refusals spread wider than the window never ban.
  for (let i = 0; i < 10; i++) assert.equal(g.recordRefusal('10.0.0.3', T0 + i * 11_000), false);
  // A verified source is not banned however often it is refused, until its verification lapses.
  g.recordSuccess('10.0.0.4', T0);
  for (let i = 0; i < 50; i++) assert.equal(g.recordRefusal('10.0.0.4', T0 + i), false);
  assert.equal(g.admit('10.0.0.4', T0 + 100), true);
  // A full ban table bans nobody new and forgets no ban.
  const full = new FloodGuard({ maxRefusals: 1, banSeconds: 30, maxKeys: 2 });
  assert.equal(full.recordRefusal('a', T0), true);
  assert.equal(full.recordRefusal('b', T0), true);
  assert.equal(full.recordRefusal('c', T0), false);
  assert.equal(full.stats.overflows, 1);
  assert.deepEqual(
    ['a', 'b', 'c'].map((k) => full.admit(k, T0 + 1)),
    [false, false, true],
  );
});

function invite(port: number, n: number): string {
  return [
    'INVITE sip:1002@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKfg${n};rport`,
    'Max-Forwards: 70',
    'From: <sip:1001@127.0.0.1>;tag=f1',
    'To: <sip:1002@127.0.0.1>',
    `Call-ID: fg${n}@test`,
    'CSeq: 1 INVITE',
    `Contact: <sip:1001@127.0.0.1:${port}>`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

function register(port: number, host: string, cseq: number, auth?: string): string {
  return [
    'REGISTER sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bKrg${cseq};rport`,
    'Max-Forwards: 70',
    'From: <sip:1001@127.0.0.1>;tag=r1',
    'To: <sip:1001@127.0.0.1>',
    'Call-ID: fg-reg@test',
    `CSeq: ${cseq} REGISTER`,
    `Contact: <sip:1001@${host}:${port}>`,
    'Expires: 600',
    ...(auth ? [`Authorization: ${auth}`] : []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

async function udpSocket(address: string): Promise<{ sock: Socket; port: number; got: string[] }> {
  const sock = createSocket('udp4');
  const got: string[] = [];
  sock.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((r) => sock.bind(0, address, r));
  return { sock, port: sock.address().port, got };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1500 && !cond(); i++) await settle(10);
}

test('sbd daemon sip: a flooding stranger is dropped unread; a registered phone flooding the same way is not; others still register', async () => {
  const made = makeState();
  addLineUser(made.state, '1001', 'secret-1');
  addLineUser(made.state, '1002', 'secret-2');
  const h = await startDaemon({}, made);
  const stranger = await udpSocket('127.0.0.66');
  const phone = await udpSocket('127.0.0.20');
  try {
    const n = floodGuardDefaults.maxRefusals * 2;
    for (let i = 0; i < n; i++) stranger.sock.send(Buffer.from(invite(stranger.port, i)), h.ports.udp, '127.0.0.1');
    await until(() => stranger.got.length + h.daemon.udp.refusedSources >= n);
    assert.equal(stranger.got.length, floodGuardDefaults.maxRefusals);
    assert.equal(h.daemon.udp.refusedSources, n - floodGuardDefaults.maxRefusals);
    assert.equal(h.daemon.floodGuard?.stats.bans, 1);

    // An honest phone at another address: challenged, registers (verified), then its own refusals never ban it.
    phone.sock.send(Buffer.from(register(phone.port, '127.0.0.20', 1)), h.ports.udp, '127.0.0.1');
    await until(() => phone.got.length >= 1);
    const challenge = /WWW-Authenticate: (.*)\r\n/.exec(phone.got[0]!)![1]!;
    const auth = answerChallenge({
      challenge,
      method: 'REGISTER',
      uri: 'sip:127.0.0.1',
      username: '1001',
      secret: { password: 'secret-1' },
      cnonce: 'c0ffee',
      nc: 1,
    });
    phone.sock.send(Buffer.from(register(phone.port, '127.0.0.20', 2, auth)), h.ports.udp, '127.0.0.1');
    await until(() => phone.got.length >= 2);
    assert.match(phone.got[1]!, /^SIP\/2.0 200 /);
    const before = h.daemon.udp.refusedSources;
    for (let i = 0; i < n; i++)
      phone.sock.send(
        Buffer.from(
          invite(phone.port, 1000 + i)
            .replace('tag=f1', 'tag=f2')
            .replace(/sip:1001@/g, 'sip:9999@'),
        ),
        h.ports.udp,
        '127.0.0.1',
      );
    await until(() => phone.got.length >= 2 + n);
    assert.equal(phone.got.length, 2 + n, 'every request of a verified source is read and answered');
    assert.equal(h.daemon.udp.refusedSources, before);
  } finally {
    stranger.sock.close();
    phone.sock.close();
    await h.close();
  }
});
