// RFC 4475 torture tests: every message in test/sip/rfc4475/ (byte-exact .dat files). Valid ones must parse to
// the values the RFC describes; invalid ones must be rejected with the response the RFC expects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import { SipParseCode, SipParseError } from '../../src/sip/core/messages/errors.js';
import { SipRequest, SipResponse, type SipMessage } from '../../src/sip/core/messages/message.js';
import { isSipUri, type SipUri, type Uri } from '../../src/sip/core/messages/uri.js';
import { branchOf, isRfc3261Branch } from '../../src/sip/core/messages/via.js';

const dir = new URL('./rfc4475/', import.meta.url);
const load = (name: string): Buffer => readFileSync(new URL(`${name}.dat`, dir));
const req = (name: string): SipRequest => {
  const m = parseMessage(load(name));
  assert.ok(m instanceof SipRequest, `${name} is a request`);
  return m;
};
const res = (name: string): SipResponse => {
  const m = parseMessage(load(name));
  assert.ok(m instanceof SipResponse, `${name} is a response`);
  return m;
};
const sip = (u: Uri): SipUri => {
  assert.ok(isSipUri(u));
  return u;
};
function rejects(name: string, status: number, detail: RegExp, respond = true): void {
  assert.throws(
    () => parseMessage(load(name)),
    (err: unknown) => {
      assert.ok(err instanceof SipParseError, `${name}: SipParseError`);
      assert.equal(err.code, status === 505 ? SipParseCode.version : SipParseCode.badRequest, `${name}: code`);
      assert.equal(err.status, status, `${name}: status (${err.reason})`);
      assert.match(err.reason, detail, `${name}: reason`);
      assert.equal(err.respond, respond, `${name}: respond`);
      return true;
    },
  );
}

test('every .dat file in the corpus is covered by a test below', () => {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.dat'))
    .map((f) => f.slice(0, -4))
    .sort();
  assert.equal(files.length, 48);
  assert.deepEqual(
    files.filter((f) => !covered.has(f)),
    [],
  );
});

const covered = new Set<string>();
function t(name: string, fn: () => void): void {
  covered.add(name);
  test(`RFC 4475 ${name}`, fn);
}

