/**
 * Interop with Debian's libsrtp2 (NSS build) in both directions, for every suite both implementations offer:
 * our SRTP/SRTCP decrypts there, theirs decrypts here; ROC rollover on both sides; MKI; and libsrtp rejecting
 * what we tampered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SrtpContext, SUITES, type Suite } from '../../src/media/srtp/index.js';
import { PEER_OPS, buildLibsrtpPeer, runPeer } from './libsrtp-peer.js';
import { rtpPacket, rtcpSenderReport } from './rtp-fixtures.js';

const LIBSRTP_SUITES: Suite[] = [
  'AES_CM_128_HMAC_SHA1_80',
  'AES_CM_128_HMAC_SHA1_32',
  'AEAD_AES_128_GCM',
  'AEAD_AES_256_GCM',
  'AES_256_CM_HMAC_SHA1_80',
  'AES_256_CM_HMAC_SHA1_32',
  'AES_192_CM_HMAC_SHA1_80',
  'AES_192_CM_HMAC_SHA1_32',
];

// libsrtp2 2.5.0 (Debian 12) derives AES-192 session keys with an AES-256 PRF, against RFC 6188 §6 (libsrtp
// issue #763, fixed upstream by PR #765 in 2025). Our AES-192 KDF matches the RFC 6188 §7.4 vectors
// (srtp-vectors.test.ts), so the two cannot interoperate on AES-192 until Debian ships the fix.
const KNOWN_PEER_BUGS: Partial<Record<Suite, string>> = {
  AES_192_CM_HMAC_SHA1_80: 'Debian libsrtp2 2.5.0 AES-192 KDF is not RFC 6188 compliant (libsrtp #763)',
  AES_192_CM_HMAC_SHA1_32: 'Debian libsrtp2 2.5.0 AES-192 KDF is not RFC 6188 compliant (libsrtp #763)',
};

// sequence numbers 65000..65535 then 0..600: both sides must roll the ROC over
const SEQS = Array.from({ length: 1136 }, (_, i) => (65000 + i) & 0xffff);

test('libsrtp2 peer builds (libsrtp2-dev, pkg-config)', () => {
  assert.ok(buildLibsrtpPeer());
});

for (const suite of LIBSRTP_SUITES) {
  test(`${suite}: sbd → libsrtp2 and libsrtp2 → sbd, SRTP across a ROC rollover and SRTCP`, {
    skip: KNOWN_PEER_BUGS[suite] ?? false,
  }, () => {
    const p = SUITES[suite];
    const masterKey = randomBytes(p.keyLength),
      masterSalt = randomBytes(p.saltLength);
    const keyAndSalt = Buffer.concat([masterKey, masterSalt]);
    const ssrcOurs = 0x11112222,
      ssrcTheirs = 0x33334444;
    const ours = new SrtpContext({ suite, masterKey, masterSalt });
    const rtpOurs = SEQS.map((s, i) => rtpPacket(s, ssrcOurs, i % 3 === 0 ? 1200 : 160));
    const rtcpOurs = Array.from({ length: 5 }, (_, i) => rtcpSenderReport(ssrcOurs, i));
    const rtpTheirs = SEQS.map((s) => rtpPacket(s, ssrcTheirs, 160, { csrcs: [9] }));
    const rtcpTheirs = Array.from({ length: 5 }, (_, i) => rtcpSenderReport(ssrcTheirs, 10 + i));
    const ops = [
      ...rtpOurs.map((r) => ({ op: PEER_OPS.unprotectRtp, packet: ours.protect(r) })),
      ...rtcpOurs.map((r) => ({ op: PEER_OPS.unprotectRtcp, packet: ours.protectRtcp(r) })),
      ...rtpTheirs.map((r) => ({ op: PEER_OPS.protectRtp, packet: r })),
      ...rtcpTheirs.map((r) => ({ op: PEER_OPS.protectRtcp, packet: r })),
    ];
    const { exit, results, stderr } = runPeer(suite, keyAndSalt, ops);
    assert.equal(exit, 0, stderr);
    assert.equal(results.length, ops.length);
    let i = 0;
    for (const r of rtpOurs) assert.deepEqual(results[i++], { status: 0, bytes: r }, `libsrtp2 decrypts our SRTP #${i}`);
    for (const r of rtcpOurs) assert.deepEqual(results[i++], { status: 0, bytes: r }, 'libsrtp2 decrypts our SRTCP');
    const rx = new SrtpContext({ suite, masterKey, masterSalt });
    for (const r of rtpTheirs) {
      const res = results[i++]!;
      assert.equal(res.status, 0);
      assert.deepEqual(rx.unprotect(res.bytes), r);
    }
    for (const r of rtcpTheirs) {
      const res = results[i++]!;
      assert.equal(res.status, 0);
      assert.deepEqual(rx.unprotectRtcp(res.bytes), r);
    }
    assert.equal(rx.roc(ssrcTheirs), 1, 'followed libsrtp2 across the rollover');
    assert.equal(ours.roc(ssrcOurs), 1);
  });
}

test('libsrtp2 rejects our tampered and replayed packets; MKI interoperates', () => {
  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'] as const) {
    const p = SUITES[suite];
    const masterKey = randomBytes(p.keyLength),
      masterSalt = randomBytes(p.saltLength);
    const ours = new SrtpContext({ suite, masterKey, masterSalt });
    const good = ours.protect(rtpPacket(1, 5));
    const bad = Buffer.from(ours.protect(rtpPacket(2, 5)));
    bad[20]! ^= 4;
    const { results } = runPeer(suite, Buffer.concat([masterKey, masterSalt]), [
      { op: PEER_OPS.unprotectRtp, packet: good },
      { op: PEER_OPS.unprotectRtp, packet: good },
      { op: PEER_OPS.unprotectRtp, packet: bad },
    ]);
    assert.equal(results[0]!.status, 0);
    assert.notEqual(results[1]!.status, 0, 'replay rejected by libsrtp2');
    assert.notEqual(results[2]!.status, 0, 'tampered packet rejected by libsrtp2');

    const mki = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    const withMki = new SrtpContext({ suite, masterKey, masterSalt, mki });
    const rx = new SrtpContext({ suite, masterKey, masterSalt, mki });
    const r = runPeer(
      suite,
      Buffer.concat([masterKey, masterSalt]),
      [
        { op: PEER_OPS.unprotectRtp, packet: withMki.protect(rtpPacket(9, 6)) },
        { op: PEER_OPS.protectRtp, packet: rtpPacket(10, 7) },
        { op: PEER_OPS.unprotectRtcp, packet: withMki.protectRtcp(rtcpSenderReport(6)) },
        { op: PEER_OPS.protectRtcp, packet: rtcpSenderReport(7) },
      ],
      mki,
    );
    assert.deepEqual(
      r.results.map((x) => x.status),
      [0, 0, 0, 0],
      r.stderr,
    );
    assert.deepEqual(r.results[0]!.bytes, rtpPacket(9, 6));
    assert.deepEqual(rx.unprotect(r.results[1]!.bytes), rtpPacket(10, 7));
    assert.deepEqual(r.results[2]!.bytes, rtcpSenderReport(6));
    assert.deepEqual(rx.unprotectRtcp(r.results[3]!.bytes), rtcpSenderReport(7));
  }
});
