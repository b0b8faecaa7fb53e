/**
 * A phone on TCP or TLS (it never retransmits) calls through sbd a trunk on UDP that loses requests: sbd's client
 * transaction on the UDP leg (src/sip/routing/udp-leg.ts) retransmits after T1, times out with a 408 to the
 * phone, CANCELs on Timer C, ACKs a non-2xx itself and absorbs the phone's ACK. Real sockets on loopback, the
 * daemon with a small T1 (50 ms: Timer B = 3.2 s) so the timeouts come quickly. Each of these fails with the
 * old stateless forwarding (the dropped request never arrives again, the phone never hears back).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { SipResponse } from '../../../src/sip/core/messages/message.js';
import { addLineUser, startDaemon, type Harness } from '../interop/harness.js';
import { isRequest, isResponse, TcpPhone, UdpPeer } from './udp-leg-peers.js';

const T1 = 50;
let h: Harness;
let trunk: UdpPeer;
const phones: TcpPhone[] = [];
const answerSdp = [
  'v=0',
  'o=- 2 2 IN IP4 127.0.0.6',
  's=-',
  'c=IN IP4 127.0.0.6',
  't=0 0',
  'm=audio 5000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  '',
].join('\r\n');

before(async () => {
  h = await startDaemon({ t1: T1, timerC: 400 });
  addLineUser(h.state, 'u1000', 'pw-u1000');
  trunk = await UdpPeer.bind('127.0.0.6');
  h.state.store.sip.putTrunk({ name: 'carrier-udp', host: '127.0.0.6', port: trunk.port, transport: 'udp', digestAuth: false });
  h.state.store.sip.putRoutePattern('9!', null, 'carrier-udp');
});
after(async () => {
  for (const p of phones) p.close();
  await trunk?.close();
  await h?.close();
});

async function phone(tls = false): Promise<TcpPhone> {
  const p = tls
    ? await TcpPhone.connectTls(h.ports.tls!, 'u1000', h.state.store.listCertificates({ name: 'CallManager' }).find((c) => c.current)!.pem)
    : await TcpPhone.connect(h.ports.tcp, 'u1000');
  phones.push(p);
  await p.register('pw-u1000', tls ? h.ports.tls! : h.ports.tcp);
  return p;
}

const ofCall = (callId: string) => (m: { callId(): string }) => m.callId() === callId;
const branch = (m: { topVia(): { params: Map<string, string | null> } }) => m.topVia().params.get('branch');

test('a dropped INVITE and a dropped BYE are sent again by sbd after T1; the call completes with ACK and BYE', async () => {
  const p = await phone();
  const mine = ofCall(p.callId);
  p.invite('9123', h.ports.tcp);
  const first = await trunk.inbox.next((m) => isRequest('INVITE')(m) && mine(m), 'first INVITE');
  // dropped: the phone on TCP will not send it again, only sbd can
  const again = await trunk.inbox.next((m) => isRequest('INVITE')(m) && mine(m), 'INVITE retransmitted by sbd');
  assert.equal(branch(again.message), branch(first.message), 'a retransmission keeps the branch the router computed');
  assert.match(branch(first.message)!, /^z9hG4bK-sbd-/);
  trunk.reply(again.message as never, again.from, 180, 'Ringing');
  trunk.reply(again.message as never, again.from, 200, 'OK', 'trunk1', answerSdp);
  await p.inbox.next(isResponse(180, 'INVITE'), '180 at the phone');
  const ok = (await p.inbox.next(isResponse(200, 'INVITE'), '200 at the phone')).message as SipResponse;
  assert.equal(ok.via().length, 1, 'our Via removed');
  p.inDialog('ACK', 1, ok);
  const ack = await trunk.inbox.next((m) => isRequest('ACK')(m) && mine(m), 'the 2xx ACK at the trunk');
  assert.notEqual(branch(ack.message), branch(first.message), 'the 2xx ACK is a transaction of its own (§13.2.2.4)');
  p.inDialog('BYE', 2, ok);
  const bye1 = await trunk.inbox.next((m) => isRequest('BYE')(m) && mine(m), 'first BYE');
  const bye2 = await trunk.inbox.next((m) => isRequest('BYE')(m) && mine(m), 'BYE retransmitted by sbd');
  assert.equal(branch(bye2.message), branch(bye1.message));
  trunk.reply(bye2.message as never, bye2.from, 200, 'OK');
  const byeOk = (await p.inbox.next(isResponse(200, 'BYE'), '200 to BYE at the phone')).message;
  assert.equal(byeOk.cseq().seq, 2);
  assert.ok(h.daemon.udpLeg.stats.started >= 2);
});

test('a trunk that never answers: the INVITE is retransmitted on Timer A, the phone gets 408 after Timer B', async () => {
  const p = await phone();
  const mine = ofCall(p.callId);
  p.invite('9555', h.ports.tcp);
  const res = (await p.inbox.next(isResponse(408, 'INVITE'), '408 at the phone')).message as SipResponse;
  assert.equal(res.via().length, 1, 'our Via removed: the 408 went back like any response');
  assert.equal(res.callId(), p.callId);
  assert.ok(res.to().params.get('tag'), 'a final response carries a To tag');
  const invites = trunk.received('INVITE').filter(mine);
  // Timer A doubles from T1 within 64·T1: 1 + 6 retransmissions (50, 150, 350, 750, 1550, 3150 ms)
  assert.ok(invites.length >= 3 && invites.length <= 7, `INVITEs at the trunk: ${invites.length}`);
  assert.equal(new Set(invites.map(branch)).size, 1);
  assert.ok(h.daemon.udpLeg.stats.timeouts >= 1);
});

test("CANCEL gets its own client transaction (dropped once, sent again); the 487 is ACKed by sbd and the phone's ACK absorbed", async () => {
  const p = await phone();
  const mine = ofCall(p.callId);
  const via = p.invite('9777', h.ports.tcp);
  const inv = await trunk.inbox.next((m) => isRequest('INVITE')(m) && mine(m), 'INVITE');
  trunk.reply(inv.message as never, inv.from, 180, 'Ringing', 'trunk7');
  await p.inbox.next(isResponse(180, 'INVITE'), '180 at the phone');
  p.cancel(via, '9777', h.ports.tcp);
  const c1 = await trunk.inbox.next((m) => isRequest('CANCEL')(m) && mine(m), 'CANCEL');
  const c2 = await trunk.inbox.next((m) => isRequest('CANCEL')(m) && mine(m), 'CANCEL retransmitted by sbd');
  assert.equal(branch(c1.message), branch(inv.message), "§9.1: the CANCEL has the INVITE's branch");
  assert.equal(branch(c2.message), branch(inv.message));
  trunk.reply(c2.message as never, c2.from, 200, 'OK', 'trunk7');
  trunk.reply(inv.message as never, inv.from, 487, 'Request Terminated', 'trunk7');
  await p.inbox.next(isResponse(200, 'CANCEL'), '200 to CANCEL at the phone');
  const terminated = (await p.inbox.next(isResponse(487, 'INVITE'), '487 at the phone')).message as SipResponse;
  const ack = await trunk.inbox.next((m) => isRequest('ACK')(m) && mine(m), "sbd's ACK of the 487");
  assert.equal(branch(ack.message), branch(inv.message), "§17.1.1.3: the ACK of a non-2xx has the INVITE's branch");
  assert.equal(ack.message.cseq().method, 'ACK');
  const absorbed = h.daemon.udpLeg.stats.absorbedAcks;
  p.ackNon2xx(via, terminated, '9777', h.ports.tcp);
  for (let i = 0; i < 400 && h.daemon.udpLeg.stats.absorbedAcks === absorbed; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(h.daemon.udpLeg.stats.absorbedAcks, absorbed + 1, "the phone's ACK was absorbed");
  // the 487 sent again (our ACK lost): the transaction ACKs again and the phone hears nothing more
  trunk.reply(inv.message as never, inv.from, 487, 'Request Terminated', 'trunk7');
  await trunk.inbox.next((m) => isRequest('ACK')(m) && mine(m), "sbd's ACK of the retransmitted 487");
  assert.equal(trunk.received('ACK').filter(mine).length, 2);
});

test('Timer C: an INVITE left ringing is CANCELled by sbd; the 487 reaches the phone', async () => {
  const p = await phone();
  const mine = ofCall(p.callId);
  p.invite('9888', h.ports.tcp);
  const inv = await trunk.inbox.next((m) => isRequest('INVITE')(m) && mine(m), 'INVITE');
  trunk.reply(inv.message as never, inv.from, 180, 'Ringing', 'trunk8');
  await p.inbox.next(isResponse(180, 'INVITE'), '180 at the phone');
  const cancel = await trunk.inbox.next((m) => isRequest('CANCEL')(m) && mine(m), 'CANCEL from sbd on Timer C');
  assert.equal(branch(cancel.message), branch(inv.message));
  assert.equal(cancel.message.cseq().seq, inv.message.cseq().seq);
  trunk.reply(cancel.message as never, cancel.from, 200, 'OK', 'trunk8');
  trunk.reply(inv.message as never, inv.from, 487, 'Request Terminated', 'trunk8');
  await p.inbox.next(isResponse(487, 'INVITE'), '487 at the phone');
  // the INVITE transaction was kept for its final response: it ACKs the 487 itself
  const ack = await trunk.inbox.next((m) => isRequest('ACK')(m) && mine(m), "sbd's ACK of the 487");
  assert.equal(branch(ack.message), branch(inv.message));
  assert.ok(h.daemon.udpLeg.stats.timerC >= 1);
});

test('a phone on TLS (the secure deployment): its INVITE dropped once on the UDP leg arrives again, the call completes', async () => {
  const p = await phone(true);
  const mine = ofCall(p.callId);
  p.invite('9321', h.ports.tls!);
  const first = await trunk.inbox.next((m) => isRequest('INVITE')(m) && mine(m), 'first INVITE');
  assert.equal(first.message.via()[1]!.transport, 'TLS');
  const again = await trunk.inbox.next((m) => isRequest('INVITE')(m) && mine(m), 'INVITE retransmitted by sbd');
  assert.equal(branch(again.message), branch(first.message));
  trunk.reply(again.message as never, again.from, 200, 'OK', 'trunk9', answerSdp);
  const ok = (await p.inbox.next(isResponse(200, 'INVITE'), '200 at the TLS phone')).message as SipResponse;
  p.inDialog('ACK', 1, ok);
  await trunk.inbox.next((m) => isRequest('ACK')(m) && mine(m), 'the 2xx ACK at the trunk');
  p.inDialog('BYE', 2, ok);
  const bye = await trunk.inbox.next((m) => isRequest('BYE')(m) && mine(m), 'BYE');
  trunk.reply(bye.message as never, bye.from, 200, 'OK');
  await p.inbox.next(isResponse(200, 'BYE'), '200 to BYE at the TLS phone');
});
