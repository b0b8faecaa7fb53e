/**
 * Typed errors of the SRTP engine. Each native result code maps to one stable `code`; the per-context counters
 * (see SrtpStats) count the same events, so a receiver can drop bad packets silently and still report them.
 */
import { SbdError } from '../../lib/errors.js';

export class SrtpError extends SbdError {}

/** Native result codes (native/srtp.h) → stable codes and messages. */
const NATIVE: Record<number, [string, string]> = {
  [-1]: ['ERR_SRTP_PARAM', 'invalid SRTP parameters'],
  [-2]: ['ERR_SRTP_MALFORMED', 'malformed RTP/RTCP header'],
  [-3]: ['ERR_SRTP_TRUNCATED', 'packet too short for its authentication tag, MKI or SRTCP index'],
  [-4]: ['ERR_SRTP_AUTH', 'authentication failed'],
  [-5]: ['ERR_SRTP_REPLAY', 'replayed packet (index already received)'],
  [-6]: ['ERR_SRTP_REPLAY_OLD', 'packet index is older than the replay window'],
  [-7]: ['ERR_SRTP_MKI', 'unknown master key identifier (MKI)'],
  [-8]: ['ERR_SRTP_NO_ROOM', 'buffer has no room for the authentication tag'],
  [-9]: ['ERR_SRTP_SSRC_LIMIT', 'too many SSRCs in one SRTP context (maxSsrcs)'],
  [-10]: ['ERR_SRTP_CRYPTO', 'the crypto backend failed'],
  [-11]: ['ERR_SRTP_BACKEND_UNAVAILABLE', 'the crypto backend is not available here'],
  [-12]: ['ERR_SRTP_INDEX_EXHAUSTED', 'packet index space exhausted: the master key must be replaced'],
};

export const SRTP_ERROR_CODES = Object.values(NATIVE).map(([code]) => code);

export function srtpErrorFromNative(rc: number, context?: string): SrtpError {
  const [code, message] = NATIVE[rc] ?? ['ERR_SRTP_CRYPTO', `native SRTP error ${rc}`];
  return new SrtpError(code, context ? `${message} (${context})` : message);
}

export function srtpCodeOf(rc: number): string {
  return (NATIVE[rc] ?? ['ERR_SRTP_CRYPTO'])[0];
}
