/**
 * UdpLeg against a real TransactionTable with a driven clock (sans-I/O): which requests get a client
 * transaction, a retransmission absorbed, Timer C (CANCEL, then give up after 64·T1), the 408 on timeout,
 * ACK absorption only while Completed, and the table bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import type { SipRequest, SipResponse } from '../../../src/sip/core/messages/message.js';
import type { TransactionAction } from '../../../src/sip/core/transactions/actions.js';
import { TransactionTable } from '../../../src/sip/core/transactions/transaction-table.js';
import type { MessageSource } from '../../../src/sip/transports/types.js';
import { UdpLeg } from '../../../src/sip/routing/udp-leg.js';

const trunk: MessageSource = { transport: 'udp', address: '127.0.0.9', port: 5060 };
const T1 = 100;

function request(method: string, branch: string, extra: string[] = []): SipRequest {
  return parseMessage(
    Buffer.from(
      [
        `${method} sip:9123@127.0.0.9:5060 SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:5060;branch=${branch};rport`,
        'Via: SIP/2.0/TLS 127.0.0.1:40000;branch=z9hG4bKphone;rport',
        'From: <sip:u1000@127.0.0.1>;tag=f1',
        'To: <sip:9123@127.0.0.1>',
        'Call-ID: c1@x',
        `CSeq: 1 ${method}`,
        'Max-Forwards: 69',
        ...extra,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  ) as SipRequest;
}

function response(req: SipRequest, status: number): SipResponse {
  return parseMessage(
    Buffer.from(
      [
        `SIP/2.0 ${status} X`,
        ...req.getAll('Via').map((v) => `Via: ${v}`),
        `From: ${req.get('From')}`,
        `To: ${req.get('To')};tag=t9`,
        `Call-ID: ${req.callId()}`,
        `CSeq: ${req.get('CSeq')}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  ) as SipResponse;
}

function setup(maxTransactions = 100) {
  const table = new TransactionTable<MessageSource>({ t1: T1, maxTransactions, reliable: (f) => f.transport !== 'udp' });
  const leg = new UdpLeg(table, { timerC: 1000 });
  /** Carries out what the shell would: forget on terminated; returns the sends. */
  const apply = (actions: TransactionAction<MessageSource>[]) => {
    for (const a of actions) if (a.type === 'terminated') leg.forget(a.id);
    return actions.filter((a) => a.type === 'send').map((a) => (a as { message: SipRequest }).message);
  };
  return { table, leg, apply };
}

test('which requests get a client transaction: to UDP, not ACK, from TCP/TLS or originated by sbd', () => {
  const inv = request('INVITE', 'z9hG4bK-sbd-a');
  assert.equal(UdpLeg.wants(inv, 'udp', 'tls'), true);
  assert.equal(UdpLeg.wants(inv, 'udp', 'tcp'), true);
  assert.equal(UdpLeg.wants(inv, 'udp', undefined), true);
  assert.equal(UdpLeg.wants(inv, 'udp', 'udp'), false, 'UDP → UDP stays stateless');
  assert.equal(UdpLeg.wants(inv, 'tls', 'tcp'), false);
  assert.equal(UdpLeg.wants(request('ACK', 'z9hG4bK-sbd-a'), 'udp', 'tls'), false);
});

test('a retransmission from upstream is absorbed; Timer C CANCELs, then the INVITE is given up 64·T1 later', () => {
  const { table, leg, apply } = setup();
  const inv = request('INVITE', 'z9hG4bK-sbd-b');
  const s = leg.send(inv, trunk, 0);
  assert.equal(s.kind, 'sent');
  assert.deepEqual(
    apply((s as { actions: TransactionAction<MessageSource>[] }).actions).map((m) => m.method),
    ['INVITE'],
  );
  assert.equal(leg.send(request('INVITE', 'z9hG4bK-sbd-b'), trunk, 10).kind, 'absorbed');
  const got = table.receive(response(inv, 180), trunk, 50);
  const d = got.find((a) => a.type === 'deliver')!;
  leg.delivered(d.id!, (d as { message: SipResponse }).message, 50);
  assert.equal(leg.nextAt(), 1050);
  assert.deepEqual(leg.fireTimerC(1049), []);
  const sent = apply(leg.fireTimerC(1050));
  assert.deepEqual(
    sent.map((m) => `${m.method} ${m.topVia().params.get('branch')} ${m.cseq().seq}`),
    ['CANCEL z9hG4bK-sbd-b 1'],
  );
  assert.equal(leg.stats.timerC, 1);
  // a late provisional does not restart Timer C once it has fired
  leg.delivered(d.id!, (d as { message: SipResponse }).message, 1100);
  assert.equal(leg.nextAt(), 1050 + 64 * T1);
  const gaveUp = leg.fireTimerC(1050 + 64 * T1);
  apply(gaveUp);
  assert.ok(gaveUp.some((a) => a.type === 'terminated' && a.reason === 'abandoned'));
  assert.equal(table.get(d.id!), undefined);
  assert.equal(leg.size, 1, 'only the CANCEL transaction is left');
});

