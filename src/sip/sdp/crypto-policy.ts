/**
 * SRTP policy on the SDP that passes through the proxy (RFC 4566 bodies, RFC 4568 a=crypto; offer/answer end to
 * end, RFC 3264). Offer: a=crypto lines of suites not in SRTP Ciphers are removed and each active stream is run
 * through `negotiateCrypto` (src/sdp/) with the call priority: no usable suite → RTP, or 488 under Block
 * Unencrypted Calls. Answer: secure when every active stream is RTP/SAVP with one allowed a=crypto. Keys that came
 * over TLS never go out over UDP/TCP (`withoutKeys`, RFC 4568 §8.3), and a call is Encrypted only when both legs
 * are TLS (`legsProtectKeys`); that drives SECURITY_INDICATION. The body's structure is src/sdp/sections.ts.
 */
import { negotiateCrypto, parseCryptoAttribute } from '../../sdp/index.js';
import { isActiveMedia, joinSdp, type MediaSection, splitSdp } from '../../sdp/sections.js';
import type { Suite } from '../../sdp/suites.js';

function cryptoValues(m: MediaSection): string[] {
  return m.lines.filter((l) => l.startsWith('a=crypto:'));
}

export type OfferDecision = { mode: 'srtp' | 'rtp'; sdp: Buffer; reason?: string } | { mode: 'reject'; status: 488; reason: string };

export interface CryptoPolicy {
  allowed: readonly Suite[];
  blockUnencrypted: boolean;
}

export function checkOffer(body: Buffer, policy: CryptoPolicy): OfferDecision {
  const { session, media } = splitSdp(body.toString('utf8'));
  let secure = media.some(isActiveMedia);
  let reason: string | undefined;
  for (const m of media) {
    m.lines = m.lines.filter((l) => {
      if (!l.startsWith('a=crypto:')) return true;
      try {
        return policy.allowed.includes(parseCryptoAttribute(l).suite);
      } catch {
        return false; // RFC 4568 §7.1.1: a line that does not parse is of no use to the answerer
      }
    });
    if (!isActiveMedia(m)) continue;
    const r = negotiateCrypto(cryptoValues(m), { allowed: policy.allowed, blockUnencrypted: policy.blockUnencrypted, purpose: 'call' });
    if (r.mode === 'reject') return { mode: 'reject', status: 488, reason: r.reason };
    if (r.mode === 'rtp' || !/ RTP\/SAVP/.test(m.mline)) {
      if (policy.blockUnencrypted)
        return { mode: 'reject', status: 488, reason: r.mode === 'rtp' ? r.reason : 'stream offered without RTP/SAVP' };
      secure = false;
      reason = r.mode === 'rtp' ? r.reason : 'stream offered without RTP/SAVP';
    }
  }
  return { mode: secure ? 'srtp' : 'rtp', sdp: Buffer.from(joinSdp(session, media), 'utf8'), ...(reason ? { reason } : {}) };
}

/**
 * The body without its SDES keys: every a=crypto line removed and RTP/SAVP streams turned into RTP/AVP
 * (RFC 3551), the form of an unencrypted offer or answer the other side can still accept or refuse.
 */
export function withoutKeys(body: Buffer): Buffer {
  const { session, media } = splitSdp(body.toString('utf8'));
  const kept = session.filter((l) => !l.startsWith('a=crypto:'));
  for (const m of media) {
    m.lines = m.lines.filter((l) => !l.startsWith('a=crypto:'));
    m.mline = m.mline.replace(/ RTP\/SAVP( |$)/, ' RTP/AVP$1');
  }
  return Buffer.from(joinSdp(kept, media), 'utf8');
}

/** Keys may be sent on, and a secure call be called Encrypted, only when both legs are TLS. */
export function legsProtectKeys(inbound: string, outbound: string): boolean {
  return inbound === 'tls' && outbound === 'tls';
}

/** True when every active stream of the answer is RTP/SAVP with one allowed, parseable a=crypto. */
export function answerIsSecure(body: Buffer, policy: CryptoPolicy): boolean {
  const { media } = splitSdp(body.toString('utf8'));
  const act = media.filter(isActiveMedia);
  if (act.length === 0) return false;
  return act.every((m) => {
    if (!/ RTP\/SAVP /.test(m.mline + ' ')) return false;
    const lines = cryptoValues(m);
    if (lines.length !== 1) return false;
    try {
      return policy.allowed.includes(parseCryptoAttribute(lines[0]!).suite);
    } catch {
      return false;
    }
  });
}

/**
 * Secure-call indication (the lock icon): sbd adds this Call-Info to the INVITE it forwards and to the 2xx
 * it returns, in the form Cisco phones read (`security=` Encrypted / NotAuthenticated).
 */
export const SECURITY_INDICATION = {
  header: 'Call-Info',
  value: (secure: boolean) => `<urn:x-cisco-remotecc:callinfo>;security=${secure ? 'Encrypted' : 'NotAuthenticated'}`,
} as const;
