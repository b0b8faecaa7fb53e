/**
 * Trunk challenges answered by the router (sans-I/O, real store, fixed clock): the ACK sbd sends for the 401/407,
 * the re-sent request (CSeq + 1, new branch, digest per realm), the CSeq offset on the phone's BYE/ACK and on
 * responses, CANCEL and non-2xx ACK mapping, the cases that go to the phone, and the table's bound and TTL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import { serializeMessage } from '../../../src/sip/core/messages/serializer.js';
import { parseAuthHeader } from '../../../src/sip/core/auth/digest.js';
import { formatUri } from '../../../src/sip/core/messages/uri.js';
import type { SipMessage, SipRequest, SipResponse } from '../../../src/sip/core/messages/message.js';
import { DigestServer } from '../../../src/sip/core/auth/digest.js';
import { Registrar } from '../../../src/sip/registrar/registrar.js';
import { ApplianceDirectory, StoreRoutingDirectory, storeTrunkCredentials } from '../../../src/daemons/adapters/sip-store.js';
import { Router, type RouterAction } from '../../../src/sip/routing/router.js';
import type { TrunkChallengeOptions } from '../../../src/sip/routing/trunk-challenge.js';
import { encryptTrunkPassword } from '../../../src/sip/auth/trunk-secret.js';
import { openStore } from '../../../src/store/index.js';
import type { StateLayout } from '../../../src/store/state.js';
import { silentLogger } from '../../../src/lib/log.js';
import type { MessageSource } from '../../../src/sip/transports/types.js';

const T0 = Date.parse('2026-11-25T10:00:00Z');
const phone: MessageSource = { transport: 'udp', address: '127.0.0.1', port: 6001 };
const trunkFlow: MessageSource = { transport: 'udp', address: '127.0.0.5', port: 5070 };
const PASSWORD = 'trunk-secret-pw';

function setup(options: TrunkChallengeOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-trunkauth-'));
  const keysDir = join(dir, 'keys');
  mkdirSync(keysDir);
  const layout = { keysDir } as StateLayout;
  const store = openStore(join(dir, 'sbd.db'), { create: true });
  store.addDevice({
    name: 'SEP000000000001',
    model: '8841',
    directoryNumber: '1001',
    securityProfile: 'Universal Device Template - Model-independent Security Profile',
  });
  store.sip.putTrunk({ name: 'carrier', host: '127.0.0.5', port: 5070, transport: 'udp', digestAuth: false });
  store.sip.putRoutePattern('9!', null, 'carrier');
  store.sip.putTrunkCredential(
    'carrier',
    'carrier.example',
    'sbd-account',
    encryptTrunkPassword(layout, 'carrier', 'carrier.example', PASSWORD),
  );
  const directory = new ApplianceDirectory(store, { refreshMs: 0, now: () => T0 });
  const digest = new DigestServer({ realm: 'ccmsipline', secret: Buffer.alloc(32, 1) });
  const registrar = new Registrar({ digest, directory });
  registrar.bindings.store('1001', [
    {
      contact: 'sip:1001@127.0.0.1:6001',
      q: 1000,
      expiresAt: T0 + 3_600_000,
      callId: 'x',
      cseq: 1,
      source: phone,
      device: 'SEP000000000001',
    },
  ]);
  const router = new Router(
    {
      registrar,
      directory,
      routing: new StoreRoutingDirectory(store),
      digest,
      trunkCredentials: storeTrunkCredentials(store, layout, silentLogger),
    },
    [{ transport: 'udp', host: '127.0.0.1', port: 5060 }],
    { trunkChallenge: { random: () => Buffer.alloc(8, 0xab), ...options } },
  );
  return {
    store,
    router,
    layout,
    done: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Through the wire format and back, as the daemon sends and the far end receives it. */
const wire = <T extends SipMessage>(m: SipMessage): T => parseMessage(serializeMessage(m)) as T;

