/**
 * Issue 16 row 2: sbd as an open relay / reflector. Before the fix any request with a To tag, and any ACK or
 * CANCEL, skipped every check and went to whatever its Request-URI or Route named (the probe
 * `INVITE sip:900555@203.0.113.99` with `To: …;tag=x` from an unknown host was sent on to 203.0.113.99:5060),
 * any response whose top Via merely looked like sbd's was relayed to the Via below it, and a REFER with a
 * made-up To tag escaped the trunk ACL. Now: in-dialog requests need a Route sbd Record-Routed (keyed MAC),
 * responses a branch sbd minted (keyed MAC over the Via below it), ACK/CANCEL an INVITE sbd forwarded.
 * Nothing is ever sent toward 203.0.113.99: the router's actions are inspected, and the daemon's UDP sends are
 * recorded by a wrapper that passes on only loopback destinations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { SipRequest, SipResponse } from '../../src/sip/core/messages/message.js';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import { startDaemon } from '../sip/interop/harness.js';
import { answer, fixture, flow, NOW, parse, sends, status, wire } from './relay-fixture.js';

const VICTIM = '203.0.113.99';

const probe = (method = 'INVITE', extra: string[] = []) =>
  parse<SipRequest>([
    `${method} sip:900555@${VICTIM} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKprobe1;rport',
    'From: <sip:attacker@192.0.2.50>;tag=a1',
    'To: <sip:900555@203.0.113.99>;tag=x',
    'Call-ID: probe@192.0.2.50',
    `CSeq: 1 ${method}`,
    'Max-Forwards: 70',
    'Contact: <sip:attacker@192.0.2.50>',
    ...extra,
  ]);
const stranger = { transport: 'udp' as const, address: '192.0.2.50', port: 5060 };
const toVictim = (a: ReturnType<typeof sends>) => a.filter((s) => s.host === VICTIM);

test('the relay probe (To tag, unknown host) is refused and the router sends nothing toward 203.0.113.99', () => {
  const f = fixture();
  try {
    for (const method of ['INVITE', 'BYE', 'MESSAGE', 'REFER', 'NOTIFY', 'INFO']) {
      const a = f.router.handleRequest(probe(method), stranger, NOW);
      assert.deepEqual(toVictim(sends(a)), [], method);
      assert.equal(a.type, 'respond', method);
      assert.ok([403, 481].includes(status(a)!), `${method}: ${status(a)}`);
    }
    // a Route that claims to be sbd's: without a MAC (481), with a forged one (403)
    const noMac = f.router.handleRequest(probe('INVITE', ['Route: <sip:127.0.0.1:5060;transport=udp;lr>']), stranger, NOW);
    assert.equal(status(noMac), 481);
    const forged = f.router.handleRequest(
      probe('INVITE', ['Route: <sip:127.0.0.1:5060;transport=udp;lr;sbd-mac=AAAAAAAAAAAAAAAAAAAAAA>']),
      stranger,
      NOW,
    );
    assert.equal(status(forged), 403);
    // ACK and CANCEL for no INVITE sbd forwarded: dropped / 481, nothing sent
    const ack = f.router.handleRequest(probe('ACK'), stranger, NOW);
    assert.equal(ack.type, 'drop');
    const cancel = f.router.handleRequest(
      parse<SipRequest>([
        `CANCEL sip:900555@${VICTIM} SIP/2.0`,
        'Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKprobe2',
        'From: <sip:attacker@192.0.2.50>;tag=a1',
        'To: <sip:900555@203.0.113.99>',
        'Call-ID: probe2@192.0.2.50',
        'CSeq: 1 CANCEL',
        'Max-Forwards: 70',
      ]),
      stranger,
      NOW,
    );
    assert.equal(status(cancel), 481);
  } finally {
    f.done();
  }
});

test("a response whose top Via only looks like sbd's is not reflected to the Via below it", () => {
  const f = fixture();
  try {
    const res = parse<SipResponse>([
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-sbd-AAAAAAAAAAAAAAAA;rport',
      `Via: SIP/2.0/UDP ${VICTIM}:5060;branch=z9hG4bKvictim;received=${VICTIM};rport=5060`,
      'From: <sip:a@x>;tag=1',
      'To: <sip:b@x>;tag=2',
      'Call-ID: refl@x',
      'CSeq: 1 OPTIONS',
    ]);
    const a = f.router.handleResponse(res, stranger, NOW);
    assert.equal(a.type, 'drop');
    assert.deepEqual(sends(a), []);
  } finally {
    f.done();
  }
});

test('a dialog sbd recorded works end to end; its Route cannot be turned toward another host', () => {
  const f = fixture();
  try {
    const inv = parse<SipRequest>([
      'INVITE sip:1002@127.0.0.1:5060 SIP/2.0',
      'Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKinv1;rport=6001;received=127.0.0.1',
      'From: <sip:1001@127.0.0.1>;tag=c1',
      'To: <sip:1002@127.0.0.1>',
      'Call-ID: call-1@127.0.0.1',
      'CSeq: 1 INVITE',
      'Max-Forwards: 70',
      'Contact: <sip:1001@127.0.0.1:6001;transport=udp>',
    ]);
    const fwd = f.router.handleRequest(inv, flow(6001), NOW);
    const [out] = sends(fwd);
    assert.equal(out?.port, 6002);
    const forwarded = wire<SipRequest>(out!.message);
    // the callee's 180 and 200 go back to the caller; sbd's Record-Route in them now binds the callee's Contact
    let route = '';
    for (const [code, reason] of [
      [180, 'Ringing'],
      [200, 'OK'],
    ] as const) {
      const back = sends(f.router.handleResponse(answer(forwarded, code, reason), flow(6002), NOW));
      assert.deepEqual(
        back.map((s) => [s.host, s.port]),
        [['127.0.0.1', 6001]],
        `${code}`,
      );
      route = back[0]!.message.get('Record-Route')!;
    }
    assert.notEqual(route, forwarded.get('Record-Route'));
    const inDialog = (method: string, uri: string, routeValue = route) =>
      parse<SipRequest>([
        `${method} ${uri} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bK${method}1;rport=6001;received=127.0.0.1`,
        'From: <sip:1001@127.0.0.1>;tag=c1',
        'To: <sip:1002@127.0.0.1>;tag=callee',
        'Call-ID: call-1@127.0.0.1',
        `CSeq: ${method === 'ACK' ? 1 : 2} ${method}`,
        'Max-Forwards: 70',
        `Route: ${routeValue}`,
      ]);
    for (const method of ['ACK', 'BYE']) {
      const a = sends(f.router.handleRequest(inDialog(method, 'sip:1002@127.0.0.1:6002;transport=udp'), flow(6001), NOW));
      assert.deepEqual(
        a.map((s) => [s.host, s.port]),
        [['127.0.0.1', 6002]],
        method,
      );
    }
    // the same (valid) Route with the Request-URI pointed elsewhere, or the callee's Route used by the caller: refused, nothing sent
    for (const turned of [
      f.router.handleRequest(inDialog('BYE', `sip:900555@${VICTIM}`), flow(6001), NOW),
      f.router.handleRequest(inDialog('BYE', 'sip:1002@127.0.0.1:6002;transport=udp', forwarded.get('Record-Route')!), flow(6001), NOW),
    ]) {
      assert.equal(status(turned), 403);
      assert.deepEqual(sends(turned), []);
    }
    // the callee's BYE along the INVITE's Record-Route reaches the caller
    const calleeBye = parse<SipRequest>([
      'BYE sip:1001@127.0.0.1:6001;transport=udp SIP/2.0',
      'Via: SIP/2.0/UDP 127.0.0.1:6002;branch=z9hG4bKcbye;rport=6002;received=127.0.0.1',
      'From: <sip:1002@127.0.0.1>;tag=callee',
      'To: <sip:1001@127.0.0.1>;tag=c1',
      'Call-ID: call-1@127.0.0.1',
      'CSeq: 5 BYE',
      'Max-Forwards: 70',
      `Route: ${forwarded.get('Record-Route')}`,
    ]);
    assert.deepEqual(
      sends(f.router.handleRequest(calleeBye, flow(6002), NOW)).map((s) => [s.host, s.port]),
      [['127.0.0.1', 6001]],
    );
    // the Route of this dialog on another Call-ID does not verify
    const other = inDialog('BYE', 'sip:1002@127.0.0.1:6002;transport=udp');
    other.set('Call-ID', 'call-2@127.0.0.1');
    assert.equal(status(f.router.handleRequest(other, flow(6001), NOW)), 403);
  } finally {
    f.done();
  }
});

test('CANCEL and the non-2xx ACK follow the INVITE sbd forwarded (and only it)', () => {
  const f = fixture();
  try {
    const via = 'Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKinv9;rport=6001;received=127.0.0.1';
    const head = (method: string, toTag = '') => [
      `${method} sip:1002@127.0.0.1:5060 SIP/2.0`,
      via,
      'From: <sip:1001@127.0.0.1>;tag=c9',
      `To: <sip:1002@127.0.0.1>${toTag}`,
      'Call-ID: call-9@127.0.0.1',
      `CSeq: 1 ${method}`,
      'Max-Forwards: 70',
    ];
    const fwd = sends(
      f.router.handleRequest(parse<SipRequest>([...head('INVITE'), 'Contact: <sip:1001@127.0.0.1:6001>']), flow(6001), NOW),
    );
    const cancel = sends(f.router.handleRequest(parse<SipRequest>(head('CANCEL')), flow(6001), NOW));
    assert.deepEqual(
      cancel.map((s) => [s.host, s.port, (s.message as SipRequest).topVia().params.get('branch')]),
      [['127.0.0.1', 6002, (fwd[0]!.message as SipRequest).topVia().params.get('branch')]],
    );
    const ack = sends(f.router.handleRequest(parse<SipRequest>(head('ACK', ';tag=callee')), flow(6001), NOW));
    assert.deepEqual(
      ack.map((s) => [s.host, s.port]),
      [['127.0.0.1', 6002]],
    );
  } finally {
    f.done();
  }
});

test('a REFER or NOTIFY with a made-up To tag from a trunk meets the trunk ACL (it is not in a dialog)', () => {
  const f = fixture();
  try {
    f.store.sip.putTrunk({ name: 'gw', host: '127.0.0.5', port: 5070, transport: 'udp', digestAuth: false, acl: {} });
    for (const method of ['REFER', 'NOTIFY']) {
      const req = parse<SipRequest>([
        `${method} sip:1001@127.0.0.1:6001 SIP/2.0`,
        'Via: SIP/2.0/UDP 127.0.0.5:5070;branch=z9hG4bKtr1',
        'From: <sip:9000@127.0.0.5>;tag=t1',
        'To: <sip:1001@127.0.0.1>;tag=made-up',
        'Call-ID: tr@127.0.0.5',
        `CSeq: 1 ${method}`,
        'Max-Forwards: 70',
        'Refer-To: <sip:900555@203.0.113.99>',
        'Event: refer',
      ]);
      const a = f.router.handleRequest(req, { transport: 'udp', address: '127.0.0.5', port: 5070 }, NOW);
      assert.deepEqual(sends(a), [], method);
      assert.ok([403, 481].includes(status(a)!), `${method}: ${status(a)}`);
    }
  } finally {
    f.done();
  }
});

test('the daemon: the relay probe over UDP gets a refusal and no datagram goes toward 203.0.113.99', async () => {
  const h = await startDaemon();
  const sent: { address: string; port: number }[] = [];
  const udp = h.daemon.udp;
  const send = udp.send.bind(udp);
  // Recording transport: every send is noted; only loopback destinations are really sent.
  udp.send = (bytes: Buffer, address: string, port: number) => {
    sent.push({ address, port });
    if (address.startsWith('127.')) send(bytes, address, port);
  };
  const client = createSocket('udp4');
  try {
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    const replies: SipResponse[] = [];
    client.on('message', (m) => replies.push(parseMessage(m) as SipResponse));
    const port = client.address().port;
    for (const method of ['INVITE', 'ACK', 'BYE']) {
      const bytes = Buffer.from(
        [
          `${method} sip:900555@${VICTIM} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKd${method};rport`,
          'From: <sip:attacker@127.0.0.1>;tag=a1',
          `To: <sip:900555@${VICTIM}>;tag=x`,
          `Call-ID: d${method}@127.0.0.1`,
          `CSeq: 1 ${method}`,
          'Max-Forwards: 70',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      );
      client.send(bytes, h.ports.udp, '127.0.0.1');
    }
    for (let i = 0; i < 1000 && replies.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(replies.map((r) => `${r.status} ${r.cseq().method}`).sort(), ['481 BYE', '481 INVITE']);
    assert.deepEqual(
      sent.filter((s) => s.address === VICTIM),
      [],
    );
    assert.ok(
      sent.every((s) => s.address === '127.0.0.1' && s.port === port),
      JSON.stringify(sent),
    );
    assert.equal(h.daemon.stats.forwarded, 0);
  } finally {
    client.close();
    await h.close();
  }
});
