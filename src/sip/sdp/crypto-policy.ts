/**
 * SRTP policy on the SDP that passes through the proxy (RFC 4566 bodies, RFC 4568 a=crypto). The phones
 * negotiate end to end (offer/answer, RFC 3264); sbd enforces the administrator's policy on the way:
 *  - offer: every a=crypto line whose suite is not in SRTP Ciphers is removed, so the answerer cannot pick it;
 *    each active audio/video stream is run through the media room's `negotiateCrypto` with the call priority:
 *    no usable suite → the call falls back to RTP, or is refused with 488 when Block Unencrypted Calls is on;
 *  - answer: the call is secure when every active stream answered with RTP/SAVP and an allowed a=crypto.
 *  - keys and signalling (RFC 4568 §8.3: SDES keys are only as safe as the signalling that carries them): keys
 *    that arrived over TLS never go out over UDP/TCP (`withoutKeys` turns such a body into plain RTP), and the
 *    call is marked Encrypted only when every leg that carried its keys was TLS (`legsProtectKeys`).
 * The result drives the secure-call indication both phones get (see SECURITY_INDICATION).
 */
import { negotiateCrypto, parseCryptoAttribute } from '../../sdp/index.js';
import type { Suite } from '../../sdp/suites.js';

/** Limits on what is inspected. */
export const sdpLimits = { maxLines: 512, maxMediaSections: 16 } as const;

interface MediaSection {
  /** The m= line, e.g. "m=audio 4000 RTP/SAVP 0". */
  mline: string;
  lines: string[];
}

function split(sdp: string): { session: string[]; media: MediaSection[] } {
  const lines = sdp
    .split(/\r?\n/)
    .filter((l) => l.length > 0)
    .slice(0, sdpLimits.maxLines);
  const session: string[] = [];
  const media: MediaSection[] = [];
  for (const l of lines) {
    if (l.startsWith('m=')) media.push({ mline: l, lines: [] });
    else if (media.length === 0) session.push(l);
    else media[media.length - 1]!.lines.push(l);
  }
  return { session, media: media.slice(0, sdpLimits.maxMediaSections) };
}

function join(session: string[], media: MediaSection[]): string {
  return [...session, ...media.flatMap((m) => [m.mline, ...m.lines])].join('\r\n') + '\r\n';
}

function active(m: MediaSection): boolean {
  const f = m.mline.split(' ');
  return f[1] !== '0' && /^m=(audio|video) /.test(m.mline);
}

function cryptoValues(m: MediaSection): string[] {
  return m.lines.filter((l) => l.startsWith('a=crypto:'));
}

export type OfferDecision = { mode: 'srtp' | 'rtp'; sdp: Buffer; reason?: string } | { mode: 'reject'; status: 488; reason: string };

export interface CryptoPolicy {
  allowed: readonly Suite[];
  blockUnencrypted: boolean;
}

export function checkOffer(body: Buffer, policy: CryptoPolicy): OfferDecision {
  const { session, media } = split(body.toString('utf8'));
  let secure = media.some(active);
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
    if (!active(m)) continue;
    const r = negotiateCrypto(cryptoValues(m), { allowed: policy.allowed, blockUnencrypted: policy.blockUnencrypted, purpose: 'call' });
    if (r.mode === 'reject') return { mode: 'reject', status: 488, reason: r.reason };
    if (r.mode === 'rtp' || !/ RTP\/SAVP/.test(m.mline)) {
      if (policy.blockUnencrypted)
        return { mode: 'reject', status: 488, reason: r.mode === 'rtp' ? r.reason : 'stream offered without RTP/SAVP' };
      secure = false;
      reason = r.mode === 'rtp' ? r.reason : 'stream offered without RTP/SAVP';
    }
  }
  return { mode: secure ? 'srtp' : 'rtp', sdp: Buffer.from(join(session, media), 'utf8'), ...(reason ? { reason } : {}) };
}

/**
 * The body without its SDES keys: every a=crypto line removed and RTP/SAVP streams turned into RTP/AVP
 * (RFC 3551), the form of an unencrypted offer or answer the other side can still accept or refuse.
 */
export function withoutKeys(body: Buffer): Buffer {
  const { session, media } = split(body.toString('utf8'));
  const kept = session.filter((l) => !l.startsWith('a=crypto:'));
  for (const m of media) {
    m.lines = m.lines.filter((l) => !l.startsWith('a=crypto:'));
    m.mline = m.mline.replace(/ RTP\/SAVP( |$)/, ' RTP/AVP$1');
  }
  return Buffer.from(join(kept, media), 'utf8');
}

/** Keys may be sent on, and a secure call be called Encrypted, only when both legs are TLS. */
export function legsProtectKeys(inbound: string, outbound: string): boolean {
  return inbound === 'tls' && outbound === 'tls';
}

/** True when every active stream of the answer is RTP/SAVP with one allowed, parseable a=crypto. */
export function answerIsSecure(body: Buffer, policy: CryptoPolicy): boolean {
  const { media } = split(body.toString('utf8'));
  const act = media.filter(active);
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
