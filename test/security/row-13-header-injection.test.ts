/**
 * Issue 16 row 13: header injection. Before the fix the serializer wrote reason phrases as given, so a From user
 * `x%0D%0AInjected-Header: …` echoed into a 403 reason became a header line of its own; and a client's own
 * `received`/`rport` in its Via steered the responses to its requests anywhere (the transport kept them, the
 * response went to them). Now: control bytes in a reason phrase are escaped (%0D%0A), header values and the
 * Request-URI with control bytes are refused; `received`/`rport` are only ever what sbd's transport wrote, and
 * a response whose Via below ours was altered downstream is not relayed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipError } from '../../src/sip/core/messages/errors.js';
import { SipRequest, SipResponse } from '../../src/sip/core/messages/message.js';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import { responseDestination, stampReceived } from '../../src/sip/core/messages/response-routing.js';
import { serializeMessage } from '../../src/sip/core/messages/serializer.js';
import { parseUri } from '../../src/sip/core/messages/uri.js';
import { makeResponse } from '../../src/sip/core/messages/make-response.js';
import { answer, fixture, flow, NOW, parse, sends } from './relay-fixture.js';

const lines = (b: Buffer) => b.toString('latin1').split('\r\n\r\n')[0]!.split('\r\n');

test('a From user with %0D%0A echoed into a reason phrase stays on the status line', () => {
  const req = parseMessage(
    Buffer.from(
      [
        'INVITE sip:1002@127.0.0.1 SIP/2.0',
        'Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKinj',
        'From: <sip:x%0D%0AInjected-Header:%20evil@127.0.0.1>;tag=a',
        'To: <sip:1002@127.0.0.1>',
        'Call-ID: inj@x',
        'CSeq: 1 INVITE',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  ) as SipRequest;
  const user = (req.from().uri as { user?: string }).user ?? '';
  assert.equal(user, 'x\r\nInjected-Header', 'the URI parser decodes the escapes');
  // what the router answered with before: the user part inside the reason phrase
  const bytes = serializeMessage(makeResponse(req, 403, `Forbidden (${user} is not a line of this cluster)`));
  const l = lines(bytes);
  assert.ok(!l.some((x) => /^Injected-Header/i.test(x)), l.join('\n'));
  assert.match(l[0]!, /^SIP\/2\.0 403 Forbidden \(x%0D%0AInjected-Header is not a line/);
  assert.equal((parseMessage(bytes) as SipResponse).get('Injected-Header'), undefined);
  // every control byte, not only CR/LF
  assert.match(lines(serializeMessage(new SipResponse(400, 'Bad\u0000\u001b\u007fRequest')))[0]!, /^SIP\/2\.0 400 Bad%00%1B%7FRequest$/);
});

test('header values, header names and the Request-URI with control bytes are refused, not written', () => {
  const base = (): SipRequest => new SipRequest('OPTIONS', parseUri('sip:127.0.0.1'), [{ name: 'Call-ID', value: 'a@b' }]);
  for (const [name, value] of [
    ['X-A', 'a\r\nInjected: 1'],
    ['X-A', 'a\nb'],
    ['X-A', 'a\u0000b'],
    ['X-A', 'a\u001bb'],
    ['X-A: b\r\nInjected', 'c'],
    ['X A', 'c'],
  ] as const) {
    const m = base();
    m.append(name, value);
    assert.throws(
      () => serializeMessage(m),
      (e: unknown) => e instanceof SipError && e.code === 'ERR_SIP_HEADER_VALUE',
      JSON.stringify([name, value]),
    );
  }
  const tab = base();
  tab.append('Subject', 'a\tb');
  assert.match(serializeMessage(tab).toString(), /Subject: a\tb\r\n/);
  const m = base();
  m.uri = { ...parseUri('sip:127.0.0.1'), host: '127.0.0.1\r\nInjected: 1' } as SipRequest['uri'];
  assert.throws(
    () => serializeMessage(m),
    (e: unknown) => e instanceof SipError && e.code === 'ERR_SIP_HEADER_VALUE',
  );
});

test("a client's own received/rport never steer the response", () => {
  const req = parseMessage(
    Buffer.from(
      [
        'OPTIONS sip:127.0.0.1 SIP/2.0',
        'Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKrr;received=203.0.113.99;rport=9999',
        'From: <sip:1001@127.0.0.1>;tag=a',
        'To: <sip:127.0.0.1>',
        'Call-ID: rr@x',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  ) as SipRequest;
  stampReceived(req, { address: '127.0.0.1', port: 6001 });
  assert.deepEqual(responseDestination(makeResponse(req, 200, 'OK')), { address: '127.0.0.1', port: 6001 });
  const plain = parseMessage(
    Buffer.from(
      [
        'OPTIONS sip:127.0.0.1 SIP/2.0',
        'Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKrr2;received=203.0.113.99',
        'From: <sip:1001@127.0.0.1>;tag=a',
        'To: <sip:127.0.0.1>',
        'Call-ID: rr2@x',
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  ) as SipRequest;
  stampReceived(plain, { address: '127.0.0.1', port: 6001 });
  assert.equal(plain.topVia().params.get('received'), undefined);
  assert.deepEqual(responseDestination(makeResponse(plain, 200, 'OK')), { address: '127.0.0.1', port: 6001 });
});

test("a forwarded request's response goes back to where the request came from, even if the Via below ours is altered downstream", () => {
  const f = fixture();
  try {
    const inv = parse<SipRequest>([
      'INVITE sip:1002@127.0.0.1:5060 SIP/2.0',
      'Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKrv;received=203.0.113.99;rport=9999',
      'From: <sip:1001@127.0.0.1>;tag=c1',
      'To: <sip:1002@127.0.0.1>',
      'Call-ID: rv@127.0.0.1',
      'CSeq: 1 INVITE',
      'Max-Forwards: 70',
      'Contact: <sip:1001@127.0.0.1:6001>',
    ]);
    stampReceived(inv, { address: '127.0.0.1', port: 6001 }); // what the UDP transport does on receipt
    const out = sends(f.router.handleRequest(inv, flow(6001), NOW))[0]!.message as SipRequest;
    const back = sends(f.router.handleResponse(answer(out, 180, 'Ringing'), flow(6002), NOW));
    assert.deepEqual(
      back.map((s) => [s.host, s.port]),
      [['127.0.0.1', 6001]],
    );
    // the callee (or anyone who saw our branch) rewrites received/rport in the Via below ours: not relayed
    const altered = answer(out, 180, 'Ringing');
    altered.headers = altered.headers.map((h, i) =>
      i === 1 ? { name: h.name, value: h.value.replace(/received=[^;]*/, 'received=203.0.113.99') } : h,
    );
    altered.invalidate();
    const a = f.router.handleResponse(altered, flow(6002), NOW);
    assert.equal(a.type, 'drop');
  } finally {
    f.done();
  }
});
