/**
 * Issue 16 row 7: amplification and a full transaction table. Before: an unauthenticated UDP INVITE got a 407
 * through an INVITE server transaction, so Timer G resent it ~11 times toward the (spoofable) source, and every
 * such INVITE held a table slot for Timer H (64·T1); one global 100k cap filled at ~3k INVITE/s and everyone got
 * 503. Now sbd's own refusals go out once, statelessly (RFC 3261 §8.2.7), and a source holds at most
 * `maxTransactionsPerSource` server transactions (past it, its requests are answered statelessly).
 *
 * Counts datagrams, not time: with T1 = 20 ms Timer G would have resent within the 1.5 s we listen, and Timer H
 * (1.28 s) would have ended the transactions by then.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { addLineUser, makeState, startDaemon } from '../sip/interop/harness.js';
import { TransactionTable } from '../../src/sip/core/transactions/transaction-table.js';
import type { TransactionAction } from '../../src/sip/core/transactions/actions.js';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import { answerChallenge } from '../../src/sip/core/auth/digest.js';
import { floodGuardDefaults } from '../../src/sip/auth/flood-guard.js';
import type { SipRequest } from '../../src/sip/core/messages/message.js';

const T1 = 20;

function invite(port: number, branch: string, callId: string): string {
  return [
    'INVITE sip:1002@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${branch};rport`,
    'Max-Forwards: 70',
    'From: <sip:1001@127.0.0.1>;tag=f1',
    'To: <sip:1002@127.0.0.1>',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:1001@127.0.0.1:${port}>`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

async function udpSocket(address = '127.0.0.1'): Promise<{ sock: Socket; port: number; got: string[] }> {
  const sock = createSocket('udp4');
  const got: string[] = [];
  sock.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((r) => sock.bind(0, address, r));
  return { sock, port: sock.address().port, got };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('an unauthenticated UDP INVITE gets exactly one 407 and leaves no transaction; a retransmission gets one more', async () => {
  const made = makeState();
  addLineUser(made.state, '1001', 'secret-1');
  addLineUser(made.state, '1002', 'secret-2');
  const h = await startDaemon({ t1: T1 }, made);
  const { sock, port, got } = await udpSocket();
  try {
    const bytes = Buffer.from(invite(port, 'amp1', 'amp1@test'));
    sock.send(bytes, h.ports.udp, '127.0.0.1');
    const finalsNow = () => got.filter((g) => !g.startsWith('SIP/2.0 100')).length;
    for (let i = 0; i < 1000 && finalsNow() < 1; i++) await settle(10);
    // Then the whole life a transaction would have had (Timer H = 64·T1): any Timer G resend would arrive in it.
    await settle(70 * T1);
    const finals = got.filter((g) => !g.startsWith('SIP/2.0 100'));
    assert.equal(finals.length, 1, `one answer, not Timer G resends: ${finals.map((f) => f.slice(0, 12)).join(' | ')}`);
    assert.match(finals[0]!, /^SIP\/2.0 40[37] /);
    assert.equal(h.daemon.stats.retransmissions, 0);
    assert.equal(h.daemon.liveTransactions, 0, 'no INVITE server transaction waits for an ACK from a stranger');
    // The spoofed victim's view: every request costs the attacker one datagram and earns one back.
    sock.send(bytes, h.ports.udp, '127.0.0.1');
    for (let i = 0; i < 1000 && finalsNow() < 2; i++) await settle(10);
    await settle(10 * T1);
    assert.equal(finalsNow(), 2);
  } finally {
    sock.close();
    await h.close();
  }
});

test('a flood of unauthenticated INVITEs from one source does not grow the transaction table', async () => {
  const made = makeState();
  addLineUser(made.state, '1001', 'secret-1');
  const h = await startDaemon({ t1: 500, maxTransactions: 100 }, made);
  const attacker = await udpSocket();
  const phone = await udpSocket('127.0.0.2');
  try {
    for (let i = 0; i < 300; i++)
      attacker.sock.send(Buffer.from(invite(attacker.port, `f${i}`, `flood${i}@test`)), h.ports.udp, '127.0.0.1');
    const seen = () => attacker.got.length + h.daemon.udp.refusedSources;
    for (let i = 0; i < 1000 && seen() < 300; i++) await settle(10);
    // Each INVITE is answered once until the source has earned floodGuardDefaults.maxRefusals refusals; then the
    // flood guard drops its datagrams unread (src/sip/auth/flood-guard.ts).
    assert.equal(attacker.got.length, floodGuardDefaults.maxRefusals, 'answered once each until banned');
    assert.equal(h.daemon.udp.refusedSources, 300 - floodGuardDefaults.maxRefusals, 'the rest dropped unread');
    assert.ok(
      attacker.got.every((g) => !g.startsWith('SIP/2.0 503')),
      'nobody is told the table is full',
    );
    assert.equal(h.daemon.liveTransactions, 0);
    // Another source is still served by the same daemon (its OPTIONS ping is answered, not 503).
    const ping = [
      `OPTIONS sip:127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.2:${phone.port};branch=z9hG4bKping;rport`,
      'Max-Forwards: 70',
      'From: <sip:1001@127.0.0.1>;tag=p1',
      'To: <sip:127.0.0.1>',
      'Call-ID: ping@test',
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    phone.sock.send(Buffer.from(ping), h.ports.udp, '127.0.0.1');
    for (let i = 0; i < 1000 && phone.got.length < 1; i++) await settle(10);
    assert.match(phone.got[0] ?? '', /^SIP\/2.0 (200|4\d\d) /);
  } finally {
    attacker.sock.close();
    phone.sock.close();
    await h.close();
  }
});

test('REGISTERs with made-up credentials from many sources keep at most half the table; a real phone still registers', async () => {
  const made = makeState();
  addLineUser(made.state, 'alice', 'secret-1');
  const h = await startDaemon({ maxTransactions: 8 }, made);
  const sockets: Array<{ sock: Socket; port: number; got: string[] }> = [];
  const register = (port: number, host: string, n: number, auth: string) =>
    [
      `REGISTER sip:127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bKreg${n};rport`,
      'Max-Forwards: 70',
      `From: <sip:alice@127.0.0.1>;tag=r${n}`,
      `To: <sip:alice@127.0.0.1>`,
      `Call-ID: reg${n}@test`,
      `CSeq: 1 REGISTER`,
      `Contact: <sip:alice@${host}:${port}>`,
      `Authorization: ${auth}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  try {
    // Twelve "sources" (127.0.0.2–13), each with a REGISTER whose credentials are made up.
    for (let i = 0; i < 12; i++) {
      const s = await udpSocket(`127.0.0.${2 + i}`);
      sockets.push(s);
      s.sock.send(
        Buffer.from(
          register(
            s.port,
            `127.0.0.${2 + i}`,
            i,
            'Digest username="alice", realm="x", nonce="made-up", uri="sip:127.0.0.1", response="00000000000000000000000000000000"',
          ),
        ),
        h.ports.udp,
        '127.0.0.1',
      );
    }
    for (let i = 0; i < 1000 && sockets.some((s) => s.got.length === 0); i++) await settle(10);
    assert.ok(
      sockets.every((s) => s.got.length === 1 && /^SIP\/2.0 [45]\d\d /.test(s.got[0]!)),
      'each refused once',
    );
    assert.ok(
      sockets.every((s) => !s.got[0]!.startsWith('SIP/2.0 503')),
      'no one is told the table is full',
    );
    assert.ok(h.daemon.liveTransactions <= 4, `${h.daemon.liveTransactions} transactions held for failed credentials`);
    // The real phone: challenged, then registered.
    const phone = await udpSocket('127.0.0.20');
    sockets.push(phone);
    const noAuth = register(phone.port, '127.0.0.20', 100, '').replace('Authorization: \r\n', '');
    phone.sock.send(Buffer.from(noAuth), h.ports.udp, '127.0.0.1');
    for (let i = 0; i < 1000 && phone.got.length < 1; i++) await settle(10);
    const challenge = /WWW-Authenticate: (.*)\r\n/.exec(phone.got[0] ?? '')?.[1];
    assert.ok(challenge, 'challenged');
    const auth = answerChallenge({
      challenge,
      method: 'REGISTER',
      uri: 'sip:127.0.0.1',
      username: 'alice',
      secret: { password: 'secret-1' },
      cnonce: 'c0ffee',
      nc: 1,
    });
    phone.sock.send(Buffer.from(register(phone.port, '127.0.0.20', 101, auth)), h.ports.udp, '127.0.0.1');
    for (let i = 0; i < 1000 && phone.got.length < 2; i++) await settle(10);
    assert.match(phone.got[1] ?? '', /^SIP\/2.0 200 /);
  } finally {
    for (const s of sockets) s.sock.close();
    await h.close();
  }
});

test('per-source bound: one source holds at most maxPerSource server transactions, then it is delivered stateless', () => {
  const table = new TransactionTable<{ address: string }>({
    t1: 500,
    reliable: () => false,
    sourceOf: (f) => f.address,
    maxPerSource: 3,
    maxTransactions: 10,
  });
  const req = (n: number): SipRequest =>
    parseMessage(
      Buffer.from(
        [
          'OPTIONS sip:x@127.0.0.1 SIP/2.0',
          `Via: SIP/2.0/UDP 127.0.0.9;branch=z9hG4bKps${n}`,
          'Max-Forwards: 70',
          'From: <sip:a@b>;tag=1',
          'To: <sip:x@b>',
          `Call-ID: ps${n}@t`,
          `CSeq: 1 OPTIONS`,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      ),
    ) as SipRequest;
  const deliver = (acts: TransactionAction<{ address: string }>[]) =>
    acts.find((a) => a.type === 'deliver') as Extract<TransactionAction<{ address: string }>, { type: 'deliver' }>;
  const ids = [0, 1, 2, 3, 4].map((n) => deliver(table.receive(req(n), { address: '192.0.2.1' }, 0)));
  assert.deepEqual(
    ids.map((d) => d.id !== undefined),
    [true, true, true, false, false],
  );
  assert.deepEqual(
    ids.map((d) => d.stateless ?? false),
    [false, false, false, true, true],
  );
  assert.equal(table.sizeOf('192.0.2.1'), 3);
  // Another source is unaffected.
  assert.notEqual(deliver(table.receive(req(5), { address: '192.0.2.2' }, 0)).id, undefined);
  // When the first source's transactions end, it gets transactions again.
  table.abandon(ids[0]!.id!);
  assert.equal(table.sizeOf('192.0.2.1'), 2);
  assert.notEqual(deliver(table.receive(req(6), { address: '192.0.2.1' }, 0)).id, undefined);
});
