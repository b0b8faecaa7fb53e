import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import { serializeMessage } from '../../src/sip/core/messages/serializer.js';
import { SipMessageCode, SipMessageError, SipParseCode, SipParseError } from '../../src/sip/core/messages/errors.js';
import { SipRequest, SipResponse } from '../../src/sip/core/messages/message.js';
import { formatUri, isSipUri, parseUri, uriEquals, type SipUri } from '../../src/sip/core/messages/uri.js';
import { errorResponseFor } from '../../src/sip/core/messages/error-response.js';
import { splitComma } from '../../src/sip/core/messages/syntax.js';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');
const register = (extra: string[] = [], ruri = 'sip:example.com'): Buffer =>
  crlf([
    `REGISTER ${ruri} SIP/2.0`,
    'Via: SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bK776asdhds;rport',
    'Max-Forwards: 70',
    'To: Bob <sip:bob@example.com>',
    'From: "Bob, the \\"phone\\"" <sip:bob@example.com>;tag=456248',
    'Call-ID: 843817637684230@998sdasdh09',
    'CSeq: 1826 REGISTER',
    'Contact: <sip:bob@[2001:db8::9]:5070;transport=udp>;expires=7200, "Desk" <sip:bob@192.0.2.4>;q=0.5',
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ]);
const sipu = (u: unknown): SipUri => {
  assert.ok(isSipUri(u as SipUri));
  return u as SipUri;
};
/** The code each answer status goes with (errors.ts's table, written out here so a wrong mapping fails). */
const codeOf: Record<number, SipParseCode> = {
  400: SipParseCode.badRequest,
  413: SipParseCode.bodyTooLarge,
  414: SipParseCode.uriTooLong,
  505: SipParseCode.version,
  513: SipParseCode.tooLarge,
};
/** A parse failure: its code and status, and the reason phrase that goes on the wire (which names the fault). */
function fails(bytes: Buffer, status: number, re: RegExp, options = {}): void {
  assert.throws(
    () => parseMessage(bytes, options),
    (e: unknown) => {
      assert.ok(e instanceof SipParseError);
      assert.equal(e.code, codeOf[status], e.reason);
      assert.equal(e.status, status, e.reason);
      assert.match(e.reason, re);
      return true;
    },
  );
}
const badRequest = (e: unknown) => e instanceof SipParseError && e.code === SipParseCode.badRequest && e.status === 400;

test('IPv6 references in Via and Contact, quoted display names with escapes, lists on one line', () => {
  const m = parseMessage(register());
  assert.ok(m instanceof SipRequest);
  assert.equal(m.topVia().host, '[2001:db8::9]');
  assert.equal(m.topVia().port, 5070);
  assert.equal(m.topVia().params.get('rport'), null);
  assert.equal(m.from().displayName, 'Bob, the "phone"');
  const c = m.contacts();
  assert.ok(!c.star);
  assert.equal(c.list.length, 2);
  assert.equal(sipu(c.list[0]!.uri).host, '[2001:db8::9]');
  assert.equal(c.list[0]!.params.get('expires'), '7200');
  assert.equal(c.list[1]!.displayName, 'Desk');
  assert.equal(c.list[1]!.params.get('q'), '0.5');
});

test('compact names, case-insensitive header names, case-sensitive methods', () => {
  const m = parseMessage(
    crlf([
      'OPTIONS sip:a@b SIP/2.0',
      'v: SIP/2.0/TCP h;branch=z9hG4bKx',
      'f: <sip:x@y>;tag=1',
      't: <sip:a@b>',
      'i: abc',
      'CSEQ: 1 OPTIONS',
      'l: 0',
      '',
      '',
    ]),
    {},
    'stream',
  );
  assert.equal(m.get('Call-ID'), 'abc');
  assert.equal(m.get('CALL-id'), 'abc');
  assert.equal(m.get('i'), 'abc');
  assert.equal(m.topVia().transport, 'TCP');
  fails(
    crlf([
      'options sip:a@b SIP/2.0',
      'Via: SIP/2.0/UDP h;branch=z9hG4bKx',
      'From: <sip:x@y>;tag=1',
      'To: <sip:a@b>',
      'Call-ID: abc',
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ]),
    400,
    /CSeq method does not match/,
  );
});

test('header folding with tabs joins into one value', () => {
  const m = parseMessage(register(['Subject: first\r\n\tsecond\r\n   third']));
  assert.equal(m.get('Subject'), 'first second third');
});

test('splitComma respects quotes and angle brackets', () => {
  assert.deepEqual(splitComma('"a, b" <sip:x@y;p=1,2>, <sip:z@w>'), ['"a, b" <sip:x@y;p=1,2>', '<sip:z@w>']);
  assert.throws(() => splitComma('a,,b'), badRequest);
  assert.throws(() => splitComma('"open, quote'), badRequest);
});