// §3.1.1 valid messages
t('wsinv', () => {
  const m = req('wsinv');
  assert.equal(m.method, 'INVITE');
  const ruri = sip(m.uri);
  assert.equal(ruri.user, 'vivekg');
  assert.equal(ruri.host, 'chair-dnrc.example.com');
  assert.deepEqual([...ruri.params], [['unknownparam', null]]);
  assert.equal(m.to().displayName, undefined);
  assert.equal(m.to().params.get('tag'), '1918181833n');
  assert.equal(m.from().displayName, 'J Rosenberg \\"');
  assert.equal(m.from().params.get('tag'), '98asjd8');
  assert.equal(m.maxForwards(), 68);
  assert.equal(m.callId(), 'wsinv.ndaksdj@192.0.2.1');
  assert.deepEqual(m.cseq(), { seq: 9, method: 'INVITE' });
  const via = m.via();
  assert.equal(via.length, 3);
  assert.deepEqual(
    via.map((v) => [v.transport, v.host, branchOf(v)]),
    [
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ],
  );
  assert.equal(m.get('Subject'), '');
  assert.equal(m.get('s'), '');
  assert.equal(m.get('newfangledheader'), 'newfangled value continued newfangled value');
  assert.equal(m.get('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
  assert.deepEqual(m.getAll('UnknownHeaderWithUnusualValue'), [';;,,;;,;']);
  const route = m.route();
  assert.equal(route.length, 1);
  assert.deepEqual(
    [...sip(route[0]!.uri).params],
    [
      ['lr', null],
      ['unknownwith', 'value'],
      ['unknown-no-value', null],
    ],
  );
  const contacts = m.contacts();
  assert.ok(!contacts.star);
  assert.equal(contacts.list[0]!.displayName, 'Quoted string ""');
  assert.deepEqual(
    [...contacts.list[0]!.params],
    [
      ['newparam', 'newvalue'],
      ['secondparam', null],
      ['q', '0.33'],
    ],
  );
  assert.equal(m.body.length, 150);
  assert.ok(m.body.toString().startsWith('v=0\r\n'));
});

t('intmeth', () => {
  const m = req('intmeth');
  assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
  const ruri = sip(m.uri);
  assert.equal(ruri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  assert.equal(ruri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  assert.equal(ruri.host, 'example.com');
  assert.equal(branchOf(m.topVia()), "z9hG4bK-.!%66*_+`'~");
  assert.equal(m.to().displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
  assert.equal(m.from().displayName, "token1~` token2'+_ token3*%!.-");
  assert.equal(m.from().params.get("fromparam''~+*_!.-%"), 'работающий');
  assert.equal(m.from().params.get('tag'), "_token~1'+`*%!-.");
  assert.equal(m.callId(), 'intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
  assert.deepEqual(m.cseq(), { seq: 139122385, method: m.method });
  assert.equal(m.maxForwards(), 255);
  assert.equal(m.get("extensionHeader-!.%*+_`'~"), '\ufeff大停電');
});

t('esc01', () => {
  const m = req('esc01');
  const ruri = sip(m.uri);
  assert.equal(ruri.user, 'sips:user@example.com');
  assert.equal(ruri.host, 'example.net');
  assert.equal(sip(m.to().uri).user, 'user');
  assert.equal(sip(m.from().uri).user, 'I have spaces');
  assert.equal(m.callId(), 'esc01.239409asdfakjkn23onasd0-3234');
  assert.equal(m.contentType(), 'application/sdp');
  const c = m.contacts();
  assert.ok(!c.star);
  const cu = sip(c.list[0]!.uri);
  assert.equal(cu.user, 'caller');
  assert.deepEqual(
    [...cu.params],
    [
      ['lr', null],
      ['name', 'value%41'],
    ],
  );
});

t('escnull', () => {
  const m = req('escnull');
  assert.equal(sip(m.to().uri).user, 'null-\x00-null');
  assert.equal(sip(m.from().uri).user, 'null-\x00-null');
  const c = m.contacts();
  assert.ok(!c.star);
  assert.deepEqual(
    c.list.map((x) => sip(x.uri).user),
    ['\x00', '\x00\x00'],
  );
  assert.equal(m.contentLength(), 0);
});

t('esc02', () => {
  const m = req('esc02');
  // % is no escape in a method: this is an unknown method, not REGISTER.
  assert.equal(m.method, 'RE%47IST%45R');
  assert.equal(m.cseq().method, 'RE%47IST%45R');
  assert.equal(m.to().displayName, '%Z%45');
  assert.equal(branchOf(m.topVia()), 'z9hG4bK209%fzsnel234');
  const c = m.contacts();
  assert.ok(!c.star);
  assert.deepEqual(
    c.list.map((x) => sip(x.uri).user),
    ['alias1', 'alias3'],
  );
  assert.equal(m.get('C%6Fntact'), '<sip:alias2@host2.example.com>');
});

t('lwsdisp', () => {
  const m = req('lwsdisp');
  assert.equal(m.from().displayName, 'caller');
  assert.equal(sip(m.from().uri).user, 'caller');
  assert.equal(m.from().params.get('tag'), '323');
});

t('longreq', () => {
  const m = req('longreq');
  const to = m.to();
  assert.equal(to.displayName, `I have a user name of ${'extreme'.repeat(10)} proportion`);
  const tu = sip(to.uri);
  assert.equal(tu.port, 6000);
  assert.equal(tu.params.size, 3);
  assert.equal(tu.params.get('unknownparam1'), `very${'long'.repeat(20)}value`);
  assert.match(m.from().params.get('tag')!, /^1(298){50}2424$/);
  assert.equal(m.via().length, 34);
  assert.deepEqual(
    m
      .via()
      .slice(0, 3)
      .map((v) => v.host),
    ['sip33.example.com', 'sip32.example.com', 'sip31.example.com'],
  );
  assert.equal(m.via()[33]!.params.get('received'), '192.0.2.5');
  assert.equal(m.get('unknown-' + 'long'.repeat(20) + '-name'), m.headers.find((h) => h.name.startsWith('Unknown-'))!.value);
  assert.equal(m.body.length, 150);
});

t('dblreq', () => {
  // One datagram, two requests: the first is processed, the trailing octets are ignored.
  const m = req('dblreq');
  assert.equal(m.method, 'REGISTER');
  assert.equal(m.callId(), 'dblreq.0ha0isndaksdj99sdfafnl3lk233412');
  assert.equal(m.body.length, 0);
});

t('semiuri', () => {
  const m = req('semiuri');
  const ruri = sip(m.uri);
  assert.equal(ruri.user, 'user;par=u@example.net');
  assert.equal(ruri.host, 'example.com');
  assert.equal(ruri.params.size, 0);
  assert.deepEqual(m.getAll('Accept'), [
    'application/sdp',
    'application/pkcs7-mime',
    'multipart/mixed',
    'multipart/signed',
    'message/sip',
    'message/sipfrag',
  ]);
});

t('transports', () => {
  const m = req('transports');
  assert.deepEqual(
    m.via().map((v) => v.transport),
    ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP'],
  );
  assert.equal(m.callId(), 'transports.kijh4akdnaqjkwendsasfdj');
});

t('unreason', () => {
  const m = res('unreason');
  assert.equal(m.status, 200);
  assert.equal(m.reason, '= 2**3 * 5**2 но сто девяносто девять - простое');
  assert.equal(m.body.length, 154);
});

t('noreason', () => {
  const m = res('noreason');
  assert.equal(m.status, 100);
  assert.equal(m.reason, '');
});

// §3.1.2 invalid messages
t('badinv01', () => rejects('badinv01', 400, /Via/));
t('clerr', () => rejects('clerr', 400, /Content-Length 9999/));
t('ncl', () => rejects('ncl', 400, /Content-Length/));
t('scalar02', () => rejects('scalar02', 400, /CSeq number is out of range/));
t('scalarlg', () => rejects('scalarlg', 400, /CSeq/, false));
t('quotbal', () => rejects('quotbal', 400, /unterminated quoted string/));
t('ltgtruri', () => rejects('ltgtruri', 400, /enclosed in <>/));
t('lwsruri', () => rejects('lwsruri', 400, /request line/));
t('lwsstart', () => rejects('lwsstart', 400, /request line/));
t('trws', () => rejects('trws', 400, /request line/));
t('escruri', () => rejects('escruri', 400, /URI headers/));
t('baddate', () => {
  // §3.1.2.10: acceptable to process; the Date value is not interpreted by the codec.
  const m = req('baddate');
  assert.equal(m.get('Date'), 'Fri, 01 Jan 2010 16:00:00 EST');
});
t('regbadct', () => rejects('regbadct', 400, /Contact: a URI with '\?' or ',' must be enclosed in <>/));
t('badaspec', () => rejects('badaspec', 400, /To: whitespace inside <>/));
t('baddn', () => rejects('baddn', 400, /From: display name has characters that must be quoted/));
t('badvers', () => rejects('badvers', 505, /SIP\/7\.0/));
t('mismatch01', () => rejects('mismatch01', 400, /CSeq method does not match/));
t('mismatch02', () => rejects('mismatch02', 400, /CSeq method does not match/));
t('bigcode', () => rejects('bigcode', 400, /status line/, false));

// §3.2 transaction layer, §3.3 application layer, §3.4 backward compatibility
t('badbranch', () => {
  const m = req('badbranch');
  assert.equal(branchOf(m.topVia()), 'z9hG4bK');
  assert.equal(isRfc3261Branch(branchOf(m.topVia())), false);
});
t('insuf', () => rejects('insuf', 400, /missing From header/));
t('unkscm', () => {
  const m = req('unkscm');
  assert.deepEqual(m.uri, { scheme: 'nobodyknowsthisscheme', opaque: 'totallyopaquecontent' });
});
t('novelsc', () => {
  const m = req('novelsc');
  assert.deepEqual(m.uri, { scheme: 'soap.beep', opaque: '//192.0.2.103:3002' });
});
t('unksm2', () => {
  const m = req('unksm2');
  assert.deepEqual(m.to().uri, { scheme: 'isbn', opaque: '2983792873' });
  assert.deepEqual(m.from().uri, { scheme: 'http', opaque: '//www.example.com' });
  const c = m.contacts();
  assert.ok(!c.star);
  assert.deepEqual(c.list[0]!.uri, { scheme: 'name', opaque: 'John_Smith' });
});
t('bext01', () => {
  const m = req('bext01');
  assert.deepEqual(m.getAll('Require'), ['nothingSupportsThis', 'nothingSupportsThisEither']);
  assert.deepEqual(m.getAll('Proxy-Require'), ['noProxiesSupportThis', 'norDoAnyProxiesSupportThis']);
});
t('invut', () => {
  const m = req('invut');
  assert.equal(m.contentType(), 'application/unknownformat');
  assert.equal(m.body.toString(), '<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n');
});
t('regaut01', () => {
  const m = req('regaut01');
  assert.equal(m.get('Authorization'), 'NoOneKnowsThisScheme opaque-data=here');
});
t('multi01', () => rejects('multi01', 400, /more than one (Max-Forwards|CSeq|Call-ID|To|From) header/));
t('mcl01', () => rejects('mcl01', 400, /more than one Content-Length header/));
t('bcast', () => {
  const m = res('bcast');
  assert.deepEqual(
    m.via().map((v) => v.host),
    ['192.0.2.198', '255.255.255.255'],
  );
});
t('zeromf', () => assert.equal(req('zeromf').maxForwards(), 0));
t('cparam01', () => {
  const c = req('cparam01').contacts();
  assert.ok(!c.star);
  // Without <> the parameter belongs to the Contact header field, not the URI (RFC 3261 §20.10).
  assert.equal(sip(c.list[0]!.uri).params.size, 0);
  assert.deepEqual([...c.list[0]!.params], [['unknownparam', null]]);
  assert.equal(sip(c.list[0]!.uri).user, '+19725552222');
});
t('cparam02', () => {
  const c = req('cparam02').contacts();
  assert.ok(!c.star);
  assert.deepEqual([...sip(c.list[0]!.uri).params], [['unknownparam', null]]);
  assert.equal(c.list[0]!.params.size, 0);
});
t('regescrt', () => {
  const c = req('regescrt').contacts();
  assert.ok(!c.star);
  assert.deepEqual(sip(c.list[0]!.uri).headers, [['Route', '<sip:sip.example.com>']]);
});
t('sdp01', () => assert.deepEqual(req('sdp01').getAll('Accept'), ['text/nobodyKnowsThis']));
t('inv2543', () => {
  const m: SipMessage = req('inv2543');
  assert.equal(branchOf(m.topVia()), undefined);
  assert.equal(m.maxForwards(), undefined);
  assert.equal(m.contentLength(), undefined);
  // No Content-Length on a datagram: the body runs to the end of the datagram.
  assert.equal(m.body.length, 105);
  // Without <> the ;user=phone belongs to the header field (RFC 3261 §20.10).
  assert.equal(m.to().params.get('user'), 'phone');
});
