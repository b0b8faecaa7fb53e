/**
 * Every error code of the media room, once: the media server and its control socket (streaming/), the SRTP
 * engine (srtp/, one code per native result), pcap files (pcap/). Each part has its own error class typed by
 * its slice of this table. The control socket answers with these strings, so they never change meaning.
 */
import { SbdError } from '../lib/errors.js';

export const MediaErrorCode = {
  // streaming/ (MediaError)
  /** A source name that is not 1-64 of [A-Za-z0-9_.-]. */
  sourceName: 'ERR_MEDIA_SOURCE_NAME',
  /** No source of that name (statusHint 404). */
  sourceUnknown: 'ERR_MEDIA_SOURCE_UNKNOWN',
  /** A listener address that is not an IP address, or a port outside 1..65535. */
  address: 'ERR_MEDIA_ADDRESS',
  /** maxListeners reached (statusHint 503). */
  tooManyListeners: 'ERR_MEDIA_TOO_MANY_LISTENERS',
  /** The offer's crypto lines and the server's suites have nothing in common (statusHint 488). */
  noCommonSuite: 'ERR_MEDIA_NO_COMMON_SUITE',
  /** A control request that is not a JSON object, has a bad field or an unknown op. */
  control: 'ERR_MEDIA_CONTROL',
  /** A control request line over maxLineBytes. */
  controlTooLong: 'ERR_MEDIA_CONTROL_TOO_LONG',
  /** A control request line that is not JSON. */
  controlJson: 'ERR_MEDIA_CONTROL_JSON',
  wavTooLarge: 'ERR_MEDIA_WAV_TOO_LARGE',
  /** Not RIFF/WAVE, or a fmt/data chunk missing or too short. */
  wavFormat: 'ERR_MEDIA_WAV_FORMAT',
  wavTruncated: 'ERR_MEDIA_WAV_TRUNCATED',
  /** Not 8 kHz mono G.711 or 16-bit PCM. */
  wavUnsupported: 'ERR_MEDIA_WAV_UNSUPPORTED',
  /** No samples, or fewer than one packet's worth. */
  wavEmpty: 'ERR_MEDIA_WAV_EMPTY',
  // srtp/ (SrtpError); the native result each comes from is in srtp/errors.ts
  srtpParam: 'ERR_SRTP_PARAM',
  srtpMalformed: 'ERR_SRTP_MALFORMED',
  srtpTruncated: 'ERR_SRTP_TRUNCATED',
  srtpAuth: 'ERR_SRTP_AUTH',
  srtpReplay: 'ERR_SRTP_REPLAY',
  srtpReplayOld: 'ERR_SRTP_REPLAY_OLD',
  srtpMki: 'ERR_SRTP_MKI',
  srtpNoRoom: 'ERR_SRTP_NO_ROOM',
  srtpSsrcLimit: 'ERR_SRTP_SSRC_LIMIT',
  srtpCrypto: 'ERR_SRTP_CRYPTO',
  srtpBackendUnavailable: 'ERR_SRTP_BACKEND_UNAVAILABLE',
  srtpIndexExhausted: 'ERR_SRTP_INDEX_EXHAUSTED',
  /** libsbdsrtp.so is not built. */
  srtpNativeMissing: 'ERR_SRTP_NATIVE_MISSING',
  /** A PacketBatch already holds maxPackets. */
  srtpBatchFull: 'ERR_SRTP_BATCH_FULL',
  /** A master key or salt of the wrong length for the suite. */
  srtpKeyLength: 'ERR_SRTP_KEY_LENGTH',
  srtpSuite: 'ERR_SRTP_SUITE',
  srtpClosed: 'ERR_SRTP_CLOSED',
  // pcap/ (PcapError)
  /** Too short for a pcap header, or an unknown magic. */
  pcapFormat: 'ERR_PCAP_FORMAT',
  /** A pcapng file (convert with editcap -F pcap). */
  pcapng: 'ERR_PCAP_PCAPNG',
  pcapTruncated: 'ERR_PCAP_TRUNCATED',
  pcapRecordTooLarge: 'ERR_PCAP_RECORD_TOO_LARGE',
} as const;
export type MediaErrorCode = (typeof MediaErrorCode)[keyof typeof MediaErrorCode];
export type SrtpErrorCode = Extract<MediaErrorCode, `ERR_SRTP_${string}`>;
export type PcapErrorCode = Extract<MediaErrorCode, `ERR_PCAP_${string}`>;

/** The media server, its control socket and WAV sources. */
export class MediaError extends SbdError {
  declare readonly code: Exclude<MediaErrorCode, SrtpErrorCode | PcapErrorCode>;

  constructor(
    code: Exclude<MediaErrorCode, SrtpErrorCode | PcapErrorCode>,
    message: string,
    options?: { statusHint?: number; cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The SRTP engine (srtp/errors.ts maps native results to these). */
export class SrtpError extends SbdError {
  declare readonly code: SrtpErrorCode;

  constructor(code: SrtpErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export class PcapError extends SbdError {
  declare readonly code: PcapErrorCode;

  constructor(code: PcapErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
