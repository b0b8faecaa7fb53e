import { SbdError } from '../../lib/errors.js';

/**
 * Every error of the CAPF codec, session state machines, server and client (spec cisco-trust-formats §3.2).
 * Codes are stable strings. `reason` is the CAPF REASON code the server answers with in END_SESSION when the
 * error ends a session it can still talk on (7 = invalid element, 9 = unknown device).
 */
export const CapfErrorCode = {
  protocolId: 'ERR_CAPF_PROTOCOL_ID',
  frameTooLarge: 'ERR_CAPF_FRAME_TOO_LARGE',
  truncated: 'ERR_CAPF_TRUNCATED',
  /** An element is malformed, repeated, of the wrong size, or missing where the command needs it. */
  element: 'ERR_CAPF_ELEMENT',
  /** A command that is not allowed in the session's current state. */
  command: 'ERR_CAPF_COMMAND',
  /** A frame carries another session id than the one the server picked. */
  session: 'ERR_CAPF_SESSION',
  /** VERSION is not 3. */
  version: 'ERR_CAPF_VERSION',
  /** DEVICE_NAME is missing or not SEP + 12 hex digits; or the store does not know the device. */
  deviceName: 'ERR_CAPF_DEVICE_NAME',
  unknownDevice: 'ERR_CAPF_UNKNOWN_DEVICE',
  /** The phone did not prove what the device's authentication mode asks for. */
  auth: 'ERR_CAPF_AUTH',
  /** N wrong authentications in a row: the pending operation was cancelled (the administrator schedules it anew). */
  authLimit: 'ERR_CAPF_AUTH_LIMIT',
  /** The certificate a phone handed over in a fetch is not an LSC of this CAPF for this device: not stored. */
  fetchedCertificate: 'ERR_CAPF_FETCHED_CERT',
  /** The phone's public key is not the type, size or curve asked for. */
  keySpec: 'ERR_CAPF_KEY_SPEC',
  /** The phone reported a failure (KEY_GENERATE / STORE / FETCH / DELETE response reason not 1). */
  phoneFailed: 'ERR_CAPF_PHONE_FAILED',
  /** The server ended the session with a reason other than success (client side). */
  serverRefused: 'ERR_CAPF_SERVER_REFUSED',
  timeout: 'ERR_CAPF_TIMEOUT',
  connection: 'ERR_CAPF_CONNECTION',
  serverCertificate: 'ERR_CAPF_SERVER_CERT',
  /** A method was called in a state that does not allow it (a local programming error). */
  state: 'ERR_CAPF_STATE',
  argument: 'ERR_CAPF_ARGUMENT',
} as const;
export type CapfErrorCode = (typeof CapfErrorCode)[keyof typeof CapfErrorCode];

export class CapfError extends SbdError {
  declare readonly code: CapfErrorCode;
  readonly remote: boolean;
  /** The REASON to send in END_SESSION for this error. */
  readonly reason: number;

  constructor(code: CapfErrorCode, message: string, options: { remote?: boolean; reason?: number; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.remote = options.remote ?? true;
    this.reason = options.reason ?? 7;
  }
}

export function localError(code: CapfErrorCode, message: string): CapfError {
  return new CapfError(code, message, { remote: false });
}
