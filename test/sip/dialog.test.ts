/**
 * RFC 3261 §12 dialogs: creation on both sides from 1xx/2xx, route sets from Record-Route, remote targets from
 * Contact, CSeq rules, in-dialog requests (loose and strict routing), early → confirmed → terminated, BYE; and a
 * whole INVITE/ACK/BYE call over two in-memory transaction layers with a lost ACK repaired by the UAS's 2xx
 * retransmission (§13.3.1.4, RFC 6026).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest, SipResponse } from '../../src/sip/core/messages/message.js';
import { Dialog, dialogKeyOfRequest, dialogKeyOfResponse } from '../../src/sip/core/dialogs/dialog.js';
import { ackFor2xx, byeRequest, inDialogRequest, requestTarget } from '../../src/sip/core/dialogs/dialog-request.js';
import { Uas2xxRetransmission } from '../../src/sip/core/dialogs/dialog-2xx-retransmission.js';
import { formatUri, parseUri } from '../../src/sip/core/messages/uri.js';
import { parseNameAddr } from '../../src/sip/core/messages/name-addr.js';
import { serializeMessage as serialize } from '../../src/sip/core/messages/serializer.js';
import { Net, T0, request, respondTo, type Action, type Endpoint } from './transactions-harness.js';

const aliceVia = { transport: 'UDP', host: '127.0.0.1', port: 5060 };
const bobVia = { transport: 'UDP', host: '127.0.0.1', port: 5070 };
const rr = ['Record-Route: <sip:p1.example;lr>', 'Record-Route: <sip:p2.example;lr;transport=tcp>'];

function invite(extra: string[] = [], o: { uri?: string } = {}): SipRequest {
  return request('INVITE', {
    branch: 'z9hG4bKdlg1',
    fromTag: 'alice1',
    extra: ['Contact: <sip:alice@127.0.0.1:5060>', ...extra],
    uri: o.uri,
  });
}

function answer(req: SipRequest, status: number, extra: string[] = []): SipResponse {
  return respondTo(req, status, { toTag: 'bob1', extra: ['Contact: <sip:bob@127.0.0.1:5070;transport=udp>', ...extra] });
}

test('UAC and UAS create the same dialog from 180 then 200: tags, route sets (reversed at the UAC), targets, CSeq', () => {
  const inv = invite(rr);
  const ringing = answer(inv, 180);
  const uas = Dialog.uas(inv, ringing);
  const uac = Dialog.uac(inv, ringing);
  assert.equal(uas.state, 'early');
  assert.equal(uac.state, 'early');
  assert.equal(uac.id, dialogKeyOfResponse(ringing));
  assert.equal(uas.id, dialogKeyOfRequest(request('BYE', { fromTag: 'alice1', toTag: 'bob1' })));
  assert.deepEqual([uac.localTag, uac.remoteTag, uas.localTag, uas.remoteTag], ['alice1', 'bob1', 'bob1', 'alice1']);
  assert.deepEqual(
    uas.routeSet.map((r) => formatUri(r.uri)),
    ['sip:p1.example;lr', 'sip:p2.example;lr;transport=tcp'],
  );
  assert.deepEqual(
    uac.routeSet.map((r) => formatUri(r.uri)),
    ['sip:p2.example;lr;transport=tcp', 'sip:p1.example;lr'],
  );
  assert.equal(formatUri(uac.remoteTarget), 'sip:bob@127.0.0.1:5070;transport=udp');
  assert.equal(formatUri(uas.remoteTarget), 'sip:alice@127.0.0.1:5060');
  assert.deepEqual([uac.localSeq, uac.remoteSeq, uas.localSeq, uas.remoteSeq], [1, undefined, undefined, 1]);
  assert.equal(uac.local.params.has('tag'), false);

  // The 2xx confirms both; the UAC recomputes its route set from the 2xx (§13.2.2.4).
  const ok = answer(inv, 200, ['Record-Route: <sip:p3.example;lr>']);
  uac.receiveResponse(ok);
  uas.sentResponse(ok);
  assert.equal(uac.state, 'confirmed');
  assert.equal(uas.state, 'confirmed');
  assert.deepEqual(
    uac.routeSet.map((r) => formatUri(r.uri)),
    ['sip:p3.example;lr', 'sip:p2.example;lr;transport=tcp', 'sip:p1.example;lr'],
  );
});

test('in-dialog request (§12.2.1.1): loose routing keeps the remote target in the Request-URI and the route set in Route', () => {
  const inv = invite(rr);
  const uac = Dialog.uac(inv, answer(inv, 200));
  const bye = byeRequest(uac, { via: aliceVia });
  assert.equal(uac.state, 'terminated', 'the UAC ends the dialog as soon as it sends BYE (§15.1.1)');
  assert.equal(formatUri(bye.uri), 'sip:bob@127.0.0.1:5070;transport=udp');
  assert.deepEqual(bye.getAll('Route'), ['<sip:p2.example;lr;transport=tcp>', '<sip:p1.example;lr>']);
  assert.deepEqual(bye.cseq(), { seq: 2, method: 'BYE' });
  assert.equal(bye.from().params.get('tag'), 'alice1');
  assert.equal(bye.to().params.get('tag'), 'bob1');
  assert.equal(bye.callId(), inv.callId());
  assert.match(bye.topVia().params.get('branch')!, /^z9hG4bK.{10,}/);
  assert.notEqual(bye.topVia().params.get('branch'), 'z9hG4bKdlg1');
  assert.throws(() => inDialogRequest(uac, 'INFO', { via: aliceVia }), { code: 'ERR_SIP_DIALOG_TERMINATED' });
});

test('strict routing: the first route goes into the Request-URI (stripped of method and headers), the target to the end of Route', () => {
  const routes = ['<sip:strict.example;maddr=10.0.0.1;method=INVITE>', '<sip:p2.example;lr>'].map((v) => parseNameAddr(v, 'Route'));
  const r = requestTarget(parseUri('sip:bob@192.0.2.4'), routes);
  assert.equal(formatUri(r.uri), 'sip:strict.example;maddr=10.0.0.1');
  assert.deepEqual(r.route, ['<sip:p2.example;lr>', '<sip:bob@192.0.2.4>']);
  assert.deepEqual(requestTarget(parseUri('sip:bob@192.0.2.4'), []).route, []);
});

test('UAS side (§12.2.2): CSeq must not go backwards (500), foreign tags get 481, target refresh, BYE ends the dialog', () => {
  const inv = invite();
  const uas = Dialog.uas(inv, answer(inv, 200));
  const inDlg = (method: string, cseq: number, extra: string[] = [], toTag = 'bob1') =>
    request(method, { fromTag: 'alice1', toTag, cseq, extra });
  assert.deepEqual(uas.receiveRequest(inDlg('ACK', 1)), { ok: true }, 'the ACK carries the INVITE number');
  assert.deepEqual(uas.receiveRequest(inDlg('INFO', 5)), { ok: true });
  assert.equal(uas.remoteSeq, 5);
  const old = uas.receiveRequest(inDlg('INFO', 4));
  assert.equal(old.ok, false);
  assert.equal(!old.ok && old.status, 500);
  const foreign = uas.receiveRequest(inDlg('INFO', 6, [], 'nottheone'));
  assert.equal(!foreign.ok && foreign.status, 481);
  assert.deepEqual(uas.receiveRequest(inDlg('INVITE', 6, ['Contact: <sip:alice@192.0.2.9:5099>'])), { ok: true });
  assert.equal(formatUri(uas.remoteTarget), 'sip:alice@192.0.2.9:5099', 're-INVITE refreshed the remote target');
  assert.deepEqual(uas.receiveRequest(inDlg('BYE', 7)), { ok: true });
  assert.equal(uas.state, 'terminated');
  const after = uas.receiveRequest(inDlg('INFO', 8));
  assert.equal(!after.ok && after.status, 481);
  // The UAS's first own request picks its initial CSeq.
  const uas2 = Dialog.uas(inv, answer(inv, 200));
  const info = inDialogRequest(uas2, 'INFO', { via: bobVia, initialSeq: 1000 });
  assert.deepEqual(info.cseq(), { seq: 1000, method: 'INFO' });
  assert.equal(info.from().params.get('tag'), 'bob1');
  assert.equal(info.to().params.get('tag'), 'alice1');
  assert.equal(formatUri(info.uri), 'sip:alice@127.0.0.1:5060');
  assert.deepEqual(inDialogRequest(uas2, 'INFO', { via: bobVia }).cseq().seq, 1001);
});

test('UAC side: 2xx to a re-INVITE refreshes the target; 481 or 408 to an in-dialog request ends the dialog', () => {
  const inv = invite();
  const uac = Dialog.uac(inv, answer(inv, 200));
  const reinvite = inDialogRequest(uac, 'INVITE', { via: aliceVia, contact: 'sip:alice@127.0.0.1:5060' });
  assert.equal(reinvite.get('Contact'), '<sip:alice@127.0.0.1:5060>');
  uac.receiveResponse(respondTo(reinvite, 200, { extra: ['Contact: <sip:bob@198.51.100.7:5070>'] }));
  assert.equal(formatUri(uac.remoteTarget), 'sip:bob@198.51.100.7:5070');
  assert.equal(uac.state, 'confirmed');
  const info = inDialogRequest(uac, 'INFO', { via: aliceVia });
  uac.receiveResponse(respondTo(info, 481));
  assert.equal(uac.state, 'terminated');
  const uac2 = Dialog.uac(inv, answer(inv, 200));
  uac2.receiveResponse(respondTo(inDialogRequest(uac2, 'OPTIONS', { via: aliceVia }), 408));
  assert.equal(uac2.state, 'terminated');
  assert.throws(() => uac2.receiveResponse(respondTo(request('INFO', { fromTag: 'x', toTag: 'y' }), 200)), {
    code: 'ERR_SIP_DIALOG_MISMATCH',
  });
});

test('an early dialog ends with a non-2xx final response to its INVITE (§12.3), on both sides', () => {
  const inv = invite();
  const uac = Dialog.uac(inv, answer(inv, 183));
  const uas = Dialog.uas(inv, answer(inv, 183));
  const busy = answer(inv, 486);
  uac.receiveResponse(busy);
  uas.sentResponse(busy);
  assert.equal(uac.state, 'terminated');
  assert.equal(uas.state, 'terminated');
});

test('what cannot create a dialog is a typed error; sips over TLS makes it secure', () => {
  const inv = invite();
  assert.throws(() => Dialog.uac(inv, respondTo(inv, 100)), { code: 'ERR_SIP_DIALOG_CREATE' });
  assert.throws(() => Dialog.uac(inv, respondTo(inv, 486)), { code: 'ERR_SIP_DIALOG_CREATE' });
  const noContact = respondTo(inv, 200, { toTag: 't' });
  assert.throws(() => Dialog.uac(inv, noContact), { code: 'ERR_SIP_DIALOG_CREATE' });
  const noTag = request('INVITE', { extra: ['Contact: <sip:a@h>'] });
  const r = answer(noTag, 200);
  r.set('To', '<sip:bob@127.0.0.1>');
  assert.throws(() => Dialog.uac(noTag, r), { code: 'ERR_SIP_DIALOG_CREATE' });
  assert.throws(() => inDialogRequest(Dialog.uac(inv, answer(inv, 200)), 'ACK', { via: aliceVia }), { code: 'ERR_SIP_DIALOG_REQUEST' });
  const nearTop = Dialog.uac(inv, answer(inv, 200));
  nearTop.localSeq = 2 ** 31 - 1;
  assert.throws(() => inDialogRequest(nearTop, 'INFO', { via: aliceVia }), { code: 'ERR_SIP_DIALOG_REQUEST' });
  const sips = invite([], { uri: 'sips:bob@127.0.0.1:5071' });
  assert.equal(Dialog.uac(sips, answer(sips, 200), { overTls: true }).secure, true);
  assert.equal(Dialog.uac(sips, answer(sips, 200)).secure, false);
  assert.equal(Dialog.uac(inv, answer(inv, 200), { overTls: true }).secure, false);
});

test('UAS 2xx retransmission: T1, doubling to T2, gives up at 64·T1; only the INVITE CSeq ACK stops it', () => {
  const r = new Uas2xxRetransmission(7);
  let now = T0;
  const fired: number[] = [];
  let next = r.start(now)[0]!;
  for (;;) {
    assert.equal(next.type, 'arm');
    now = (next as { at: number }).at;
    const out = r.fire(now);
    if (out[0]!.type === 'ack-timeout') break;
    fired.push(now - T0);
    next = out[1]!;
  }
  assert.deepEqual(fired.slice(0, 5), [500, 1500, 3500, 7500, 11500]);
  assert.equal(now - T0, 64 * 500);
  assert.equal(r.state, 'gave-up');
  const s = new Uas2xxRetransmission(7);
  s.start(T0);
  assert.deepEqual(s.ack(6), []);
  assert.deepEqual(s.ack(7), [{ type: 'cancel' }]);
  assert.deepEqual(s.fire(T0 + 500), []);
});

test('a call over two transaction layers: INVITE/180/200, the first ACK lost and repaired by the 2xx retransmission, then BYE from the callee', () => {
  const net = new Net();
  const alice = net.endpoint('alice');
  const bob = net.endpoint('bob');
  const inv = invite(rr);
  let uac: Dialog | undefined;
  let uas: Dialog | undefined;
  let inviteTx = '';
  let retrans: Uas2xxRetransmission | undefined;
  let ok: SipResponse | undefined;
  const acks: SipRequest[] = [];

  alice.tu = (a: Action, ep: Endpoint) => {
    if (a.type !== 'deliver') return;
    const m = a.message;
    if (m.kind === 'response' && m.cseq().method === 'INVITE' && m.status > 100) {
      if (!uac) uac = Dialog.uac(inv, m);
      else uac.receiveResponse(m);
      // §13.2.2.4: an ACK for every 2xx, straight to the transport, same CSeq number, same ACK each time.
      if (m.status >= 200 && m.status < 300) {
        const ack = acks[0] ?? ackFor2xx(uac, inv.cseq().seq, { via: aliceVia });
        acks.push(ack);
        ep.sendRaw('bob', Buffer.from(serialize(ack)));
      }
    } else if (m.kind === 'request' && m.method === 'BYE' && a.id) {
      assert.deepEqual(uac!.receiveRequest(m), { ok: true });
      ep.respond(a.id, respondTo(m, 200));
    }
  };
  bob.tu = (a: Action, ep: Endpoint) => {
    if (a.type !== 'deliver') return;
    const m = a.message;
    if (m.kind === 'request' && m.method === 'INVITE' && a.id) {
      inviteTx = a.id;
      const ringing = answer(m, 180);
      uas = Dialog.uas(m, ringing);
      ep.respond(a.id, ringing);
      ok = answer(m, 200);
      ep.respond(a.id, ok);
      uas.sentResponse(ok);
      retrans = new Uas2xxRetransmission(m.cseq().seq);
      pending = retrans.start(net.now);
    } else if (m.kind === 'request' && m.method === 'ACK') {
      assert.equal(a.id, undefined, 'the 2xx ACK matches no transaction');
      assert.deepEqual(uas!.receiveRequest(m), { ok: true });
      retrans!.ack(m.cseq().seq);
    }
  };
  let pending: ReturnType<Uas2xxRetransmission['start']> = [];
  net.drop((m) => m.kind === 'request' && m.method === 'ACK', 1);
  alice.sendRequest(inv, 'bob');
  // Drive the 2xx retransmission timer alongside the network.
  for (let i = 0; i < 20 && retrans?.state !== 'acked'; i++) {
    const arm = pending.find((p) => p.type === 'arm') as { at: number } | undefined;
    if (!arm) {
      net.run(net.now + 100);
      continue;
    }
    net.run(arm.at);
    if (retrans!.state !== 'waiting') break;
    pending = retrans!.fire(net.now);
    if (pending.some((p) => p.type === 'retransmit')) bob.respond(inviteTx, ok!);
  }
  assert.equal(retrans!.state, 'acked');
  assert.equal(retrans!.retransmissions, 1);
  assert.equal(net.sent('bob', 'SIP/2.0 200').length, 2);
  assert.equal(net.sent('alice', 'ACK').length, 2);
  const [ack1, ack2] = net.sent('alice', 'ACK').map((w) => w.message as SipRequest);
  assert.deepEqual(ack1!.cseq(), { seq: 1, method: 'ACK' });
  assert.notEqual(ack1!.topVia().params.get('branch'), 'z9hG4bKdlg1', 'the 2xx ACK is a transaction of its own');
  assert.equal(ack1!.topVia().params.get('branch'), ack2!.topVia().params.get('branch'));
  assert.deepEqual(ack1!.getAll('Route'), ['<sip:p2.example;lr;transport=tcp>', '<sip:p1.example;lr>']);
  assert.equal(uac!.state, 'confirmed');
  assert.equal(uas!.state, 'confirmed');

  // The callee hangs up: its first own CSeq, routed by its route set (in Record-Route order).
  const bye = byeRequest(uas!, { via: bobVia, initialSeq: 100 });
  assert.deepEqual(bye.getAll('Route'), ['<sip:p1.example;lr>', '<sip:p2.example;lr;transport=tcp>']);
  assert.equal(formatUri(bye.uri), 'sip:alice@127.0.0.1:5060');
  bob.sendRequest(bye, 'alice');
  net.run(net.now + 1000);
  assert.equal(uac!.state, 'terminated');
  assert.equal(uas!.state, 'terminated');
  assert.deepEqual(
    bob
      .of('deliver')
      .filter((d) => d.message.kind === 'response')
      .map((d) => (d.message as SipResponse).status),
    [200],
  );
  net.run(net.now + 64 * 500 + 1000);
  assert.equal(alice.table.size, 0);
  assert.equal(bob.table.size, 0);
});
