/** SDES `a=crypto` codec (RFC 4568 §9.1) and the negotiation priorities of the seeds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseCryptoAttribute,
  formatCryptoAttribute,
  generateCryptoAttribute,
  negotiateCrypto,
  createCryptoOffer,
  acceptCryptoAnswer,
  type CryptoAttribute,
} from '../../src/sdp/index.js';
import { SrtpContext, SUITE_NAMES, type Suite } from '../../src/media/srtp/index.js';
import { rtpPacket } from './rtp-fixtures.js';

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;

test('parses the RFC 4568 §4 example and formats it back byte for byte', () => {
  const line = 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32';
  const a = parseCryptoAttribute(line);
  assert.equal(a.tag, 1);
  assert.equal(a.suite, 'AES_CM_128_HMAC_SHA1_80');
  assert.equal(a.keys[0]!.key.length, 16);
  assert.equal(a.keys[0]!.salt.length, 14);
  assert.equal(a.keys[0]!.lifetime, 1n << 20n);
  assert.deepEqual(a.keys[0]!.mki, { value: 1n, length: 32 });
  assert.equal('a=crypto:' + formatCryptoAttribute(a), line);
});

test('key and salt length per suite, GCM included (RFC 7714 §14.2)', () => {
  for (const suite of SUITE_NAMES) {
    const a = generateCryptoAttribute(3, suite, { sessionParams: ['WSH=256'] });
    const text = formatCryptoAttribute(a);
    assert.deepEqual(parseCryptoAttribute(text), a);
  }
  const cm = generateCryptoAttribute(1, 'AES_CM_128_HMAC_SHA1_80');
  const b64 = formatCryptoAttribute(cm).split(' ')[2]!;
  assert.throws(() => parseCryptoAttribute(`1 AEAD_AES_128_GCM ${b64}`), code('ERR_SDES_KEY_LENGTH'));
  assert.throws(() => parseCryptoAttribute(`1 AEAD_AES_256_GCM ${b64}`), code('ERR_SDES_KEY_LENGTH'));
});

test('strict validation: each malformed part is a typed error', () => {
  const key = formatCryptoAttribute(generateCryptoAttribute(1, 'AES_CM_128_HMAC_SHA1_80')).split(' ')[2]!;
  const cases: [string, string][] = [
    [`x AES_CM_128_HMAC_SHA1_80 ${key}`, 'ERR_SDES_TAG'],
    [`1234567890 AES_CM_128_HMAC_SHA1_80 ${key}`, 'ERR_SDES_TAG'],
    [`1 AES_CM_128_HMAC_SHA1_99 ${key}`, 'ERR_SDES_SUITE'],
    ['1 AES_CM_128_HMAC_SHA1_80', 'ERR_SDES_SYNTAX'],
    [`1 AES_CM_128_HMAC_SHA1_80 uri:${key.slice(7)}`, 'ERR_SDES_KEY_METHOD'],
    ['1 AES_CM_128_HMAC_SHA1_80 inline:!!!!', 'ERR_SDES_KEY_ENCODING'],
    ['1 AES_CM_128_HMAC_SHA1_80 inline:AAAA', 'ERR_SDES_KEY_LENGTH'],
    [`1 AES_CM_128_HMAC_SHA1_80 ${key}|2^49`, 'ERR_SDES_LIFETIME'],
    [`1 AES_CM_128_HMAC_SHA1_80 ${key}|0`, 'ERR_SDES_LIFETIME'],
    [`1 AES_CM_128_HMAC_SHA1_80 ${key}|abc`, 'ERR_SDES_LIFETIME'],
    [`1 AES_CM_128_HMAC_SHA1_80 ${key}|1:0`, 'ERR_SDES_MKI'],
    [`1 AES_CM_128_HMAC_SHA1_80 ${key}|1:129`, 'ERR_SDES_MKI'],
    [`1 AES_CM_128_HMAC_SHA1_80 ${key}|256:1`, 'ERR_SDES_MKI'],
    [`1 AES_CM_128_HMAC_SHA1_80 ${key}|1:4|2^20`, 'ERR_SDES_LIFETIME'],
    [`1 AES_CM_128_HMAC_SHA1_80 ${key}|1:4;${key}|2:2`, 'ERR_SDES_MKI'],
    [`1 AES_CM_128_HMAC_SHA1_80 ${key};${key}`, 'ERR_SDES_MKI'],
    [`1 AES_CM_128_HMAC_SHA1_80 ${key}|2^20|1:4|x`, 'ERR_SDES_KEY_PARAMS'],
    [`1 AES_CM_128_HMAC_SHA1_80 ${key} ${'x'.repeat(2000)}`, 'ERR_SDES_TOO_LONG'],
  ];
  for (const [line, c] of cases) assert.throws(() => parseCryptoAttribute(line), code(c), line);
});

function offerOf(...suites: Suite[]): CryptoAttribute[] {
  return suites.map((s, i) => generateCryptoAttribute(i + 1, s));
}

const ALL: Suite[] = ['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

test('calls: AEAD_AES_256_GCM > AEAD_AES_128_GCM > AES_CM_128_HMAC_SHA1_80 > AES_CM_128_HMAC_SHA1_32, whatever the offer order', () => {
  const opts = { allowed: ALL, blockUnencrypted: false, purpose: 'call' } as const;
  const pick = (...s: Suite[]) => {
    const r = negotiateCrypto(offerOf(...s), opts);
    return r.mode === 'srtp' ? r.suite : r.mode;
  };
  assert.equal(pick('AES_CM_128_HMAC_SHA1_32', 'AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'), 'AEAD_AES_256_GCM');
  assert.equal(pick('AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'), 'AEAD_AES_128_GCM');
  assert.equal(pick('AES_CM_128_HMAC_SHA1_32', 'AES_CM_128_HMAC_SHA1_80'), 'AES_CM_128_HMAC_SHA1_80');
  assert.equal(pick('AES_CM_128_HMAC_SHA1_32'), 'AES_CM_128_HMAC_SHA1_32');
  assert.equal(pick('F8_128_HMAC_SHA1_80'), 'rtp');
  // the administrator's allowed list narrows the choice
  const r = negotiateCrypto(offerOf('AEAD_AES_256_GCM', 'AES_CM_128_HMAC_SHA1_80'), { ...opts, allowed: ['AES_CM_128_HMAC_SHA1_80'] });
  assert.equal(r.mode === 'srtp' && r.suite, 'AES_CM_128_HMAC_SHA1_80');
});

test('no common suite: RTP, or 488 when Block Unencrypted Calls is set', () => {
  const offer = offerOf('AES_CM_128_HMAC_SHA1_32');
  assert.deepEqual(negotiateCrypto(offer, { allowed: ['AEAD_AES_128_GCM'], blockUnencrypted: false, purpose: 'call' }), {
    mode: 'rtp',
    reason: 'no common crypto suite',
  });
  const r = negotiateCrypto(offer, { allowed: ['AEAD_AES_128_GCM'], blockUnencrypted: true, purpose: 'call' });
  assert.equal(r.mode, 'reject');
  assert.equal(r.mode === 'reject' && r.statusHint, 488);
  assert.equal(negotiateCrypto([], { allowed: ALL, blockUnencrypted: true, purpose: 'call' }).mode, 'reject');
});

test('media streaming: 80-bit tag over 32-bit, then RTP; AEAD is not used for MOH/IVR/annunciator', () => {
  const opts = { allowed: ALL, blockUnencrypted: false, purpose: 'media-streaming' } as const;
  const r1 = negotiateCrypto(offerOf('AEAD_AES_256_GCM', 'AES_CM_128_HMAC_SHA1_32', 'AES_CM_128_HMAC_SHA1_80'), opts);
  assert.equal(r1.mode === 'srtp' && r1.suite, 'AES_CM_128_HMAC_SHA1_80');
  const r2 = negotiateCrypto(offerOf('AEAD_AES_256_GCM', 'AES_CM_128_HMAC_SHA1_32'), opts);
  assert.equal(r2.mode === 'srtp' && r2.suite, 'AES_CM_128_HMAC_SHA1_32');
  assert.equal(negotiateCrypto(offerOf('AEAD_AES_256_GCM'), opts).mode, 'rtp');
  assert.deepEqual(
    createCryptoOffer(ALL, 'media-streaming').map((a) => a.suite),
    ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'],
  );
});

test('lines that weaken or that we cannot honour are skipped; unparsable raw lines are ignored', () => {
  const opts = { allowed: ALL, blockUnencrypted: false, purpose: 'call' } as const;
  const gcm = formatCryptoAttribute(generateCryptoAttribute(1, 'AEAD_AES_256_GCM'));
  const cm = formatCryptoAttribute(generateCryptoAttribute(2, 'AES_CM_128_HMAC_SHA1_80'));
  for (const extra of ['UNENCRYPTED_SRTP', 'UNAUTHENTICATED_SRTP', 'KDR=24', 'FOO=1', 'WSH=10']) {
    const r = negotiateCrypto([`${gcm} ${extra}`, cm], opts);
    assert.equal(r.mode === 'srtp' && r.suite, 'AES_CM_128_HMAC_SHA1_80', extra);
  }
  const r = negotiateCrypto([`${gcm} -FOO=1 WSH=512`, 'garbage line'], opts);
  assert.equal(r.mode === 'srtp' && r.windowSizeHint, 512);
});

test('negotiated policies protect media both ways; the offerer accepts the answer', () => {
  const offer = createCryptoOffer(ALL, 'call');
  assert.deepEqual(
    offer.map((a) => a.tag),
    [1, 2, 3, 4],
  );
  const wire = offer.map(formatCryptoAttribute);
  const ans = negotiateCrypto(wire, { allowed: ALL, blockUnencrypted: false, purpose: 'call' });
  assert.equal(ans.mode, 'srtp');
  if (ans.mode !== 'srtp') return;
  const back = acceptCryptoAnswer(offer, parseCryptoAttribute(formatCryptoAttribute(ans.local)));
  assert.ok(back);
  const answererTx = new SrtpContext(ans.txPolicy),
    offererRx = new SrtpContext(back.rxPolicy);
  const offererTx = new SrtpContext(back.txPolicy),
    answererRx = new SrtpContext(ans.rxPolicy);
  assert.deepEqual(offererRx.unprotect(answererTx.protect(rtpPacket(1, 1))), rtpPacket(1, 1));
  assert.deepEqual(answererRx.unprotect(offererTx.protect(rtpPacket(1, 2))), rtpPacket(1, 2));
  assert.equal(acceptCryptoAnswer(offer, { ...parseCryptoAttribute(formatCryptoAttribute(ans.local)), tag: 9 }), undefined);
});