function invite(method = 'INVITE', cseq = 3, branch = 'z9hG4bKphone1', callId = 'call-1@127.0.0.1'): SipRequest {
  return parseMessage(
    Buffer.from(
      [
        `${method} sip:9123@127.0.0.1:5060 SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:6001;branch=${branch};rport`,
        'From: <sip:1001@127.0.0.1>;tag=ph1',
        'To: <sip:9123@127.0.0.1>',
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} ${method}`,
        'Max-Forwards: 70',
        'Contact: <sip:1001@127.0.0.1:6001>',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  ) as SipRequest;
}

function forwarded(a: RouterAction): SipRequest {
  assert.equal(a.type, 'forward', JSON.stringify(a.type === 'respond' ? a.response.status : a));
  return wire<SipRequest>((a as { message: SipMessage }).message);
}

/** The far end's response to a request it received (its Vias copied, a To tag added). */
function answer(req: SipRequest, status: number, reason: string, extra: string[] = [], toTag = 'tr1'): SipResponse {
  const vias = req.headers.filter((h) => /^(via|v)$/i.test(h.name)).map((h) => `Via: ${h.value}`);
  const rr = req.headers.filter((h) => /^record-route$/i.test(h.name)).map((h) => `Record-Route: ${h.value}`);
  return parseMessage(
    Buffer.from(
      [
        `SIP/2.0 ${status} ${reason}`,
        ...vias,
        `From: ${req.get('From')}`,
        `To: ${req.get('To')}${req.to().params.has('tag') ? '' : `;tag=${toTag}`}`,
        `Call-ID: ${req.callId()}`,
        `CSeq: ${req.get('CSeq')}`,
        ...(status < 300 && req.method === 'INVITE' ? [...rr, 'Contact: <sip:9123@127.0.0.5:5070>'] : []),
        ...extra,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  ) as SipResponse;
}

const challenge407 = (nonce = 'n1', extra = '') =>
  `Proxy-Authenticate: Digest realm="carrier.example", nonce="${nonce}", algorithm=MD5, qop="auth"${extra}`;

/** An independent check of a digest answer (RFC 2617 §3.2.2.1 with qop=auth), written out with node:crypto. */
function digestOk(header: string, method: string, password: string): boolean {
  const p = parseAuthHeader(header).params;
  const h = (s: string) =>
    createHash(p.get('algorithm') === 'SHA-256' ? 'sha256' : 'md5')
      .update(s)
      .digest('hex');
  const ha1 = h(`${p.get('username')}:${p.get('realm')}:${password}`);
  const ha2 = h(`${method}:${p.get('uri')}`);
  return p.get('response') === h(`${ha1}:${p.get('nonce')}:${p.get('nc')}:${p.get('cnonce')}:auth:${ha2}`);
}

function several(a: RouterAction): RouterAction[] {
  assert.equal(a.type, 'several');
  return (a as { actions: RouterAction[] }).actions;
}

/** INVITE → 407 → (ACK, re-sent INVITE); returns the three requests as the trunk sees them. */
function challenged(r: ReturnType<typeof setup>, now = T0) {
  const first = forwarded(r.router.handleRequest(invite(), phone, now));
  const actions = several(r.router.handleResponse(answer(first, 407, 'Proxy Authentication Required', [challenge407()]), trunkFlow, now));
  const sends = actions.filter((x) => x.type === 'forward').map(forwarded);
  const logs = actions.filter((x) => x.type === 'log');
  return { first, ack: sends[0]!, resent: sends[1]!, sends, logs };
}

test('a 407 from the trunk is ACKed by sbd and the INVITE re-sent with Proxy-Authorization, CSeq + 1 and a new branch', () => {
  const r = setup();
  try {
    const { first, ack, resent, sends, logs } = challenged(r);
    assert.equal(sends.length, 2);
    // §17.1.1.3: one Via equal to the INVITE's top Via (same branch), same CSeq number, To with the response's tag
    assert.equal(ack.method, 'ACK');
    assert.equal(ack.getAll('Via').length, 1);
    assert.equal(ack.getAll('Via')[0], first.getAll('Via')[0]);
    assert.equal(ack.get('CSeq'), '3 ACK');
    assert.equal(ack.to().params.get('tag'), 'tr1');
    assert.equal(ack.callId(), first.callId());
    assert.equal(ack.get('From'), first.get('From'));
    assert.equal(formatUri(ack.uri), formatUri(first.uri));
    // the re-sent INVITE
    assert.equal(resent.get('CSeq'), '4 INVITE');
    const b0 = first.topVia().params.get('branch')!;
    const b1 = resent.topVia().params.get('branch')!;
    assert.notEqual(b1, b0);
    assert.match(b1, /^z9hG4bK-sbd-/);
    assert.equal(resent.topVia().params.get('sbd-cseq'), '1');
    assert.equal(resent.getAll('Via')[1], first.getAll('Via')[1]); // the phone's Via unchanged
    assert.match(resent.get('Record-Route')!, /^<sip:127\.0\.0\.1:5060;transport=udp;lr;sbd-mac=[\w-]{22};sbd-cseq=1>$/);
    assert.equal(formatUri(resent.uri), formatUri(first.uri));
    assert.equal(resent.to().params.get('tag'), undefined);
    const auth = resent.get('Proxy-Authorization')!;
    assert.ok(digestOk(auth, 'INVITE', PASSWORD), auth);
    const p = parseAuthHeader(auth).params;
    assert.deepEqual(
      [p.get('username'), p.get('realm'), p.get('nonce'), p.get('uri'), p.get('qop'), p.get('nc')],
      ['sbd-account', 'carrier.example', 'n1', formatUri(first.uri), 'auth', '00000001'],
    );
    assert.equal(resent.get('Authorization'), undefined);
    // everything else unchanged
    for (const h of ['From', 'To', 'Call-ID', 'Contact', 'Max-Forwards']) assert.equal(resent.get(h), first.get(h), h);
    // one log line per answered challenge, never the password
    assert.equal(logs.length, 1);
    assert.deepEqual((logs[0] as { fields: Record<string, unknown> }).fields, {
      trunk: 'carrier',
      realm: 'carrier.example',
      method: 'INVITE',
      status: 407,
      algorithm: 'MD5',
    });
    assert.doesNotMatch(JSON.stringify(logs), new RegExp(PASSWORD));
  } finally {
    r.done();
  }
});

test("responses to the re-sent INVITE and to the phone's in-dialog requests carry the phone's CSeq; its BYE and ACK get the offset", () => {
  const r = setup();
  try {
    const { resent } = challenged(r);
    const ringing = forwarded(
      r.router.handleResponse(answer(resent, 180, 'Ringing'), trunkFlow, T0) as RouterAction,
    ) as unknown as SipResponse;
    assert.equal(ringing.get('CSeq'), '3 INVITE');
    assert.equal(ringing.getAll('Via').length, 1); // only the phone's
    const okAction = r.router.handleResponse(answer(resent, 200, 'OK'), trunkFlow, T0);
    const ok = wire<SipResponse>((okAction as { message: SipMessage }).message);
    assert.equal(ok.get('CSeq'), '3 INVITE');
    assert.match(ok.get('Record-Route')!, /^<sip:127\.0\.0\.1:5060;transport=udp;lr;sbd-mac=[\w-]{22};sbd-cseq=1>$/);
    // the phone's ACK for the 2xx and BYE, along the route set (CSeq 3 and 4 in its own numbering)
    const inDialog = (method: string, cseq: number, branch: string) =>
      parseMessage(
        Buffer.from(
          [
            `${method} sip:9123@127.0.0.5:5070 SIP/2.0`,
            `Via: SIP/2.0/UDP 127.0.0.1:6001;branch=${branch};rport`,
            'From: <sip:1001@127.0.0.1>;tag=ph1',
            'To: <sip:9123@127.0.0.1>;tag=tr1',
            'Call-ID: call-1@127.0.0.1',
            `CSeq: ${cseq} ${method}`,
            'Max-Forwards: 70',
            `Route: ${ok.get('Record-Route')}`,
            'Content-Length: 0',
            '',
            '',
          ].join('\r\n'),
        ),
      ) as SipRequest;
    const ack = forwarded(r.router.handleRequest(inDialog('ACK', 3, 'z9hG4bKack2xx'), phone, T0));
    assert.equal(ack.get('CSeq'), '4 ACK');
    assert.equal(ack.get('Route'), undefined);
    const bye = forwarded(r.router.handleRequest(inDialog('BYE', 4, 'z9hG4bKbye'), phone, T0));
    assert.equal(bye.get('CSeq'), '5 BYE');
    assert.equal(bye.topVia().params.get('sbd-cseq'), '1');
    const byeOk = wire<SipResponse>((r.router.handleResponse(answer(bye, 200, 'OK'), trunkFlow, T0) as { message: SipMessage }).message);
    assert.equal(byeOk.get('CSeq'), '4 BYE');
    // a BYE from the trunk along its route set (the Record-Route of the INVITE it received) keeps the trunk's own numbering
    const trunkBye = parseMessage(
      Buffer.from(
        [
          'BYE sip:1001@127.0.0.1:6001 SIP/2.0',
          'Via: SIP/2.0/UDP 127.0.0.5:5070;branch=z9hG4bKtrbye',
          'From: <sip:9123@127.0.0.1>;tag=tr1',
          'To: <sip:1001@127.0.0.1>;tag=ph1',
          'Call-ID: call-1@127.0.0.1',
          'CSeq: 7 BYE',
          'Max-Forwards: 70',
          `Route: ${resent.get('Record-Route')}`,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      ),
    ) as SipRequest;
    const fwdTrunkBye = forwarded(r.router.handleRequest(trunkBye, trunkFlow, T0));
    assert.equal(fwdTrunkBye.get('CSeq'), '7 BYE');
    assert.equal(fwdTrunkBye.topVia().params.get('sbd-cseq'), undefined);
  } finally {
    r.done();
  }
});

test('CANCEL, the non-2xx ACK and INVITE retransmissions from the phone follow the re-sent INVITE', () => {
  const r = setup();
  try {
    const { resent } = challenged(r);
    const b1 = resent.topVia().params.get('branch');
    // retransmission of the phone's INVITE (same branch): the re-sent one goes again, with its credentials
    const again = forwarded(r.router.handleRequest(invite(), phone, T0 + 500));
    assert.equal(again.topVia().params.get('branch'), b1);
    assert.equal(again.get('CSeq'), '4 INVITE');
    assert.ok(again.get('Proxy-Authorization'));
    const cancel = forwarded(r.router.handleRequest(invite('CANCEL', 3), phone, T0 + 1000));
    assert.equal(cancel.method, 'CANCEL');
    assert.equal(cancel.topVia().params.get('branch'), b1);
    assert.equal(cancel.get('CSeq'), '4 CANCEL');
    assert.equal(formatUri(cancel.uri), formatUri(resent.uri)); // routed by the table to the trunk, not answered 481
    const cancelOk = wire<SipResponse>(
      (r.router.handleResponse(answer(cancel, 200, 'OK'), trunkFlow, T0 + 1000) as { message: SipMessage }).message,
    );
    assert.equal(cancelOk.get('CSeq'), '3 CANCEL');
    const terminated = wire<SipResponse>(
      (r.router.handleResponse(answer(resent, 487, 'Request Terminated'), trunkFlow, T0 + 1000) as { message: SipMessage }).message,
    );
    assert.equal(terminated.get('CSeq'), '3 INVITE');
    const phoneAck = invite('ACK', 3);
    phoneAck.set('To', '<sip:9123@127.0.0.1>;tag=tr1');
    const ack = forwarded(r.router.handleRequest(phoneAck, phone, T0 + 1000));
    assert.equal(ack.topVia().params.get('branch'), b1);
    assert.equal(ack.get('CSeq'), '4 ACK');
  } finally {
    r.done();
  }
});

test('no credential for the realm, a second challenge, or a retransmitted first one: nothing loops', () => {
  const r = setup();
  try {
    // another realm: forwarded to the phone unchanged
    const first = forwarded(r.router.handleRequest(invite('INVITE', 3, 'z9hG4bKother', 'call-2@x'), phone, T0));
    const other = r.router.handleResponse(
      answer(first, 407, 'Proxy Authentication Required', ['Proxy-Authenticate: Digest realm="elsewhere", nonce="x", qop="auth"']),
      trunkFlow,
      T0,
    );
    assert.equal(other.type, 'forward');
    const o = wire<SipResponse>((other as { message: SipMessage }).message);
    assert.equal(o.status, 407);
    assert.equal(o.get('CSeq'), '3 INVITE');

    const c = challenged(r);
    // the first 407 retransmitted (our ACK lost): ACKed again, not forwarded, not re-sent
    const retrans = r.router.handleResponse(answer(c.first, 407, 'Proxy Authentication Required', [challenge407()]), trunkFlow, T0);
    const rs = several(retrans)
      .filter((x) => x.type === 'forward')
      .map(forwarded);
    assert.deepEqual(
      rs.map((m) => `${m.method} ${m.get('CSeq')}`),
      ['ACK 3 ACK'],
    );
    // the re-sent INVITE challenged again (wrong password at the far end): the phone gets it, with its CSeq
    const second = r.router.handleResponse(answer(c.resent, 407, 'Proxy Authentication Required', [challenge407('n2')]), trunkFlow, T0);
    assert.equal(second.type, 'forward');
    const s = wire<SipResponse>((second as { message: SipMessage }).message);
    assert.equal(s.status, 407);
    assert.equal(s.get('CSeq'), '3 INVITE');
    assert.equal(s.getAll('Via').length, 1);
  } finally {
    r.done();
  }
});

test('stale=true is answered again (CSeq + 2); no third answer', () => {
  const r = setup();
  try {
    const c = challenged(r);
    const stale = several(
      r.router.handleResponse(answer(c.resent, 407, 'Proxy Authentication Required', [challenge407('n3', ', stale=true')]), trunkFlow, T0),
    );
    const [ack2, resent2] = stale.filter((x) => x.type === 'forward').map(forwarded);
    assert.equal(ack2!.get('CSeq'), '4 ACK');
    assert.equal(ack2!.topVia().params.get('branch'), c.resent.topVia().params.get('branch'));
    assert.equal(resent2!.get('CSeq'), '5 INVITE');
    assert.equal(resent2!.topVia().params.get('sbd-cseq'), '2');
    assert.match(resent2!.get('Record-Route')!, /^<sip:127\.0\.0\.1:5060;transport=udp;lr;sbd-mac=[\w-]{22};sbd-cseq=2>$/);
    assert.equal(parseAuthHeader(resent2!.get('Proxy-Authorization')!).params.get('nonce'), 'n3');
    assert.equal(resent2!.getAll('Proxy-Authorization').length, 1);
    assert.ok(digestOk(resent2!.get('Proxy-Authorization')!, 'INVITE', PASSWORD));
    // maxAnswersPerRequest (2) reached: even a stale challenge now goes to the phone, CSeq restored by 2
    const third = r.router.handleResponse(
      answer(resent2!, 407, 'Proxy Authentication Required', [challenge407('n4', ', stale=true')]),
      trunkFlow,
      T0,
    );
    assert.equal(third.type, 'forward');
    assert.equal(wire<SipResponse>((third as { message: SipMessage }).message).get('CSeq'), '3 INVITE');
  } finally {
    r.done();
  }
});

test('a 401 with several realms: each realm we hold is answered (SHA-256 preferred as listed); OPTIONS gets no ACK', () => {
  const r = setup();
  try {
    r.store.sip.putTrunkCredential(
      'carrier',
      'second.example',
      'acct2',
      encryptTrunkPassword(r.layout, 'carrier', 'second.example', 'pw2'),
    );
    const first = forwarded(r.router.handleRequest(invite('OPTIONS', 9, 'z9hG4bKopt', 'opt-1@x'), phone, T0));
    const res = answer(first, 401, 'Unauthorized', [
      'WWW-Authenticate: Digest realm="carrier.example", nonce="a1", algorithm=SHA-256, qop="auth"',
      'WWW-Authenticate: Digest realm="carrier.example", nonce="a1", algorithm=MD5, qop="auth"',
      'WWW-Authenticate: Digest realm="second.example", nonce="b1", algorithm=MD5',
      'WWW-Authenticate: Digest realm="unknown.example", nonce="c1", algorithm=MD5, qop="auth"',
    ]);
    const actions = several(r.router.handleResponse(res, trunkFlow, T0));
    const sends = actions.filter((x) => x.type === 'forward').map(forwarded);
    assert.equal(sends.length, 1); // no ACK for a non-INVITE
    const resent = sends[0]!;
    assert.equal(resent.method, 'OPTIONS');
    assert.equal(resent.get('CSeq'), '10 OPTIONS');
    const auths = resent.getAll('Authorization');
    assert.equal(auths.length, 2);
    const byRealm = new Map(auths.map((a) => [parseAuthHeader(a).params.get('realm'), a]));
    assert.equal(parseAuthHeader(byRealm.get('carrier.example')!).params.get('algorithm'), 'SHA-256');
    assert.ok(digestOk(byRealm.get('carrier.example')!, 'OPTIONS', PASSWORD));
    // no qop offered: the RFC 2069 form, checked by hand
    const p = parseAuthHeader(byRealm.get('second.example')!).params;
    assert.equal(p.get('qop'), undefined);
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    assert.equal(p.get('response'), md5(`${md5('acct2:second.example:pw2')}:b1:${md5(`OPTIONS:${p.get('uri')}`)}`));
    assert.equal(actions.filter((x) => x.type === 'log').length, 2);
    const ok = wire<SipResponse>((r.router.handleResponse(answer(resent, 200, 'OK'), trunkFlow, T0) as { message: SipMessage }).message);
    assert.equal(ok.get('CSeq'), '9 OPTIONS');
  } finally {
    r.done();
  }
});

test('a request to a phone is not remembered; the table is bounded and entries expire after 32 s (64×T1)', () => {
  const r = setup({ maxPendingTrunkRequests: 3 });
  try {
    const table = r.router.trunkChallenges!;
    r.router.handleRequest(
      parseMessage(
        Buffer.from(
          [
            'INVITE sip:1001@127.0.0.1:5060 SIP/2.0',
            'Via: SIP/2.0/UDP 127.0.0.5:5070;branch=z9hG4bKin',
            'From: <sip:9123@127.0.0.5>;tag=t',
            'To: <sip:1001@127.0.0.1>',
            'Call-ID: in-1@x',
            'CSeq: 1 INVITE',
            'Max-Forwards: 70',
            'Content-Length: 0',
            '',
            '',
          ].join('\r\n'),
        ),
      ) as SipRequest,
      trunkFlow,
      T0,
    );
    assert.equal(table.size, 0);
    const sent = [1, 2, 3, 4].map((i) => forwarded(r.router.handleRequest(invite('INVITE', 3, `z9hG4bKb${i}`, `bound-${i}@x`), phone, T0)));
    assert.equal(table.size, 3);
    assert.equal(table.stats.evicted, 1);
    // the evicted (oldest) one: its challenge goes to the phone; a remembered one is answered
    assert.equal(
      r.router.handleResponse(answer(sent[0]!, 407, 'Proxy Authentication Required', [challenge407()]), trunkFlow, T0).type,
      'forward',
    );
    assert.equal(
      r.router.handleResponse(answer(sent[1]!, 407, 'Proxy Authentication Required', [challenge407()]), trunkFlow, T0).type,
      'several',
    );
    // TTL: 32 s after it was sent, a challenge is no longer answered
    assert.equal(
      r.router.handleResponse(answer(sent[3]!, 407, 'Proxy Authentication Required', [challenge407()]), trunkFlow, T0 + 31_999).type,
      'several',
    );
    const late = r.router.handleResponse(answer(sent[2]!, 407, 'Proxy Authentication Required', [challenge407()]), trunkFlow, T0 + 32_000);
    assert.equal(late.type, 'forward');
    // a provisional response keeps a ringing INVITE for Timer C (3 min), so a late CANCEL still follows it
    const s1 = sent[3]!;
    const resent = forwarded(r.router.handleRequest(invite('INVITE', 3, 'z9hG4bKb4', 'bound-4@x'), phone, T0 + 31_999));
    assert.equal(resent.get('CSeq'), '4 INVITE');
    r.router.handleResponse(answer(resent, 180, 'Ringing'), trunkFlow, T0 + 32_000);
    const cancel = forwarded(r.router.handleRequest(invite('CANCEL', 3, 'z9hG4bKb4', 'bound-4@x'), phone, T0 + 200_000));
    assert.equal(cancel.get('CSeq'), '4 CANCEL');
    assert.notEqual(cancel.topVia().params.get('branch'), s1.topVia().params.get('branch'));
  } finally {
    r.done();
  }
});
