/** Errors of the simulated phone's SIP user agent: one stable code per way a registration or call can fail. */
import { SbdError } from '../../lib/errors.js';

export const SipUaErrorCode = {
  /** The TLS/TCP connection to the SIP server failed or closed. */
  transport: 'ERR_SIM_SIP_TRANSPORT',
  /** No final response in time (Timer B/F, or the UA's own wait). */
  timeout: 'ERR_SIM_SIP_TIMEOUT',
  /** The server refused the request (final response ≥ 300 that credentials cannot fix). */
  refused: 'ERR_SIM_SIP_REFUSED',
  /** A challenge we cannot answer (no credentials, unknown algorithm, the same challenge twice). */
  auth: 'ERR_SIM_SIP_AUTH',
  /** The peer's SDP is not usable: no audio stream, no crypto line we offered, unparsable. */
  sdp: 'ERR_SIM_SIP_SDP',
  /** A call operation in the wrong state (hang up a call that is over, …). */
  state: 'ERR_SIM_SIP_STATE',
} as const;
export type SipUaErrorCode = (typeof SipUaErrorCode)[keyof typeof SipUaErrorCode];

export class SipUaError extends SbdError {
  readonly status: number | undefined;
  constructor(code: SipUaErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(code, message, {
      ...(options.status !== undefined ? { statusHint: options.status } : {}),
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
    });
    this.status = options.status;
  }
}