test('URI comparison follows RFC 3261 §19.1.4', () => {
  const eq = (a: string, b: string): boolean => uriEquals(parseUri(a), parseUri(b));
  // The RFC's equivalent pairs.
  assert.ok(eq('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'));
  assert.ok(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'));
  assert.ok(eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;newparam=5'));
  assert.ok(
    eq(
      'sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com',
      'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com',
    ),
  );
  assert.ok(eq('sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'));
  // The RFC's non-equivalent pairs.
  assert.ok(!eq('SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'));
  assert.ok(!eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'));
  assert.ok(!eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'));
  assert.ok(!eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'));
  assert.ok(!eq('sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'));
  assert.ok(!eq('sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'));
  assert.ok(!eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off'));
  assert.ok(!eq('sip:alice@example.com', 'sips:alice@example.com'));
});

test('URIs round-trip through formatUri with escaping', () => {
  const u = parseUri('sip:I%20have%20spaces@[2001:db8::1]:5061;transport=tls;n%61me=v%25?h=%3Cx%3E');
  assert.equal(formatUri(u), 'sip:I%20have%20spaces@[2001:db8::1]:5061;transport=tls;name=v%25?h=%3Cx%3E');
  assert.ok(uriEquals(u, parseUri(formatUri(u))));
  assert.throws(() => parseUri('sip:a@b@c'), badRequest);
  assert.throws(() => parseUri('sip:a@[2001:db8::1'), badRequest);
  assert.throws(() => parseUri('sip:a@host:99999'), badRequest);
  assert.throws(() => parseUri('sip:a@host;p=%zz'), badRequest);
});

test('limits: message bytes 513, header count 513, header length 513, URI 414, body 413', () => {
  fails(register(), 513, /larger than 100 bytes/, { maxMessageBytes: 100 });
  fails(register(['X-A: 1', 'X-B: 2']), 513, /more than 9 header fields/, { maxHeaders: 9 });
  fails(register([`X-Long: ${'a'.repeat(300)}`]), 513, /longer than 200/, { maxHeaderLength: 200 });
  fails(register([], `sip:${'u'.repeat(100)}@example.com`), 414, /longer than 64/, { maxUriLength: 64 });
  const withBody = Buffer.from(register().toString().replace('Content-Length: 0', 'Content-Length: 10') + '0123456789');
  fails(withBody, 413, /larger than 5 bytes/, { maxBodyBytes: 5 });
  fails(Buffer.from(register().toString().replace('SIP/2.0\r\n', 'SIP/3.0\r\n')), 505, /SIP\/3\.0/);
  fails(Buffer.from([0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a]), 400, /not valid UTF-8/);
  fails(Buffer.from('garbage without end'), 400, /not terminated/);
  fails(register(['Max-Forwards: 300'].slice(0, 0), 'sip:example.com'.replace('example', 'exa mple')), 400, /request line/);
});

test('serializer writes a message that parses back to the same values, Content-Length from the body', () => {
  const m = parseMessage(register());
  m.body = Buffer.from('hello');
  m.set('Content-Type', 'text/plain');
  const again = parseMessage(serializeMessage(m), {}, 'stream');
  assert.equal(again.body.toString(), 'hello');
  assert.equal(again.contentLength(), 5);
  assert.deepEqual(again.from(), m.from());
  assert.deepEqual(again.via(), m.via());
  const r = new SipResponse(
    200,
    'OK',
    m.headers.filter((h) => h.name !== 'Contact'),
  );
  assert.match(serializeMessage(r).toString(), /^SIP\/2\.0 200 OK\r\n/);
  m.set('X-Evil', 'a\r\nInjected: yes');
  assert.throws(
    () => serializeMessage(m),
    (e: unknown) => e instanceof SipMessageError && e.code === SipMessageCode.headerValue,
  );
});

test('errorResponseFor copies Via/From/To/Call-ID/CSeq and states the reason; never answers responses or ACK', () => {
  const bad = Buffer.from(register().toString().replace('CSeq: 1826 REGISTER', 'CSeq: 1826 INVITE'));
  let err: SipParseError | undefined;
  try {
    parseMessage(bad);
  } catch (e) {
    err = e as SipParseError;
  }
  assert.ok(err);
  const out = errorResponseFor(bad, err)!.toString();
  assert.match(out, /^SIP\/2\.0 400 Bad Request \(CSeq method does not match the request method\)\r\n/);
  assert.match(out, /\r\nVia: SIP\/2\.0\/UDP \[2001:db8::9\]:5070;branch=z9hG4bK776asdhds;rport\r\n/);
  assert.match(out, /\r\nCall-ID: 843817637684230@998sdasdh09\r\n/);
  const resp = new SipParseError(400, 'x', { respond: false });
  assert.equal(errorResponseFor(bad, resp), undefined);
  assert.equal(errorResponseFor(Buffer.from('ACK sip:a@b SIP/2.0\r\n\r\n'), err), undefined);
  assert.equal(errorResponseFor(Buffer.from('garbage'), err), undefined);
});

test('URI escapes: UTF-8 sequences decode to characters, lone bytes stay bytes, and formatting is stable after one hop', () => {
  const u = parseUri('sip:jos%C3%A9@example.com') as SipUri;
  assert.equal(u.user, 'jos\u00e9');
  assert.equal(formatUri(u), 'sip:jos%C3%A9@example.com');
  // %E9 alone is not UTF-8: kept as the byte (RFC 4475 §3.1.1.4 keeps an escaped NUL the same way)...
  const lone = parseUri('sip:%E9%00x@example.com') as SipUri;
  assert.equal(lone.user, '\u00e9\u0000x');
  // ...and once written as UTF-8 it reads back the same, so a second hop changes nothing.
  const once = formatUri(lone);
  assert.equal(formatUri(parseUri(once)), once);
});

test('status line: a bare code is accepted, a control byte in the reason phrase is not', () => {
  const res = (start: string) =>
    crlf([
      start,
      'Via: SIP/2.0/UDP h;branch=z9hG4bKs',
      'From: <sip:a@b>;tag=1',
      'To: <sip:c@d>',
      'Call-ID: s@t',
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ]);
  assert.equal((parseMessage(res('SIP/2.0 200')) as SipResponse).reason, '');
  assert.equal((parseMessage(res('SIP/2.0 200 OK  fine')) as SipResponse).reason, 'OK  fine');
  assert.throws(() => parseMessage(res('SIP/2.0 200 O\x00K')), badRequest);
  assert.throws(() => parseMessage(res('SIP/2.0 2000 OK')), badRequest);
  assert.throws(() => parseMessage(res('SIP/2.0 20x OK')), badRequest);
});
