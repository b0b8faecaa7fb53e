/**
 * Errors of the SIP room. Every one carries a stable `code` from its layer's table (this file's for messages;
 * auth/digest.ts, dialogs/dialog.ts, transactions/errors.ts and the rooms above the core have theirs), and each
 * error class types `code` by its table. Parse errors also carry the status (and a reason phrase that says what
 * is wrong) the transport layer should answer a request with. A response that fails to parse is never answered
 * (RFC 3261 §18.1.2: it is discarded), which `respond` says.
 */
import { SbdError } from '../../../lib/errors.js';

/** The base of the SIP room's errors; each subclass narrows `code` to its table. */
export class SipError extends SbdError {}

export const SipParseCode = {
  badRequest: 'ERR_SIP_PARSE',
  tooLarge: 'ERR_SIP_TOO_LARGE',
  uriTooLong: 'ERR_SIP_URI_TOO_LONG',
  bodyTooLarge: 'ERR_SIP_BODY_TOO_LARGE',
  version: 'ERR_SIP_VERSION',
} as const;
export type SipParseCode = (typeof SipParseCode)[keyof typeof SipParseCode];

/** Codes of the message layer that are not about parsing. */
export const SipMessageCode = {
  /** A message to send holds a byte that would change its framing (CR, LF or another control byte). */
  headerValue: 'ERR_SIP_HEADER_VALUE',
} as const;
export type SipMessageCode = (typeof SipMessageCode)[keyof typeof SipMessageCode];

/** A message sbd was about to send that it refuses to write (serializer.ts). */
export class SipMessageError extends SipError {
  declare readonly code: SipMessageCode;

  constructor(code: SipMessageCode, message: string) {
    super(code, message);
  }
}

export class SipParseError extends SipError {
  declare readonly code: SipParseCode;
  /** Status to answer with: 400, 413, 414, 505 or 513. */
  readonly status: number;
  /** Reason phrase for the answer, e.g. "Bad Request (CSeq method does not match the request method)". */
  readonly reason: string;
  /** False when the message was a response (or its start line is unreadable): nothing is sent back. */
  respond: boolean;

  constructor(status: number, detail: string, options?: { code?: SipParseCode; respond?: boolean; cause?: unknown }) {
    const code = options?.code ?? codeForStatus(status);
    super(code, detail, { statusHint: status, cause: options?.cause });
    this.status = status;
    this.reason = `${defaultReason(status)} (${detail})`;
    this.respond = options?.respond ?? true;
  }
}

function codeForStatus(status: number): SipParseCode {
  switch (status) {
    case 413:
      return SipParseCode.bodyTooLarge;
    case 414:
      return SipParseCode.uriTooLong;
    case 505:
      return SipParseCode.version;
    case 513:
      return SipParseCode.tooLarge;
    default:
      return SipParseCode.badRequest;
  }
}

function defaultReason(status: number): string {
  switch (status) {
    case 413:
      return 'Request Entity Too Large';
    case 414:
      return 'Request-URI Too Long';
    case 505:
      return 'Version Not Supported';
    case 513:
      return 'Message Too Large';
    default:
      return 'Bad Request';
  }
}

/** Shorthand used throughout the codec: a 400 with a specific reason. */
export function bad(detail: string): SipParseError {
  return new SipParseError(400, detail);
}
