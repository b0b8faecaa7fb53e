/**
 * The router's keyed MACs and the tables and helpers around them (route-mac.ts, record-route.ts,
 * forwarded-invites.ts, route-key.ts, trunk-peer.ts; crypto-policy.ts withoutKeys): fixed key, exact values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import type { SipResponse } from '../../../src/sip/core/messages/message.js';
import { parseUri, type SipUri } from '../../../src/sip/core/messages/uri.js';
import { parseVia } from '../../../src/sip/core/messages/via.js';
import { BRANCH_PREFIX, RouteKeyCode, RouteKeyError, RouteMac } from '../../../src/sip/routing/route-mac.js';
import { contactPeer, peerOf, rebindRecordRoutes, recordRouteValue } from '../../../src/sip/routing/record-route.js';
import { ForwardedInvites } from '../../../src/sip/routing/forwarded-invites.js';
import { routeKey } from '../../../src/sip/routing/route-key.js';
import { trunkPeerByIssuer } from '../../../src/sip/routing/trunk-peer.js';
import { withoutKeys } from '../../../src/sip/sdp/crypto-policy.js';
import type { TrunkRow } from '../../../src/store/index.js';

const mac = new RouteMac(Buffer.alloc(32, 1));

test("branch: deterministic, ACK/CANCEL share the INVITE's, and every field of the Via below counts", () => {
  const via = parseVia('SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKa;rport=6001;received=127.0.0.1');
  const b = mac.branch(via, 'c@x', 'INVITE');
  assert.match(b, new RegExp(`^${BRANCH_PREFIX}[\\w-]{22}$`));
  assert.equal(mac.branch(via, 'c@x', 'CANCEL'), b);
  assert.equal(mac.branch(via, 'c@x', 'ACK'), b);
  assert.notEqual(mac.branch(via, 'c@x', 'BYE'), b);
  assert.ok(mac.verifyBranch(b, via, 'c@x', 'INVITE'));
  for (const other of [
    'SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKb;rport=6001;received=127.0.0.1',
    'SIP/2.0/UDP 127.0.0.1:6002;branch=z9hG4bKa;rport=6001;received=127.0.0.1',
    'SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKa;rport=9999;received=127.0.0.1',
    'SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKa;rport=6001;received=203.0.113.99',
    'SIP/2.0/TCP 127.0.0.1:6001;branch=z9hG4bKa;rport=6001;received=127.0.0.1',
  ]) {
    assert.equal(mac.verifyBranch(b, parseVia(other), 'c@x', 'INVITE'), false, other);
  }
  assert.equal(mac.verifyBranch(b, via, 'd@x', 'INVITE'), false);
  assert.equal(new RouteMac(Buffer.alloc(32, 2)).verifyBranch(b, via, 'c@x', 'INVITE'), false, 'another key');
  assert.throws(
    () => new RouteMac(Buffer.alloc(8)),
    (e: unknown) => e instanceof RouteKeyError && e.code === RouteKeyCode.keyLength,
  );
});

test('Record-Route: the MAC binds our hop, the Call-ID and the remote target; a response rebinds only ours', () => {
  const hop = { host: '127.0.0.1', port: 5060, transport: 'udp' };
  const v = recordRouteValue(hop, mac, 'c@x', '127.0.0.1:6001');
  const uri = parseUri(v.slice(1, -1)) as SipUri;
  assert.ok(mac.verifyRoute(uri, 'c@x', '127.0.0.1:6001'));
  assert.equal(mac.verifyRoute(uri, 'c@x', '127.0.0.1:6002'), false);
  assert.equal(mac.verifyRoute(uri, 'c2@x', '127.0.0.1:6001'), false);
  assert.equal(peerOf(parseUri('sip:1001@[::1]:6001;transport=tls')), '::1:6001');
  assert.equal(peerOf(parseUri('sip:1001@Example.COM')), 'example.com:');
  const res = parseMessage(
    Buffer.from(
      [
        'SIP/2.0 200 OK',
        'Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKa',
        'From: <sip:a@x>;tag=1',
        'To: <sip:b@x>;tag=2',
        'Call-ID: c@x',
        'CSeq: 1 INVITE',
        `Record-Route: <sip:proxy.example;lr>, ${v}`,
        'Contact: <sip:1002@127.0.0.1:6002>',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  ) as SipResponse;
  assert.equal(contactPeer(res), '127.0.0.1:6002');
  rebindRecordRoutes(res, mac, (u) => u.host === '127.0.0.1' && u.port === 5060);
  const [other, ours] = res.getAll('Record-Route');
  assert.equal(other, '<sip:proxy.example;lr>', "others' entries kept byte for byte");
  assert.ok(mac.verifyRoute(parseUri(ours!.slice(1, -1)) as SipUri, 'c@x', '127.0.0.1:6002'));
});

test('forwarded INVITEs: found by branch, bounded (oldest out), expire (Timer C after a provisional)', () => {
  const t = new ForwardedInvites<string>({ maxForwardedInvites: 2, pendingTtlMs: 100, proceedingTtlMs: 1000 });
  const uri = parseUri('sip:1002@127.0.0.1:6002');
  t.remember('b1', uri, 'one', 0);
  t.remember('b2', uri, 'two', 0);
  t.remember('b3', uri, 'three', 0);
  assert.equal(t.size, 2);
  assert.equal(t.find('b1', 1), undefined);
  assert.equal(t.find('b3', 1)?.target, 'three');
  t.onResponse('b3', 180, 50);
  assert.equal(t.find('b2', 150), undefined, 'expired');
  assert.equal(t.find('b3', 1000)?.target, 'three', 'kept for Timer C after the 180');
  t.onResponse('b3', 486, 1000);
  assert.equal(t.find('b3', 1101), undefined, '64·T1 after the final response');
  assert.deepEqual(t.stats, { remembered: 3, evicted: 1 });
});

test('route key file: made 0600 on first use, read back, a broken one is a typed error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-route-key-'));
  try {
    const k = routeKey(dir);
    assert.equal(k.length, 32);
    assert.equal(statSync(join(dir, 'sip-route.key')).mode & 0o777, 0o600);
    assert.deepEqual(routeKey(dir), k);
    writeFileSync(join(dir, 'sip-route.key'), 'nope\n');
    assert.throws(
      () => routeKey(dir),
      (e: unknown) => e instanceof RouteKeyError && e.code === RouteKeyCode.key,
    );
    assert.notDeepEqual(routeKey(), routeKey(), 'random without a state folder');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trunk peer: only over TLS, only with a verified certificate whose issuer is in the bundle', () => {
  const trunk = { name: 't', transport: 'tls', tlsCaPem: null } as unknown as TrunkRow;
  const src = (issuer?: string, transport: 'tls' | 'tcp' = 'tls') => ({
    transport,
    address: '127.0.0.5',
    port: 1,
    ...(issuer ? { peerCertificate: { subject: 'CN=x', issuer, fingerprint256: 'AA' } } : {}),
  });
  assert.equal(trunkPeerByIssuer(trunk, src('CN=a')), false, 'no bundle: nothing matches');
  assert.equal(trunkPeerByIssuer(trunk, src(), 'garbage'), false);
});

test('withoutKeys: every a=crypto line gone, RTP/SAVP streams become RTP/AVP, the rest unchanged', () => {
  const sdp = [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=-',
    'a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:x',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    'm=audio 4000 RTP/SAVP 0 8',
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz',
    'a=rtpmap:0 PCMU/8000',
    'm=video 0 RTP/SAVP 96',
    '',
  ].join('\r\n');
  assert.equal(
    withoutKeys(Buffer.from(sdp)).toString(),
    [
      'v=0',
      'o=- 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      'm=audio 4000 RTP/AVP 0 8',
      'a=rtpmap:0 PCMU/8000',
      'm=video 0 RTP/AVP 96',
      '',
    ].join('\r\n'),
  );
});
