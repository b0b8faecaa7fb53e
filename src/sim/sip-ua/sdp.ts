/**
 * The phone's SDP (RFC 4566) for one audio stream with SDES keys (RFC 4568), sans-I/O. Offer/answer follows
 * RFC 3264: the offer lists our suites in the call priority (`createCryptoOffer`), the answer picks one line
 * (`negotiateCrypto`); the answerer keeps the offer's payload types it supports (PCMU, PCMA: G.711, RFC 3551).
 */
import { formatCryptoAttribute, parseCryptoAttribute, type CryptoAttribute } from '../../sdp/index.js';
import { SipUaError, SipUaErrorCode } from './errors.js';

/** Static payload types the simulated phone speaks (RFC 3551 §6). */
export const AUDIO_CODECS = { 0: 'PCMU/8000', 8: 'PCMA/8000' } as const;

export const sdpLimits = { maxLines: 256, maxBytes: 16384 } as const;

export interface LocalAudio {
  /** Address written into c= (the RTP socket's bind address). */
  address: string;
  port: number;
  /** Payload types in preference order. */
  payloadTypes: readonly number[];
  /** a=crypto lines: present → RTP/SAVP, absent → RTP/AVP. */
  crypto?: readonly CryptoAttribute[];
  /** o= session id and version (RFC 4566 §5.2). */
  sessionId: string;
  sessionVersion?: number;
}

export function buildSdp(a: LocalAudio): Buffer {
  const ip = a.address.includes(':') ? 'IP6' : 'IP4';
  const profile = a.crypto && a.crypto.length > 0 ? 'RTP/SAVP' : 'RTP/AVP';
  const lines = [
    'v=0',
    `o=sbd-phone ${a.sessionId} ${a.sessionVersion ?? 1} IN ${ip} ${a.address}`,
    's=-',
    `c=IN ${ip} ${a.address}`,
    't=0 0',
    `m=audio ${a.port} ${profile} ${a.payloadTypes.join(' ')}`,
    ...a.payloadTypes.filter((pt) => pt in AUDIO_CODECS).map((pt) => `a=rtpmap:${pt} ${AUDIO_CODECS[pt as keyof typeof AUDIO_CODECS]}`),
    ...(a.crypto ?? []).map((c) => `a=crypto:${formatCryptoAttribute(c)}`),
    'a=ptime:20',
    'a=sendrecv',
  ];
  return Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
}

export interface RemoteAudio {
  address: string;
  port: number;
  profile: string;
  payloadTypes: number[];
  /** The a=crypto values of the audio stream (without "a=crypto:"). */
  crypto: string[];
  /** a=sendonly/recvonly/inactive/sendrecv (default sendrecv). */
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
}

/** The first audio stream of an SDP body; typed errors when there is none or it cannot be used. */
export function parseAudio(body: Buffer): RemoteAudio {
  if (body.length > sdpLimits.maxBytes)
    throw new SipUaError(SipUaErrorCode.sdp, `SDP of ${body.length} bytes is over ${sdpLimits.maxBytes}`);
  const lines = body
    .toString('utf8')
    .split(/\r?\n/)
    .filter((l) => l.length > 0);
  if (lines.length > sdpLimits.maxLines)
    throw new SipUaError(SipUaErrorCode.sdp, `SDP of ${lines.length} lines is over ${sdpLimits.maxLines}`);
  let sessionAddress: string | undefined;
  let audio: RemoteAudio | undefined;
  let inAudio = false;
  let sessionDirection: RemoteAudio['direction'] = 'sendrecv';
  for (const l of lines) {
    if (l.startsWith('m=')) {
      if (audio) break; // only the first audio stream
      const m = /^m=audio (\d+)(?:\/\d+)? (\S+) ([\d ]+)$/.exec(l);
      inAudio = m !== null;
      if (m)
        audio = {
          address: sessionAddress ?? '',
          port: Number(m[1]),
          profile: m[2]!,
          payloadTypes: m[3]!.trim().split(/ +/).map(Number),
          crypto: [],
          direction: sessionDirection,
        };
      continue;
    }
    const c = /^c=IN IP[46] ([^\s/]+)/.exec(l);
    if (c) {
      if (audio && inAudio) audio.address = c[1]!;
      else if (!audio) sessionAddress = c[1]!;
      continue;
    }
    const dir = /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(l);
    if (dir) {
      if (audio && inAudio) audio.direction = dir[1] as RemoteAudio['direction'];
      else if (!audio) sessionDirection = dir[1] as RemoteAudio['direction'];
      continue;
    }
    if (audio && inAudio && l.startsWith('a=crypto:')) audio.crypto.push(l.slice('a=crypto:'.length));
  }
  if (!audio) throw new SipUaError(SipUaErrorCode.sdp, 'SDP has no audio stream');
  if (audio.address === '') throw new SipUaError(SipUaErrorCode.sdp, 'SDP audio stream has no connection address');
  if (audio.port > 65535) throw new SipUaError(SipUaErrorCode.sdp, `SDP audio port ${audio.port} is out of range`);
  return audio;
}

/** The crypto line the answerer chose (RFC 4568 §7.1.3: exactly one per stream in an answer). */
export function answeredCrypto(remote: RemoteAudio): CryptoAttribute {
  if (remote.crypto.length !== 1)
    throw new SipUaError(SipUaErrorCode.sdp, `answer carries ${remote.crypto.length} a=crypto lines, not one`);
  try {
    return parseCryptoAttribute(remote.crypto[0]!);
  } catch (err) {
    throw new SipUaError(SipUaErrorCode.sdp, `answer's a=crypto does not parse: ${(err as Error).message}`, { cause: err });
  }
}
