/**
 * Issue 16 row 10: SRTP keys in clear while the phones show the lock. Before the fix SDES `a=crypto` keys from a
 * phone on TLS were forwarded over UDP/TCP legs (anyone on the path reads them), such calls were marked
 * Encrypted, and Block Unencrypted Calls looked only at INVITE offers and 2xx answers (an unencrypted answer in
 * a 183, an UPDATE, a PRACK or an ACK went through). Now keys from a TLS leg never go out over a non-TLS leg,
 * Encrypted needs TLS on every leg that carried the keys, and every SDP answer is checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest, SipResponse } from '../../src/sip/core/messages/message.js';
import type { TransportKind } from '../../src/sip/transports/types.js';
import { answer, fixture, flow, NOW, parse, sends, status, wire, type Fixture } from './relay-fixture.js';

const KEY = 'inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
const srtp = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 4000 RTP/SAVP 0',
  `a=crypto:1 AES_CM_128_HMAC_SHA1_80 ${KEY}`,
  '',
].join('\r\n');
const rtp = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 4000 RTP/AVP 0', ''].join('\r\n');
const T = (t: TransportKind) => t.toUpperCase();

/** 100N calls 100M: the INVITE as sbd forwards it. */
function call(f: Fixture, from: number, to: number, t: TransportKind, body = srtp, callId = `c${from}${to}`) {
  const inv = parse<SipRequest>(
    [
      `INVITE sip:100${to}@127.0.0.1:5060 SIP/2.0`,
      `Via: SIP/2.0/${T(t)} 127.0.0.1:600${from};branch=z9hG4bK${callId};rport=600${from};received=127.0.0.1`,
      `From: <sip:100${from}@127.0.0.1>;tag=f${from}`,
      `To: <sip:100${to}@127.0.0.1>`,
      `Call-ID: ${callId}@127.0.0.1`,
      'CSeq: 1 INVITE',
      'Max-Forwards: 70',
      `Contact: <sip:100${from}@127.0.0.1:600${from};transport=${t}>`,
    ],
    body,
  );
  const a = f.router.handleRequest(inv, flow(6000 + from, t), NOW);
  return { action: a, out: a.type === 'forward' ? wire<SipRequest>(a.message) : undefined };
}

const security = (m: SipRequest | SipResponse) => /security=(\w+)/.exec(m.get('Call-Info') ?? '')?.[1];

test('keys from a TLS phone never go out over UDP; the call is not Encrypted', () => {
  const f = fixture(['tls', 'udp', 'tls']);
  try {
    const { out } = call(f, 1, 2, 'tls');
    assert.ok(out);
    assert.doesNotMatch(out.body.toString(), /a=crypto/);
    assert.doesNotMatch(out.body.toString(), /inline:/);
    assert.match(out.body.toString(), /m=audio 4000 RTP\/AVP 0/);
    assert.equal(security(out), 'NotAuthenticated');
  } finally {
    f.done();
  }
});

test('TLS to TLS keeps the keys and is Encrypted both ways; UDP legs never are', () => {
  const f = fixture(['tls', 'udp', 'tls']);
  try {
    const { out } = call(f, 1, 3, 'tls');
    assert.match(out!.body.toString(), /a=crypto:1 AES_CM_128_HMAC_SHA1_80/);
    assert.equal(security(out!), 'Encrypted');
    const ok = sends(
      f.router.handleResponse(answer(out!, 200, 'OK', [], srtp, 'sip:1003@127.0.0.1:6003;transport=tls'), flow(6003, 'tls'), NOW),
    );
    assert.equal(security(ok[0]!.message), 'Encrypted');
  } finally {
    f.done();
  }
  const u = fixture(['udp', 'udp', 'tls']);
  try {
    const { out } = call(u, 1, 2, 'udp');
    assert.match(out!.body.toString(), /a=crypto/, 'keys that came in clear may go on in clear');
    assert.equal(security(out!), 'NotAuthenticated');
    const ok = sends(u.router.handleResponse(answer(out!, 200, 'OK', [], srtp), flow(6002), NOW));
    assert.equal(security(ok[0]!.message), 'NotAuthenticated');
    // the answer from a TLS callee to a UDP caller loses its keys
    const { out: toTls } = call(u, 1, 3, 'udp');
    const back = sends(
      u.router.handleResponse(answer(toTls!, 200, 'OK', [], srtp, 'sip:1003@127.0.0.1:6003;transport=tls'), flow(6003, 'tls'), NOW),
    );
    assert.doesNotMatch(back[0]!.message.body.toString(), /a=crypto/);
  } finally {
    u.done();
  }
});

