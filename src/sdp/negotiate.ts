/**
 * SRTP crypto negotiation over SDES (RFC 4568 §7), with the priorities of the seeds:
 *   calls:            AEAD_AES_256_GCM > AEAD_AES_128_GCM > AES_CM_128_HMAC_SHA1_80 > AES_CM_128_HMAC_SHA1_32,
 *                     > F8_128_HMAC_SHA1_80 (RFC 3711 §4.1.2; only when SRTP Ciphers lists it, which the default
 *                     does not: issue 18 item 9, for peers that offer nothing else),
 *                     then plain RTP unless Block Unencrypted Calls is set (then the call is refused, 488);
 *   media streaming:  AES_CM_128_HMAC_SHA1_80 > AES_CM_128_HMAC_SHA1_32, then RTP (music on hold, IVR,
 *                     annunciator — the seeds' Table 1).
 * Only suites in `allowed` (the administrator's SRTP cipher setting) are chosen. An offered line is usable when
 * it has one key, no MKI beyond what the engine carries (one key per context), KDR 0 or absent, no
 * UNENCRYPTED_SRTP / UNENCRYPTED_SRTCP / UNAUTHENTICATED_SRTP (security by default never weakens a suite), and
 * no mandatory session parameter we do not know (RFC 4568 §6.3: an unknown one makes the line unacceptable).
 */
import { SUITES, type Suite } from './suites.js';
import type { SrtpPolicy } from '../media/srtp/context.js';
import { generateCryptoAttribute, mkiBytes, parseCryptoAttribute, SdesErrorCode, type CryptoAttribute } from './crypto-attribute.js';

export type NegotiationPurpose = 'call' | 'media-streaming';

export const CALL_PRIORITY: readonly Suite[] = [
  'AEAD_AES_256_GCM',
  'AEAD_AES_128_GCM',
  'AES_CM_128_HMAC_SHA1_80',
  'AES_CM_128_HMAC_SHA1_32',
  'F8_128_HMAC_SHA1_80',
];
export const MEDIA_STREAMING_PRIORITY: readonly Suite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'];

export interface NegotiateOptions {
  /** Suites the administrator allows. */
  allowed: readonly Suite[];
  /** Block Unencrypted Calls: no common suite refuses the call instead of falling back to RTP. */
  blockUnencrypted: boolean;
  purpose: NegotiationPurpose;
}

export type NegotiationResult =
  | {
      mode: 'srtp';
      suite: Suite;
      /** The offered line we accepted (its key protects what the offerer sends). */
      remote: CryptoAttribute;
      /** Our answer line: same tag and suite, our fresh key (it protects what we send). */
      local: CryptoAttribute;
      /** Engine policy for packets we send. */
      txPolicy: SrtpPolicy;
      /** Engine policy for packets we receive. */
      rxPolicy: SrtpPolicy;
      /** Replay window from the offer's WSH, if any (RFC 4568 §6.3.7), else undefined. */
      windowSizeHint?: number;
    }
  | { mode: 'rtp'; reason: string }
  | { mode: 'reject'; statusHint: 488; code: typeof SdesErrorCode.noCommonSuite; reason: string };

const KNOWN_PARAMS = /^(KDR=\d+|WSH=\d+|UNENCRYPTED_SRTP|UNENCRYPTED_SRTCP|UNAUTHENTICATED_SRTP|FEC_ORDER=\S+|FEC_KEY=\S+)$/;

/** Why an offered line cannot be used, or undefined when it can. */
export function unusableReason(a: CryptoAttribute): string | undefined {
  if (a.keys.length !== 1) return 'more than one master key';
  for (const sp of a.sessionParams) {
    if (sp.startsWith('-')) continue; // optional parameter we may ignore (RFC 4568 §6.3)
    if (!KNOWN_PARAMS.test(sp)) return `unknown mandatory session parameter ${sp}`;
    if (/^KDR=/.test(sp) && sp !== 'KDR=0') return `key derivation rate ${sp} not supported (only 0)`;
    if (/^UNENCRYPTED_|^UNAUTHENTICATED_/.test(sp)) return `${sp} weakens the suite`;
    if (/^FEC_/.test(sp)) return `${sp} not supported`;
    const wsh = /^WSH=(\d+)$/.exec(sp);
    if (wsh && Number(wsh[1]) < 64) return 'WSH below 64 (RFC 4568 §6.3.7)';
  }
  return undefined;
}

