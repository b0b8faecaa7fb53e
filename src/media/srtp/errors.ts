/**
 * Typed errors of the SRTP engine. Each native result code maps to one stable `code` (declared in
 * ../errors.ts); the per-context counters (see SrtpStats) count the same events, so a receiver can drop bad
 * packets silently and still report them.
 */
import { MediaErrorCode, SrtpError, type SrtpErrorCode } from '../errors.js';

export { SrtpError };

/** Native result codes (native/srtp.h) → stable codes and messages. */
const NATIVE: Record<number, [SrtpErrorCode, string]> = {
  [-1]: [MediaErrorCode.srtpParam, 'invalid SRTP parameters'],
  [-2]: [MediaErrorCode.srtpMalformed, 'malformed RTP/RTCP header'],
  [-3]: [MediaErrorCode.srtpTruncated, 'packet too short for its authentication tag, MKI or SRTCP index'],
  [-4]: [MediaErrorCode.srtpAuth, 'authentication failed'],
  [-5]: [MediaErrorCode.srtpReplay, 'replayed packet (index already received)'],
  [-6]: [MediaErrorCode.srtpReplayOld, 'packet index is older than the replay window'],
  [-7]: [MediaErrorCode.srtpMki, 'unknown master key identifier (MKI)'],
  [-8]: [MediaErrorCode.srtpNoRoom, 'buffer has no room for the authentication tag'],
  [-9]: [MediaErrorCode.srtpSsrcLimit, 'too many SSRCs in one SRTP context (maxSsrcs)'],
  [-10]: [MediaErrorCode.srtpCrypto, 'the crypto backend failed'],
  [-11]: [MediaErrorCode.srtpBackendUnavailable, 'the crypto backend is not available here'],
  [-12]: [MediaErrorCode.srtpIndexExhausted, 'packet index space exhausted: the master key must be replaced'],
};

export const SRTP_ERROR_CODES = Object.values(NATIVE).map(([code]) => code);

export function srtpErrorFromNative(rc: number, context?: string): SrtpError {
  const [code, message]: [SrtpErrorCode, string] = NATIVE[rc] ?? [MediaErrorCode.srtpCrypto, `native SRTP error ${rc}`];
  return new SrtpError(code, context ? `${message} (${context})` : message);
}

export function srtpCodeOf(rc: number): SrtpErrorCode {
  return (NATIVE[rc] ?? [MediaErrorCode.srtpCrypto])[0];
}