test("Timer C with the phone's CANCEL already running sends no second CANCEL", () => {
  const { table, leg, apply } = setup();
  const inv = request('INVITE', 'z9hG4bK-sbd-c');
  apply((leg.send(inv, trunk, 0) as { actions: TransactionAction<MessageSource>[] }).actions);
  const d = table.receive(response(inv, 183), trunk, 10).find((a) => a.type === 'deliver')!;
  leg.delivered(d.id!, (d as { message: SipResponse }).message, 10);
  assert.equal(leg.send(request('CANCEL', 'z9hG4bK-sbd-c'), trunk, 20).kind, 'sent');
  assert.deepEqual(apply(leg.fireTimerC(1010)), []);
  assert.equal(leg.nextAt(), 1010 + 64 * T1);
});

test('timeout: 408 built from the request as sent (our Via on top, To tag); ACK absorbed only while Completed', () => {
  const { table, leg, apply } = setup();
  const inv = request('INVITE', 'z9hG4bK-sbd-d');
  const id = 'c\u0000z9hG4bK-sbd-d\u0000INVITE';
  apply((leg.send(inv, trunk, 0) as { actions: TransactionAction<MessageSource>[] }).actions);
  const ack = request('ACK', 'z9hG4bK-sbd-d');
  assert.equal(leg.absorbsAck(ack), false, 'Calling: nothing was ACKed yet');
  const out = table.timerFired(id, 'B', 64 * T1);
  assert.ok(out.some((a) => a.type === 'timeout'));
  const r = leg.timedOut(id)!;
  assert.equal(r.status, 408);
  assert.equal(r.via().length, 2);
  assert.equal(r.topVia().params.get('branch'), 'z9hG4bK-sbd-d');
  assert.ok(r.to().params.get('tag'));
  apply(out);
  assert.equal(leg.size, 0);
  // a 486: the transaction ACKs it itself, the phone's ACK is absorbed while Completed, not after Timer D
  const inv2 = request('INVITE', 'z9hG4bK-sbd-e');
  apply((leg.send(inv2, trunk, 0) as { actions: TransactionAction<MessageSource>[] }).actions);
  const busy = table.receive(response(inv2, 486), trunk, 10);
  assert.deepEqual(
    apply(busy).map((m) => m.method),
    ['ACK'],
  );
  assert.equal(leg.absorbsAck(request('ACK', 'z9hG4bK-sbd-e')), true);
  apply(table.timerFired('c\u0000z9hG4bK-sbd-e\u0000INVITE', 'D', 10 + 32_000));
  assert.equal(leg.absorbsAck(request('ACK', 'z9hG4bK-sbd-e')), false);
  assert.equal(leg.size, 0);
});

test('bounded by the table: past maxTransactions the leg says full (the caller forwards statelessly)', () => {
  const { leg } = setup(2);
  assert.equal(leg.send(request('INVITE', 'z9hG4bK-sbd-f1'), trunk, 0).kind, 'sent');
  assert.equal(leg.send(request('BYE', 'z9hG4bK-sbd-f2'), trunk, 0).kind, 'sent');
  assert.equal(leg.send(request('BYE', 'z9hG4bK-sbd-f3'), trunk, 0).kind, 'full');
  assert.equal(leg.stats.full, 1);
  assert.equal(leg.size, 2);
});
