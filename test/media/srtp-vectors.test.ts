/**
 * Known-answer tests: RFC 3711 Appendix B (AES-f8 B.1, AES-CM B.2, key derivation B.3), RFC 7714 §16-§17
 * (AEAD_AES_128_GCM / AEAD_AES_256_GCM, SRTP and SRTCP), and libsrtp's srtp_driver reference packets
 * (AES_CM_128_HMAC_SHA1_80 from a master key, SRTP and SRTCP).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtpContext, deriveSessionKey, KDF_LABELS } from '../../src/media/srtp/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('RFC 3711 B.3: key derivation of the SRTP session keys', () => {
  const mk = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const ms = hex('0EC675AD498AFEEBB6960B3AABE6');
  assert.equal(deriveSessionKey(mk, ms, KDF_LABELS.rtpEncryption, 16).toString('hex'), 'c61e7a93744f39ee10734afe3ff7a087');
  assert.equal(deriveSessionKey(mk, ms, KDF_LABELS.rtpSalt, 14).toString('hex'), '30cbbc08863d8c85d49db34a9ae1');
  assert.equal(deriveSessionKey(mk, ms, KDF_LABELS.rtpAuthentication, 20).toString('hex'), 'cebe321f6ff7716b6fd4ab49af256a156d38baa4');
  // the SRTCP labels of the same master key (as libsrtp and other implementations derive them)
  assert.equal(deriveSessionKey(mk, ms, KDF_LABELS.rtcpEncryption, 16).toString('hex'), '4c1aa45a81f73d61c800bbb00fbb1eaa');
  assert.equal(deriveSessionKey(mk, ms, KDF_LABELS.rtcpAuthentication, 20).toString('hex'), '8d54534feb49ae8e7993a6bd0b844fc323a93dfd');
  assert.equal(deriveSessionKey(mk, ms, KDF_LABELS.rtcpSalt, 14).toString('hex'), '9581c7ad87b3e530bf3e4454a8b3');
});

test('RFC 6188 §7.2 and §7.4: AES-256 and AES-192 key derivation', () => {
  const cases = [
    [
      'f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6',
      '3b04803de51ee7c96423ab5b78d2',
      '5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4',
      'fa31791685ca444a9e07c6c64e93',
      'fd9c32d39ed5fbb5a9dc96b30818454d1313dc05',
    ],
    [
      '73edc66c4fa15776fb57f9505c17136550ffda71f3e8e5f1',
      'c8522f3acd4ce86d5add78edbb11',
      '31874736a8f1143870c26e4857d8a5b2c4a354407faadabb',
      '2372b82d639b6d8503a47adc0a6c',
      '355b10973cd95b9eacf4061c7e1a7151e7cfbfcb',
    ],
  ] as const;
  for (const [k, s, enc, salt, auth] of cases) {
    assert.equal(deriveSessionKey(hex(k), hex(s), KDF_LABELS.rtpEncryption, enc.length / 2).toString('hex'), enc);
    assert.equal(deriveSessionKey(hex(k), hex(s), KDF_LABELS.rtpSalt, 14).toString('hex'), salt);
    assert.equal(deriveSessionKey(hex(k), hex(s), KDF_LABELS.rtpAuthentication, 20).toString('hex'), auth);
  }
});

test('RFC 3711 B.2: AES-CM keystream, first blocks and blocks 0xfeff-0xff01', () => {
  // session key and salt used directly; SSRC 0, index 0: the payload of zeros comes out as the keystream
  const ctx = new SrtpContext({
    suite: 'AES_CM_128_HMAC_SHA1_80',
    masterKey: hex('2B7E151628AED2A6ABF7158809CF4F3C'),
    masterSalt: hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'),
    sessionKeys: true,
  });
  const rtp = Buffer.alloc(12 + 0xff02 * 16);
  rtp[0] = 0x80;
  const ks = ctx.protect(rtp).subarray(12);
  assert.equal(
    ks.subarray(0, 48).toString('hex').toUpperCase(),
    'E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB41E95B3BB0A2E8DD477901E4FCA894C0',
  );
  assert.equal(
    ks
      .subarray(0xfeff * 16, 0xff02 * 16)
      .toString('hex')
      .toUpperCase(),
    'EC8CDF7398607CB0F2D21675EA9EA1E4362B7C3C6773516318A077D7FC5073AE6A2CC3787889374FBEB4C81B17BA6C44',
  );
  ctx.close();
});

test('RFC 3711 B.1: AES-f8 with ROC d462564a', () => {
  const ctx = new SrtpContext({
    suite: 'F8_128_HMAC_SHA1_80',
    masterKey: hex('234829008467be186c3de14aae72d62c'),
    masterSalt: hex('32f2870d'),
    sessionKeys: true,
  });
  ctx.setRoc(0x5c621599, 0xd462564a);
  const rtp = hex('806e5cba50681de55c621599 70736575646f72616e646f6d6e65737320697320746865206e6578742062657374207468696e67');
  const srtp = ctx.protect(rtp);
  assert.equal(
    srtp.subarray(12, rtp.length).toString('hex'),
    '019ce7a26e7854014a6366aa95d4eefd1ad4172a14f9faf455b7f1d4b62bd08f562c0eef7c4802',
  );
  assert.equal(srtp.length, rtp.length + 10);
  const rx = new SrtpContext({
    suite: 'F8_128_HMAC_SHA1_80',
    masterKey: hex('234829008467be186c3de14aae72d62c'),
    masterSalt: hex('32f2870d'),
    sessionKeys: true,
  });
  rx.setRoc(0x5c621599, 0xd462564a);
  assert.deepEqual(rx.unprotect(srtp), rtp);
});

const GCM_RTP = hex('8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573');
const GCM_RTCP = hex('81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef');
const SALT = hex('517569642070726f2071756f');

test('RFC 7714 §16.1: AEAD_AES_128_GCM SRTP protect and unprotect', () => {
  const policy = {
    suite: 'AEAD_AES_128_GCM',
    masterKey: hex('000102030405060708090a0b0c0d0e0f'),
    masterSalt: SALT,
    sessionKeys: true,
  } as const;
  const expected =
    '8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce';
  const tx = new SrtpContext(policy);
  assert.equal(tx.protect(GCM_RTP).toString('hex'), expected);
  const rx = new SrtpContext(policy);
  assert.deepEqual(rx.unprotect(hex(expected)), GCM_RTP);
});

test('RFC 7714 §16.2: AEAD_AES_256_GCM SRTP protect and unprotect', () => {
  const policy = {
    suite: 'AEAD_AES_256_GCM',
    masterKey: hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
    masterSalt: SALT,
    sessionKeys: true,
  } as const;
  const expected =
    '8040f17b8041f8d35501a0b232b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a76c13';
  assert.equal(new SrtpContext(policy).protect(GCM_RTP).toString('hex'), expected);
  assert.deepEqual(new SrtpContext(policy).unprotect(hex(expected)), GCM_RTP);
});

test('RFC 7714 §17.1: AEAD_AES_128_GCM SRTCP with index 0x5d4', () => {
  const policy = {
    suite: 'AEAD_AES_128_GCM',
    masterKey: hex('000102030405060708090a0b0c0d0e0f'),
    masterSalt: SALT,
    sessionKeys: true,
  } as const;
  const expected =
    '81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4';
  const tx = new SrtpContext(policy);
  // the sender numbers SRTCP packets from 1: send 0x5d3 packets to reach the vector's index
  for (let i = 1; i < 0x5d4; i++) tx.protectRtcp(GCM_RTCP);
  assert.equal(tx.protectRtcp(GCM_RTCP).toString('hex'), expected);
  assert.deepEqual(new SrtpContext(policy).unprotectRtcp(hex(expected)), GCM_RTCP);
});

test('RFC 7714 §17.2: AEAD_AES_256_GCM SRTCP unprotect', () => {
  const policy = {
    suite: 'AEAD_AES_256_GCM',
    masterKey: hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
    masterSalt: SALT,
    sessionKeys: true,
  } as const;
  const srtcp =
    '81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4';
  assert.deepEqual(new SrtpContext(policy).unprotectRtcp(hex(srtcp)), GCM_RTCP);
});

const DRIVER_KEY = { masterKey: hex('e1f97a0d3e018be0d64fa32c06de4139'), masterSalt: hex('0ec675ad498afeebb6960b3aabe6') };
const DRIVER_RTP = hex('800f1234decafbadcafebabeabababababababababababababababab');
const DRIVER_SRTP = hex('800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb');
const DRIVER_RTCP = hex('81c8000bcafebabeabababababababababababababababab');
const DRIVER_SRTCP = hex('81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798');

test('libsrtp srtp_driver reference: AES_CM_128_HMAC_SHA1_80 SRTP and SRTCP from a master key', () => {
  const tx = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', ...DRIVER_KEY });
  assert.deepEqual(tx.protect(DRIVER_RTP), DRIVER_SRTP);
  assert.deepEqual(tx.protectRtcp(DRIVER_RTCP), DRIVER_SRTCP);
  const rx = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', ...DRIVER_KEY });
  assert.deepEqual(rx.unprotect(DRIVER_SRTP), DRIVER_RTP);
  assert.deepEqual(rx.unprotectRtcp(DRIVER_SRTCP), DRIVER_RTCP);
  assert.deepEqual(rx.stats().rtpUnprotected, 1);
});

test('libsrtp srtp_driver reference: every truncation of the SRTP and SRTCP packets is rejected', () => {
  for (let len = DRIVER_SRTP.length - 1; len > 0; len--) {
    const rx = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', ...DRIVER_KEY });
    assert.throws(
      () => rx.unprotect(DRIVER_SRTP.subarray(0, len)),
      (e: Error & { code?: string }) => ['ERR_SRTP_AUTH', 'ERR_SRTP_TRUNCATED', 'ERR_SRTP_MALFORMED'].includes(e.code ?? ''),
    );
  }
  for (let len = DRIVER_SRTCP.length - 1; len > 0; len--) {
    const rx = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', ...DRIVER_KEY });
    assert.throws(
      () => rx.unprotectRtcp(DRIVER_SRTCP.subarray(0, len)),
      (e: Error & { code?: string }) => ['ERR_SRTP_AUTH', 'ERR_SRTP_TRUNCATED', 'ERR_SRTP_MALFORMED'].includes(e.code ?? ''),
    );
  }
});

test('short and long packets (keystream-ECB, built-in and provider EVP paths) equal node:crypto AES-GCM / AES-CTR + HMAC-SHA1', async () => {
  const { createCipheriv, createHmac } = await import('node:crypto');
  const key = hex('000102030405060708090a0b0c0d0e0f'),
    salt12 = SALT,
    salt14 = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD');
  for (const size of [20, 172, 1200, 1500, 1550, 3000, 9000]) {
    const rtp = Buffer.alloc(size, 0x3c);
    rtp.set(hex('8000123400000000cafebabe'));
    // GCM, RFC 7714 §8.1 IV with ROC 0
    const ivg = Buffer.alloc(12);
    ivg.writeUInt32BE(0xcafebabe, 2);
    ivg.writeUInt16BE(0x1234, 10);
    for (let i = 0; i < 12; i++) ivg[i]! ^= salt12[i]!;
    const g = createCipheriv('aes-128-gcm', key, ivg);
    g.setAAD(rtp.subarray(0, 12));
    const gcmRef = Buffer.concat([rtp.subarray(0, 12), g.update(rtp.subarray(12)), g.final(), g.getAuthTag()]);
    for (const evpGcm of ['builtin', 'provider'] as const) {
      const gctx = new SrtpContext({ suite: 'AEAD_AES_128_GCM', masterKey: key, masterSalt: salt12, sessionKeys: true, evpGcm });
      assert.deepEqual(gctx.protect(rtp), gcmRef, `GCM ${size} ${evpGcm}`);
      assert.deepEqual(
        new SrtpContext({ suite: 'AEAD_AES_128_GCM', masterKey: key, masterSalt: salt12, sessionKeys: true, evpGcm }).unprotect(gcmRef),
        rtp,
      );
    }
    // AES-CM, RFC 3711 §4.1.1 IV; session auth key is all zero in sessionKeys mode
    const ivc = Buffer.alloc(16);
    salt14.copy(ivc);
    for (const [i, b] of [0xca, 0xfe, 0xba, 0xbe].entries()) ivc[4 + i]! ^= b;
    (ivc[12]! ^= 0x12), (ivc[13]! ^= 0x34);
    const c = createCipheriv('aes-128-ctr', key, ivc);
    const body = Buffer.concat([rtp.subarray(0, 12), c.update(rtp.subarray(12)), c.final()]);
    const tag = createHmac('sha1', Buffer.alloc(20)).update(body).update(Buffer.alloc(4)).digest().subarray(0, 10);
    const cctx = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', masterKey: key, masterSalt: salt14, sessionKeys: true });
    assert.deepEqual(cctx.protect(rtp), Buffer.concat([body, tag]), `AES-CM ${size}`);
  }
});

test('HMAC-SHA1 tags equal node:crypto for every payload length 0-200 (one- and two-block SHA-1 padding), RTP and RTCP', async () => {
  const { createHmac } = await import('node:crypto');
  const key = hex('000102030405060708090a0b0c0d0e0f'),
    salt14 = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD');
  for (let n = 0; n <= 200; n++) {
    const rtp = Buffer.alloc(12 + n, n & 0xff);
    rtp.set(hex('80001234000000000000abcd'));
    const ctx = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', masterKey: key, masterSalt: salt14, sessionKeys: true });
    const srtp = ctx.protect(rtp);
    const body = srtp.subarray(0, rtp.length);
    const tag = createHmac('sha1', Buffer.alloc(20)).update(body).update(Buffer.alloc(4)).digest().subarray(0, 10);
    assert.deepEqual(srtp.subarray(rtp.length), tag, `RTP tag, ${n}-byte payload`);
    const rtcp = Buffer.alloc(8 + n, 0x5a);
    rtcp.set(hex('80c90001cafebabe'));
    const srtcp = ctx.protectRtcp(rtcp);
    const authed = srtcp.subarray(0, rtcp.length + 4); // header, encrypted part, E||index (RFC 3711 §3.4)
    const rtcpTag = createHmac('sha1', Buffer.alloc(20)).update(authed).digest().subarray(0, 10);
    assert.deepEqual(srtcp.subarray(rtcp.length + 4), rtcpTag, `RTCP tag, ${n}-byte body`);
  }
});
