/** Router core against a real store: CSS/partitions for INVITE, presence groups for SUBSCRIBE, SRTP policy, trunk ACL, responses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import type { SipRequest, SipResponse } from '../../../src/sip/core/messages/message.js';
import { DigestServer } from '../../../src/sip/core/auth/digest.js';
import { Registrar } from '../../../src/sip/registrar/registrar.js';
import { ApplianceDirectory, StoreRoutingDirectory } from '../../../src/daemons/adapters/sip-store.js';
import { Router } from '../../../src/sip/routing/router.js';
import { openStore } from '../../../src/store/index.js';
import type { MessageSource } from '../../../src/sip/transports/types.js';

const now = Date.parse('2026-11-25T10:00:00Z');
const flow = (port: number): MessageSource => ({ transport: 'udp', address: '127.0.0.1', port });
const KEY = 'inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-router-'));
  const store = openStore(join(dir, 'sbd.db'), { create: true });
  const profile = 'Universal Device Template - Model-independent Security Profile';
  store.addDevice({ name: 'SEP000000000001', model: '8841', directoryNumber: '1001', securityProfile: profile });
  store.addDevice({ name: 'SEP000000000002', model: '8841', directoryNumber: '1002', securityProfile: profile });
  store.addDevice({ name: 'SEP000000000003', model: '8841', directoryNumber: '1003', securityProfile: profile });
  store.sip.putPartition('Exec');
  store.sip.putCss('ExecCSS', ['Exec']);
  store.sip.setDeviceSettings('SEP000000000002', { partition: 'Exec' });
  store.sip.setDeviceSettings('SEP000000000003', { css: 'ExecCSS' });
  const directory = new ApplianceDirectory(store, { refreshMs: 0, now: () => now });
  const digest = new DigestServer({ realm: 'ccmsipline', secret: Buffer.alloc(32, 1) });
  const registrar = new Registrar({ digest, directory });
  for (const [dn, port] of [
    ['1001', 6001],
    ['1002', 6002],
    ['1003', 6003],
  ] as const) {
    registrar.bindings.store(dn, [
      {
        contact: `sip:${dn}@127.0.0.1:${port}`,
        q: 1000,
        expiresAt: now + 600_000,
        callId: 'x',
        cseq: 1,
        source: flow(port),
        device: `SEP00000000000${dn.slice(3)}`,
      },
    ]);
  }
  const router = new Router({ registrar, directory, routing: new StoreRoutingDirectory(store), digest }, [
    { transport: 'udp', host: '127.0.0.1', port: 5060 },
  ]);
  return {
    store,
    router,
    done: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function request(method: string, from: string, to: string, extra: string[] = [], body = ''): SipRequest {
  return parseMessage(
    Buffer.from(
      [
        `${method} sip:${to}@127.0.0.1:5060 SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${6000 + Number(from.slice(-1))};branch=z9hG4bK${Math.random().toString(36).slice(2)}`,
        `From: <sip:${from}@127.0.0.1>;tag=a`,
        `To: <sip:${to}@127.0.0.1>`,
        `Call-ID: ${Math.random()}@x`,
        `CSeq: 1 ${method}`,
        'Max-Forwards: 70',
        `Contact: <sip:${from}@127.0.0.1:${6000 + Number(from.slice(-1))}>`,
        ...extra,
        ...(body ? ['Content-Type: application/sdp'] : []),
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n'),
    ),
  ) as SipRequest;
}

const sdp = (crypto: string[], profile = 'RTP/SAVP') =>
  ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio 4000 ${profile} 0`, ...crypto, ''].join('\r\n');

test('calling search spaces: a partitioned line is reachable only from a CSS that lists its partition', () => {
  const r = setup();
  try {
    const denied = r.router.handleRequest(request('INVITE', '1001', '1002'), flow(6001), now);
    assert.equal(denied.type, 'respond');
    assert.equal((denied as { response: SipResponse }).response.status, 404);
    const allowed = r.router.handleRequest(request('INVITE', '1003', '1002'), flow(6003), now);
    assert.equal(allowed.type, 'forward');
    const fwd = allowed as { message: SipRequest; target: { kind: string; source: MessageSource } };
    assert.equal(fwd.target.source.port, 6002);
    assert.match(fwd.message.get('Record-Route')!, /^<sip:127\.0\.0\.1:5060;transport=udp;lr;sbd-mac=[\w-]{22}>$/);
    assert.match(fwd.message.headers[0]!.value, /^SIP\/2\.0\/UDP 127\.0\.0\.1:5060;branch=z9hG4bK-sbd-/);
    assert.equal(fwd.message.get('Max-Forwards'), '69');
    // <None> partition reachable from anyone
    assert.equal(r.router.handleRequest(request('INVITE', '1002', '1001'), flow(6002), now).type, 'forward');
    // not registered from this flow and no credentials → 407
    const other = r.router.handleRequest(request('INVITE', '1001', '1003'), flow(7777), now) as { response: SipResponse };
    assert.equal(other.response.status, 407);
  } finally {
    r.done();
  }
});

test('presence SUBSCRIBE follows the presence group policy', () => {
  const r = setup();
  try {
    r.store.sip.putPresenceGroup('Staff');
    r.store.sip.putPresenceGroup('Board');
    r.store.sip.setDeviceSettings('SEP000000000001', { presenceGroup: 'Staff' });
    r.store.sip.setDeviceSettings('SEP000000000003', { presenceGroup: 'Board', css: 'ExecCSS' });
    r.store.sip.setPresencePolicy('Staff', 'Board', false);
    const sub = (from: string, to: string, port: number) =>
      r.router.handleRequest(request('SUBSCRIBE', from, to, ['Event: presence']), flow(port), now);
    assert.equal((sub('1001', '1003', 6001) as { response: SipResponse }).response.status, 403);
    assert.equal(sub('1003', '1001', 6003).type, 'forward');
  } finally {
    r.done();
  }
});

test('SRTP policy: disallowed suites stripped from the offer, Block Unencrypted Calls refuses RTP with 488, secure indication set', () => {
  const r = setup();
  try {
    r.store.setParam('SRTPCiphers', 'AES_CM_128_HMAC_SHA1_80');
    const offer = sdp([`a=crypto:1 AES_CM_128_HMAC_SHA1_32 ${KEY}`, `a=crypto:2 AES_CM_128_HMAC_SHA1_80 ${KEY}`]);
    const f = r.router.handleRequest(request('INVITE', '1002', '1001', [], offer), flow(6002), now) as {
      type: string;
      message: SipRequest;
    };
    assert.equal(f.type, 'forward');
    const body = f.message.body.toString();
    assert.doesNotMatch(body, /SHA1_32/);
    assert.match(body, /a=crypto:2 AES_CM_128_HMAC_SHA1_80/);
    // SRTP, but its keys crossed UDP legs in clear: not Encrypted (issue 16 row 10); over TLS legs it is
    assert.match(f.message.get('Call-Info')!, /security=NotAuthenticated/);
    // RTP offer: allowed by default (not secure), refused with Block Unencrypted Calls
    const rtp = r.router.handleRequest(request('INVITE', '1002', '1001', [], sdp([], 'RTP/AVP')), flow(6002), now) as {
      type: string;
      message: SipRequest;
    };
    assert.match(rtp.message.get('Call-Info')!, /security=NotAuthenticated/);
    r.store.setParam('BlockUnencryptedCalls', 'true');
    const blocked = r.router.handleRequest(request('INVITE', '1002', '1001', [], sdp([], 'RTP/AVP')), flow(6002), now) as {
      response: SipResponse;
    };
    assert.equal(blocked.response.status, 488);
    const only32 = r.router.handleRequest(
      request('INVITE', '1002', '1001', [], sdp([`a=crypto:1 AES_CM_128_HMAC_SHA1_32 ${KEY}`])),
      flow(6002),
      now,
    ) as { response: SipResponse };
    assert.equal(only32.response.status, 488);
  } finally {
    r.done();
  }
});

test('trunk: Replaces refused (403) unless the trunk profile allows it; a route pattern sends a number to the trunk', () => {
  const r = setup();
  try {
    r.store.putUser({ userid: 'gw', credentialHash: 'x', algorithm: 'none', kind: 'application' });
    r.store.sip.putTrunk({ name: 'gw', host: '127.0.0.5', port: 5070, transport: 'udp', digestAuth: false, acl: { replaces: true } });
    r.store.sip.putRoutePattern('9XXX', null, 'gw');
    const src: MessageSource = { transport: 'udp', address: '127.0.0.5', port: 5070 };
    const withReplaces = request('INVITE', '1009', '1001', ['Replaces: abc@x;to-tag=1;from-tag=2']);
    assert.equal(r.router.handleRequest(withReplaces, src, now).type, 'forward');
    r.store.sip.putTrunk({ name: 'gw', host: '127.0.0.5', port: 5070, transport: 'udp', digestAuth: false, acl: {} });
    const refused = r.router.handleRequest(request('INVITE', '1009', '1001', ['Replaces: abc@x;to-tag=1;from-tag=2']), src, now) as {
      response: SipResponse;
    };
    assert.equal(refused.response.status, 403);
    assert.match(refused.response.reason, /replaces not allowed on trunk gw/);
    const out = r.router.handleRequest(request('INVITE', '1001', '9123'), flow(6001), now) as {
      type: string;
      target: { host: string; port: number };
    };
    assert.equal(out.type, 'forward');
    assert.deepEqual([out.target.host, out.target.port], ['127.0.0.5', 5070]);
  } finally {
    r.done();
  }
});