function policyOf(a: CryptoAttribute, window: number | undefined): SrtpPolicy {
  const k = a.keys[0]!;
  return {
    suite: a.suite,
    masterKey: k.key,
    masterSalt: k.salt,
    ...(k.mki ? { mki: mkiBytes(k.mki) } : {}),
    ...(window ? { replayWindow: Math.min(window, 32768) } : {}),
  };
}

/** Accepts parsed lines or raw `a=crypto` values; raw lines that do not parse are skipped. */
export function negotiateCrypto(offer: readonly (CryptoAttribute | string)[], options: NegotiateOptions): NegotiationResult {
  const parsed: CryptoAttribute[] = [];
  for (const o of offer) {
    if (typeof o !== 'string') parsed.push(o);
    else {
      try {
        parsed.push(parseCryptoAttribute(o));
      } catch {
        /* RFC 4568 §7.1.1: an attribute we cannot understand is ignored */
      }
    }
  }
  const priority = options.purpose === 'media-streaming' ? MEDIA_STREAMING_PRIORITY : CALL_PRIORITY;
  for (const suite of priority) {
    if (!options.allowed.includes(suite)) continue;
    const line = parsed.find((a) => a.suite === suite && unusableReason(a) === undefined);
    if (!line) continue;
    const wsh = line.sessionParams.map((p) => /^WSH=(\d+)$/.exec(p)).find((m) => m)?.[1];
    const window = wsh ? Number(wsh) : undefined;
    const mki = line.keys[0]!.mki;
    // our key carries an MKI of the same length when the offer's does (RFC 4568 §6.1: lengths per direction)
    const local = generateCryptoAttribute(line.tag, suite, mki ? { mki: { value: 1n, length: mki.length } } : {});
    return {
      mode: 'srtp',
      suite,
      remote: line,
      local,
      txPolicy: policyOf(local, window),
      rxPolicy: policyOf(line, window),
      ...(window ? { windowSizeHint: window } : {}),
    };
  }
  const reason = parsed.length === 0 ? 'no usable a=crypto offered' : 'no common crypto suite';
  if (options.blockUnencrypted) return { mode: 'reject', statusHint: 488, code: SdesErrorCode.noCommonSuite, reason };
  return { mode: 'rtp', reason };
}

/** Our offer: one line per allowed suite in priority order, tags from 1, fresh keys. */
export function createCryptoOffer(allowed: readonly Suite[], purpose: NegotiationPurpose): CryptoAttribute[] {
  const priority = purpose === 'media-streaming' ? MEDIA_STREAMING_PRIORITY : CALL_PRIORITY;
  return priority.filter((s) => allowed.includes(s)).map((s, i) => generateCryptoAttribute(i + 1, s));
}

/**
 * The offerer's side: checks the answer chose one of our lines (same tag and suite, RFC 4568 §7.1.3) and
 * returns the engine policies, or undefined when the answer is not acceptable.
 */
export function acceptCryptoAnswer(
  ourOffer: readonly CryptoAttribute[],
  answer: CryptoAttribute,
): { suite: Suite; txPolicy: SrtpPolicy; rxPolicy: SrtpPolicy } | undefined {
  const mine = ourOffer.find((o) => o.tag === answer.tag);
  if (!mine || mine.suite !== answer.suite || unusableReason(answer) !== undefined) return undefined;
  if (answer.keys[0]!.key.length !== SUITES[answer.suite].keyLength) return undefined;
  return { suite: answer.suite, txPolicy: policyOf(mine, undefined), rxPolicy: policyOf(answer, undefined) };
}