test('Block Unencrypted Calls checks every answer: 183, UPDATE, PRACK, ACK and the 2xx to UPDATE', () => {
  const f = fixture(['tls', 'udp', 'tls']);
  try {
    f.store.setParam('BlockUnencryptedCalls', 'true');
    const { out } = call(f, 1, 3, 'tls');
    // a 183 whose answer has no SRTP: the caller gets 488, the callee a CANCEL
    const early = f.router.handleResponse(
      answer(out!, 183, 'Session Progress', [], rtp, 'sip:1003@127.0.0.1:6003;transport=tls'),
      flow(6003, 'tls'),
      NOW,
    );
    const s = sends(early);
    assert.deepEqual(
      s.map((x) => (x.message.kind === 'request' ? `${x.message.method} ${x.port}` : `${x.message.status} ${x.port}`)).sort(),
      ['488 6001', 'CANCEL 6003'],
    );
    // a dialog that came up secure, then unencrypted offers and answers inside it
    const { out: out2 } = call(f, 1, 3, 'tls', srtp, 'c2');
    const ok = sends(
      f.router.handleResponse(answer(out2!, 200, 'OK', [], srtp, 'sip:1003@127.0.0.1:6003;transport=tls'), flow(6003, 'tls'), NOW),
    );
    const route = ok[0]!.message.get('Record-Route')!;
    const inDialog = (method: string, cseq: number, body: string) =>
      parse<SipRequest>(
        [
          `${method} sip:1003@127.0.0.1:6003;transport=tls SIP/2.0`,
          `Via: SIP/2.0/TLS 127.0.0.1:6001;branch=z9hG4bK${method}c2;rport=6001;received=127.0.0.1`,
          'From: <sip:1001@127.0.0.1>;tag=f1',
          'To: <sip:1003@127.0.0.1>;tag=callee',
          'Call-ID: c2@127.0.0.1',
          `CSeq: ${cseq} ${method}`,
          'Max-Forwards: 70',
          `Route: ${route}`,
          'Contact: <sip:1001@127.0.0.1:6001;transport=tls>',
        ],
        body,
      );
    assert.equal(status(f.router.handleRequest(inDialog('UPDATE', 2, rtp), flow(6001, 'tls'), NOW)), 488);
    assert.equal(status(f.router.handleRequest(inDialog('PRACK', 3, rtp), flow(6001, 'tls'), NOW)), 488);
    const ack = f.router.handleRequest(inDialog('ACK', 1, rtp), flow(6001, 'tls'), NOW);
    assert.deepEqual(sends(ack), [], 'an ACK carrying an unencrypted answer is not forwarded');
    // an UPDATE with SRTP goes through; its 2xx answering without SRTP: BYE to the callee, 488 to the caller
    const upd = f.router.handleRequest(inDialog('UPDATE', 4, srtp), flow(6001, 'tls'), NOW);
    const fwdUpd = wire<SipRequest>(sends(upd)[0]!.message);
    const r = sends(
      f.router.handleResponse(answer(fwdUpd, 200, 'OK', [], rtp, 'sip:1003@127.0.0.1:6003;transport=tls'), flow(6003, 'tls'), NOW),
    );
    assert.deepEqual(
      r.map((x) => (x.message.kind === 'request' ? `${x.message.method} ${x.port}` : `${x.message.status} ${x.port}`)).sort(),
      ['488 6001', 'BYE 6003'],
    );
  } finally {
    f.done();
  }
});

test('a phone whose security profile requires TLS may not send SDES keys over UDP (488)', () => {
  const f = fixture(['udp', 'udp', 'udp']);
  try {
    f.store.putSecurityProfile({
      name: 'Encrypted Digest',
      deviceSecurityMode: 'encrypted',
      tftpEncryptedConfig: true,
      transport: 'tls',
      digestAuth: true,
    });
    f.store.addDevice({ name: 'SEP000000000004', model: '8841', directoryNumber: '1004', securityProfile: 'Encrypted Digest' });
    f.registrar.bindings.store('1004', [
      {
        contact: 'sip:1004@127.0.0.1:6004',
        q: 1000,
        expiresAt: NOW + 600_000,
        callId: 'x',
        cseq: 1,
        source: flow(6004),
        device: 'SEP000000000004',
      },
    ]);
    const { action } = call(f, 4, 2, 'udp');
    assert.equal(status(action), 488);
    assert.deepEqual(sends(action), []);
    // the same SDP from a phone whose profile does not ask for TLS goes on (its keys were in clear already)
    assert.equal(call(f, 1, 2, 'udp').action.type, 'forward');
  } finally {
    f.done();
  }
});
