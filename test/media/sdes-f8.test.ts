/**
 * F8_128_HMAC_SHA1_80 (RFC 3711 §4.1.2, issue 18 item 9): negotiable only when SRTP Ciphers lists it. With the
 * parameter's default an F8-only offer falls back to RTP (488 with Block Unencrypted Calls); listed, it is chosen
 * after every AES suite, the proxy's offer filter keeps F8 lines, and the negotiated keys carry SRTP and SRTCP
 * both ways through the engine (whose F8 keystream is checked against RFC 3711 B.1 in srtp-vectors.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptCryptoAnswer,
  createCryptoOffer,
  formatCryptoAttribute,
  generateCryptoAttribute,
  negotiateCrypto,
} from '../../src/sdp/index.js';
import type { Suite } from '../../src/sdp/suites.js';
import { SrtpContext } from '../../src/media/srtp/index.js';
import { PARAMS_BY_NAME } from '../../src/store/params-registry.js';
import { checkOffer } from '../../src/sip/sdp/crypto-policy.js';
import { rtcpSenderReport, rtpPacket } from './rtp-fixtures.js';

const defaultAllowed = PARAMS_BY_NAME.get('SRTPCiphers')!.default.split(',') as Suite[];
const withF8: Suite[] = [...defaultAllowed, 'F8_128_HMAC_SHA1_80'];
const f8Only = [generateCryptoAttribute(1, 'F8_128_HMAC_SHA1_80')];

test('default SRTP Ciphers: an F8-only offer is not taken (RTP, or 488 when unencrypted calls are blocked)', () => {
  assert.ok(!defaultAllowed.includes('F8_128_HMAC_SHA1_80'));
  assert.deepEqual(negotiateCrypto(f8Only, { allowed: defaultAllowed, blockUnencrypted: false, purpose: 'call' }), {
    mode: 'rtp',
    reason: 'no common crypto suite',
  });
  assert.equal(negotiateCrypto(f8Only, { allowed: defaultAllowed, blockUnencrypted: true, purpose: 'call' }).mode, 'reject');
  // The proxy strips the F8 line from an offer it forwards, so the answerer cannot pick it either.
  const sdp = (lines: string[]) =>
    Buffer.from(
      ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 4000 RTP/SAVP 0', ...lines, ''].join('\r\n'),
    );
  const offer = sdp(f8Only.map((a) => `a=crypto:${formatCryptoAttribute(a)}`));
  const stripped = checkOffer(offer, { allowed: defaultAllowed, blockUnencrypted: false });
  assert.ok(stripped.mode !== 'reject' && !/F8_128/.test(stripped.sdp.toString()));
  const kept = checkOffer(offer, { allowed: withF8, blockUnencrypted: false });
  assert.ok(kept.mode === 'srtp' && /a=crypto:1 F8_128_HMAC_SHA1_80 inline:/.test(kept.sdp.toString()), JSON.stringify(kept));
});

test('listed: F8 is chosen only when no AES suite is offered, and its keys carry SRTP/SRTCP both ways', () => {
  const opts = { allowed: withF8, blockUnencrypted: false, purpose: 'call' } as const;
  const both = [generateCryptoAttribute(1, 'F8_128_HMAC_SHA1_80'), generateCryptoAttribute(2, 'AES_CM_128_HMAC_SHA1_32')];
  const r1 = negotiateCrypto(both, opts);
  assert.equal(r1.mode === 'srtp' && r1.suite, 'AES_CM_128_HMAC_SHA1_32');

  // We offer (F8 listed last), a peer that knows only F8 answers.
  const ours = createCryptoOffer(withF8, 'call');
  assert.equal(ours.at(-1)!.suite, 'F8_128_HMAC_SHA1_80');
  const peer = negotiateCrypto(
    ours.filter((a) => a.suite === 'F8_128_HMAC_SHA1_80'),
    opts,
  );
  assert.ok(peer.mode === 'srtp' && peer.suite === 'F8_128_HMAC_SHA1_80');
  const mine = acceptCryptoAnswer(ours, peer.local);
  assert.ok(mine && mine.suite === 'F8_128_HMAC_SHA1_80');

  const a = { tx: new SrtpContext(mine.txPolicy), rx: new SrtpContext(mine.rxPolicy) };
  const b = { tx: new SrtpContext(peer.txPolicy), rx: new SrtpContext(peer.rxPolicy) };
  try {
    for (let seq = 1; seq <= 3; seq++) {
      const rtp = rtpPacket(seq, 0x1234);
      const wire = a.tx.protect(rtp);
      assert.equal(wire.length, rtp.length + 10, 'HMAC-SHA1-80 tag');
      assert.notDeepEqual(wire.subarray(12, rtp.length), rtp.subarray(12), 'payload encrypted');
      assert.deepEqual(b.rx.unprotect(wire), rtp);
      const back = rtpPacket(seq, 0x5678);
      assert.deepEqual(a.rx.unprotect(b.tx.protect(back)), back);
    }
    const sr = rtcpSenderReport(0x1234);
    assert.deepEqual(b.rx.unprotectRtcp(a.tx.protectRtcp(sr)), sr);
    // A flipped bit fails authentication.
    const bad = a.tx.protect(rtpPacket(9, 0x1234));
    bad[20]! ^= 1;
    assert.throws(() => b.rx.unprotect(bad), { code: 'ERR_SRTP_AUTH' });
  } finally {
    for (const c of [a.tx, a.rx, b.tx, b.rx]) c.close();
  }
});
