/** Errors of the simulated phone's SIP user agent: one stable code per way a registration or call can fail. */
import { SbdError } from '../../lib/errors.js';
import { SimErrorCode } from '../errors.js';

/** The user agent's codes by their short names (declared, with what each means, in ../errors.ts). */
export const SipUaErrorCode = {
  transport: SimErrorCode.sipTransport,
  timeout: SimErrorCode.sipTimeout,
  refused: SimErrorCode.sipRefused,
  auth: SimErrorCode.sipAuth,
  sdp: SimErrorCode.sipSdp,
  state: SimErrorCode.sipState,
} as const;
export type SipUaErrorCode = (typeof SipUaErrorCode)[keyof typeof SipUaErrorCode];

export class SipUaError extends SbdError {
  declare readonly code: SipUaErrorCode;
  readonly status: number | undefined;
  constructor(code: SipUaErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(code, message, {
      ...(options.status !== undefined ? { statusHint: options.status } : {}),
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
    });
    this.status = options.status;
  }
}
