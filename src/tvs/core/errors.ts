import { SbdError } from '../../lib/errors.js';

/**
 * Every error of the TVS codec, server and client (spec cisco-trust-formats §3.1). Codes are stable strings; the
 * server turns a remote error into "close the connection + one log line" (TVS has no error response of its own:
 * an unknown certificate is a valid question with the answer STATUS=invalid, not an error).
 */
export const TvsErrorCode = {
  /** Header byte 0 is not 87. */
  protocolId: 'ERR_TVS_PROTOCOL_ID',
  /** Header byte 1 is not protocol version 1. */
  version: 'ERR_TVS_VERSION',
  /** The header announces a body longer than `maxBodyBytes`. */
  frameTooLarge: 'ERR_TVS_FRAME_TOO_LARGE',
  /** The stream or an element ended before its announced length. */
  truncated: 'ERR_TVS_TRUNCATED',
  /** An element is malformed, repeated or has the wrong size. */
  element: 'ERR_TVS_ELEMENT',
  /** The command is not the one this side expects (VERIFY_REQUEST on the server, VERIFY_RESPONSE on the client). */
  command: 'ERR_TVS_COMMAND',
  /** DEVICE_NAME is missing or not `CP-<model>-SEP<MAC>`. */
  deviceName: 'ERR_TVS_DEVICE_NAME',
  /** CERTIFICATE is missing or empty. */
  certificate: 'ERR_TVS_CERTIFICATE',
  /** The response's session id is not the one the request carried. */
  session: 'ERR_TVS_SESSION',
  /** No complete answer within the time limit. */
  timeout: 'ERR_TVS_TIMEOUT',
  /** The client refused the server's TLS certificate. */
  serverCertificate: 'ERR_TVS_SERVER_CERT',
  /** The peer closed the connection or a socket error happened. */
  connection: 'ERR_TVS_CONNECTION',
  /** A value given to a builder or an option is out of range. */
  argument: 'ERR_TVS_ARGUMENT',
} as const;
export type TvsErrorCode = (typeof TvsErrorCode)[keyof typeof TvsErrorCode];

export class TvsError extends SbdError {
  declare readonly code: TvsErrorCode;
  /** True when the peer sent something wrong (as opposed to a local failure or a bad argument). */
  readonly remote: boolean;

  constructor(code: TvsErrorCode, message: string, options: { remote?: boolean; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.remote = options.remote ?? true;
  }
}
