/**
 * Engine behaviour per suite: round trips, ROC rollover, the replay window, tampered/truncated/replayed packets
 * rejected with typed errors and counted, MKI, header extensions and CSRCs, and the batch API giving the same
 * bytes as the per-packet calls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtpContext, PacketBatch, SUITES, SUITE_NAMES, srtpCodeOf, type Suite, type SrtpPolicy } from '../../src/media/srtp/index.js';
import { rtpPacket, rtcpSenderReport, keyFor } from './rtp-fixtures.js';

function pair(suite: Suite, extra: Partial<SrtpPolicy> = {}): { tx: SrtpContext; rx: SrtpContext } {
  const k = keyFor(SUITES[suite].keyLength, SUITES[suite].saltLength);
  return { tx: new SrtpContext({ suite, ...k, ...extra }), rx: new SrtpContext({ suite, ...k, ...extra }) };
}

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;

for (const suite of SUITE_NAMES) {
  test(`${suite}: RTP and RTCP round trip with CSRCs and a header extension`, () => {
    const { tx, rx } = pair(suite);
    for (let seq = 100; seq < 110; seq++) {
      const rtp = rtpPacket(seq, 0x1234, 160, { csrcs: [1, 2], extension: Buffer.alloc(8, 7) });
      const srtp = tx.protect(rtp);
      assert.equal(srtp.length, rtp.length + SUITES[suite].rtpTagLength);
      assert.notDeepEqual(srtp.subarray(32, rtp.length), rtp.subarray(32), 'payload is encrypted');
      assert.deepEqual(srtp.subarray(0, 32), rtp.subarray(0, 32), 'header stays clear');
      assert.deepEqual(rx.unprotect(srtp), rtp);
    }
    const rtcp = rtcpSenderReport(0x1234);
    const srtcp = tx.protectRtcp(rtcp);
    assert.equal(srtcp.length, rtcp.length + 4 + SUITES[suite].rtcpTagLength);
    assert.equal(srtcp.readUInt32BE(SUITES[suite].cipher === 'gcm' ? rtcp.length + 16 : rtcp.length), 0x80000001);
    assert.deepEqual(rx.unprotectRtcp(srtcp), rtcp);
    assert.deepEqual([rx.stats().rtpUnprotected, rx.stats().rtcpUnprotected], [10, 1]);
  });

  test(`${suite}: tampered, truncated and replayed packets are rejected, typed and counted`, () => {
    const { tx, rx } = pair(suite);
    const srtp = tx.protect(rtpPacket(7, 99));
    for (const at of [1, 5, 12, 40, srtp.length - 1]) {
      const bad = Buffer.from(srtp);
      bad[at]! ^= 0x01;
      assert.throws(() => rx.unprotect(bad), code('ERR_SRTP_AUTH'), `bit flip at ${at}`);
    }
    assert.throws(() => rx.unprotect(srtp.subarray(0, srtp.length - 1)), code('ERR_SRTP_AUTH'));
    assert.throws(() => rx.unprotect(srtp.subarray(0, 11)), code('ERR_SRTP_MALFORMED'));
    assert.throws(() => rx.unprotect(srtp.subarray(0, 12 + SUITES[suite].rtpTagLength - 1)), code('ERR_SRTP_TRUNCATED'));
    assert.deepEqual(rx.unprotect(srtp), rtpPacket(7, 99), 'failed attempts left the stream unchanged');
    assert.throws(() => rx.unprotect(srtp), code('ERR_SRTP_REPLAY'));
    const srtcp = tx.protectRtcp(rtcpSenderReport(99));
    const badRtcp = Buffer.from(srtcp);
    badRtcp[10]! ^= 0x80;
    assert.throws(() => rx.unprotectRtcp(badRtcp), code('ERR_SRTP_AUTH'));
    rx.unprotectRtcp(srtcp);
    assert.throws(() => rx.unprotectRtcp(srtcp), code('ERR_SRTP_REPLAY'));
    const s = rx.stats();
    assert.equal(s.authFailures, 7);
    assert.equal(s.replays, 2);
    assert.equal(s.malformed, 2);
    assert.equal(s.rtpUnprotected, 1);
  });
}

test('ROC rollover: sequence numbers wrap, the receiver follows, reordering across the wrap works', () => {
  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'] as const) {
    const { tx, rx } = pair(suite);
    const seqs: number[] = [];
    for (let s = 65500; s < 65536 + 40; s++) seqs.push(s & 0xffff);
    const packets = seqs.map((s) => tx.protect(rtpPacket(s, 5)));
    assert.equal(tx.roc(5), 1);
    // deliver with a swap across the wrap point
    const order = packets.map((_, i) => i);
    const w = seqs.indexOf(0);
    [order[w - 1], order[w + 1]] = [order[w + 1]!, order[w - 1]!];
    for (const i of order) assert.deepEqual(rx.unprotect(packets[i]!), rtpPacket(seqs[i]!, 5));
    assert.equal(rx.roc(5), 1);
  }
});

test('ROC: a receiver joining late needs the sender ROC (setRoc), else authentication fails', () => {
  const { tx, rx } = pair('AES_CM_128_HMAC_SHA1_80');
  tx.setRoc(8, 3);
  const p = tx.protect(rtpPacket(1000, 8));
  assert.throws(() => rx.unprotect(p), code('ERR_SRTP_AUTH'));
  rx.setRoc(8, 3);
  assert.deepEqual(rx.unprotect(p), rtpPacket(1000, 8));
  assert.equal(rx.roc(8), 3);
});

test('replay window: size is an option; in-window reordering accepted, older packets rejected as too old', () => {
  const { tx, rx } = pair('AEAD_AES_128_GCM', { replayWindow: 64 });
  const p = Array.from({ length: 200 }, (_, i) => tx.protect(rtpPacket(i, 1)));
  rx.unprotect(p[150]!);
  rx.unprotect(p[100]!); // 50 back, inside 64
  assert.throws(() => rx.unprotect(p[100]!), code('ERR_SRTP_REPLAY'));
  assert.throws(() => rx.unprotect(p[80]!), code('ERR_SRTP_REPLAY_OLD'));
  rx.unprotect(p[199]!);
  assert.throws(() => rx.unprotect(p[150]!), code('ERR_SRTP_REPLAY'));
  const wide = pair('AEAD_AES_128_GCM', { replayWindow: 1024 });
  const q = Array.from({ length: 1200 }, (_, i) => wide.tx.protect(rtpPacket(i, 1)));
  wide.rx.unprotect(q[1100]!);
  wide.rx.unprotect(q[100]!); // 1000 back, inside 1024
  assert.throws(() => wide.rx.unprotect(q[50]!), code('ERR_SRTP_REPLAY_OLD'));
  assert.throws(() => new SrtpContext({ suite: 'AEAD_AES_128_GCM', ...keyFor(16, 12), replayWindow: 32 }), code('ERR_SRTP_PARAM'));
});

test('a sender refuses to reuse a packet index (keystream reuse)', () => {
  const { tx } = pair('AES_CM_128_HMAC_SHA1_80');
  tx.protect(rtpPacket(10, 1));
  assert.throws(() => tx.protect(rtpPacket(10, 1)), code('ERR_SRTP_REPLAY'));
});

test('MKI: carried in every packet, checked on receive', () => {
  for (const suite of ['AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_256_GCM'] as const) {
    const mki = Buffer.from([0, 0, 0, 7]);
    const { tx, rx } = pair(suite, { mki });
    const srtp = tx.protect(rtpPacket(1, 2));
    assert.equal(srtp.length, rtpPacket(1, 2).length + SUITES[suite].rtpTagLength + 4);
    const at = SUITES[suite].cipher === 'gcm' ? srtp.length - 4 : srtp.length - 4 - SUITES[suite].rtpTagLength;
    assert.deepEqual(srtp.subarray(at, at + 4), mki);
    assert.deepEqual(rx.unprotect(srtp), rtpPacket(1, 2));
    const wrong = Buffer.from(tx.protect(rtpPacket(2, 2)));
    wrong[at + 3] = 9;
    assert.throws(() => rx.unprotect(wrong), code('ERR_SRTP_MKI'));
    const srtcp = tx.protectRtcp(rtcpSenderReport(2));
    assert.deepEqual(rx.unprotectRtcp(srtcp), rtcpSenderReport(2));
    assert.equal(rx.stats().mkiMismatches, 1);
  }
});

test('bad keys and parameters are typed errors', () => {
  assert.throws(() => new SrtpContext({ suite: 'AEAD_AES_128_GCM', ...keyFor(16, 14) }), code('ERR_SRTP_KEY_LENGTH'));
  assert.throws(() => new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', ...keyFor(32, 14) }), code('ERR_SRTP_KEY_LENGTH'));
  assert.throws(() => new SrtpContext({ suite: 'NOPE' as Suite, ...keyFor(16, 14) }), code('ERR_SRTP_SUITE'));
  const ctx = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', ...keyFor(16, 14), maxSsrcs: 2 });
  ctx.protect(rtpPacket(1, 1));
  ctx.protect(rtpPacket(1, 2));
  assert.throws(() => ctx.protect(rtpPacket(1, 3)), code('ERR_SRTP_SSRC_LIMIT'));
  ctx.close();
  assert.throws(() => ctx.protect(rtpPacket(2, 1)), code('ERR_SRTP_CLOSED'));
});

test('batch: one native call gives the same bytes as per-packet calls; failures stay per packet', () => {
  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM', 'F8_128_HMAC_SHA1_80'] as const) {
    const k = keyFor(SUITES[suite].keyLength, SUITES[suite].saltLength);
    const single = new SrtpContext({ suite, ...k });
    const batched = new SrtpContext({ suite, ...k });
    const rx = new SrtpContext({ suite, ...k });
    const batch = new PacketBatch({ maxPackets: 32, slotSize: 1300 });
    const packets = Array.from({ length: 32 }, (_, i) => rtpPacket(i, 77, i % 2 ? 160 : 1200));
    packets.forEach((p) => batch.push(p));
    assert.equal(batched.protectBatch(batch), 32);
    packets.forEach((p, i) => assert.deepEqual(batch.packet(i), single.protect(p)));
    batch.arena[batch.offsets[3]! + 20]! ^= 1; // tamper one packet
    batch.lengths[5] = 11; // truncate another below a header
    assert.equal(rx.unprotectBatch(batch), 30);
    assert.equal(srtpCodeOf(batch.lengths[3]!), 'ERR_SRTP_AUTH');
    assert.equal(srtpCodeOf(batch.lengths[5]!), 'ERR_SRTP_MALFORMED');
    assert.deepEqual(batch.packet(7), packets[7]);
    assert.equal(rx.stats().authFailures, 1);
  }
});

test('batch: a slot outside the arena or a negative length is ERR_SRTP_PARAM and no packet is touched', () => {
  const { tx } = pair('AEAD_AES_128_GCM');
  const batch = new PacketBatch({ maxPackets: 4, slotSize: 300 });
  const packets = [0, 1, 2].map((i) => rtpPacket(i, 5, 160));
  packets.forEach((p) => batch.push(p));
  const bad = (mutate: () => void, undo: () => void) => {
    mutate();
    assert.throws(() => tx.protectBatch(batch), code('ERR_SRTP_PARAM'));
    undo();
    assert.deepEqual(batch.packet(0), packets[0], 'the first packet is untouched');
  };
  bad(
    () => (batch.capacities[2] = 10_000),
    () => (batch.capacities[2] = 300),
  );
  bad(
    () => (batch.offsets[1] = -4),
    () => (batch.offsets[1] = 300),
  );
  bad(
    () => (batch.lengths[2] = 301),
    () => (batch.lengths[2] = 172),
  );
  bad(
    () => (batch.lengths[1] = -4),
    () => (batch.lengths[1] = 172),
  );
  bad(
    () => (batch.count = 5),
    () => (batch.count = 3),
  );
  assert.equal(tx.stats().rtpProtected, 0);
  assert.equal(tx.protectBatch(batch), 3);
});

test('AEAD: long packets on the built-in GCM tables and on the provider give the same bytes; tampering is caught by both', () => {
  for (const suite of ['AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'] as const) {
    const k = keyFor(SUITES[suite].keyLength, SUITES[suite].saltLength);
    const ctx = (evpGcm: 'builtin' | 'provider') => new SrtpContext({ suite, ...k, evpGcm });
    const builtin = ctx('builtin'),
      provider = ctx('provider');
    // Debian 12's libcrypto 3.0 has the ENGINE door to its built-in tables; without it 'builtin' falls back
    assert.equal(builtin.evpGcm, 'builtin', 'libcrypto offers its built-in GCM tables here');
    assert.equal(provider.evpGcm, 'provider');
    const rxBuiltin = ctx('builtin'),
      rxProvider = ctx('provider');
    // 1500 B still fits the keystream path; 1600 B and longer take EVP (RTP and, with a long report, SRTCP)
    [1500, 1600, 4000, 9000].forEach((size, i) => {
      const rtp = rtpPacket(500 + i, 0x4242, size, { csrcs: [9] });
      const a = builtin.protect(rtp),
        b = provider.protect(rtp);
      assert.deepEqual(a, b, `${suite} ${size} B: same SRTP bytes`);
      assert.deepEqual(rxProvider.unprotect(a), rtp);
      assert.deepEqual(rxBuiltin.unprotect(b), rtp);
      const rtcp = Buffer.concat([rtcpSenderReport(0x4242, i), Buffer.alloc(size, i)]);
      rtcp.writeUInt16BE(rtcp.length / 4 - 1, 2);
      const ra = builtin.protectRtcp(rtcp),
        rb = provider.protectRtcp(rtcp);
      assert.deepEqual(ra, rb, `${suite} ${size} B: same SRTCP bytes`);
      assert.deepEqual(rxBuiltin.unprotectRtcp(rb), rtcp);
      assert.deepEqual(rxProvider.unprotectRtcp(ra), rtcp);
      const bad = Buffer.from(a);
      bad[bad.length - 20]! ^= 0x40; // last ciphertext octets
      for (const rx of [ctx('builtin'), ctx('provider')]) {
        assert.throws(() => rx.unprotect(bad), code('ERR_SRTP_AUTH'));
        assert.deepEqual(rx.unprotect(a), rtp, 'a failed packet leaves the stream as it was');
      }
      const badTag = Buffer.from(ra);
      badTag[ra.length - 5]! ^= 1; // in the tag (SRTCP: tag, then E||index)
      assert.throws(() => ctx('builtin').unprotectRtcp(badTag), code('ERR_SRTP_AUTH'));
    });
    assert.equal(ctx('builtin').evpGcm, 'builtin');
    assert.equal(new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', ...keyFor(16, 14) }).evpGcm, undefined);
    assert.throws(() => new SrtpContext({ suite, ...k, evpGcm: 'fast' as never }), code('ERR_SRTP_PARAM'));
  }
});

test('in-place calls work on views into a larger buffer', () => {
  const { tx, rx } = pair('AES_CM_128_HMAC_SHA1_80');
  const big = Buffer.alloc(4096, 0xee);
  const rtp = rtpPacket(3, 4);
  const view = big.subarray(1000, 1000 + rtp.length + 10);
  rtp.copy(view);
  const n = tx.protectInPlace(view, rtp.length);
  assert.equal(n, rtp.length + 10);
  assert.equal(big[999], 0xee);
  assert.equal(big[1000 + n], 0xee);
  assert.equal(rx.unprotectInPlace(view, n), rtp.length);
  assert.deepEqual(view.subarray(0, rtp.length), rtp);
});
