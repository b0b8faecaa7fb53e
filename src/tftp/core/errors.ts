/**
 * TFTP errors. `statusHint` is the TFTP error code (RFC 1350 §5, RFC 2347) an I/O layer answers with; `code` is
 * sbd's stable string. Every bad packet, name or option turns into one of these, never a crash.
 */
import { SbdError } from '../../lib/errors.js';

/** RFC 1350 §5 error codes, plus 8 from RFC 2347. */
export const TftpErrorCode = {
  notDefined: 0,
  fileNotFound: 1,
  accessViolation: 2,
  diskFull: 3,
  illegalOperation: 4,
  unknownTransferId: 5,
  fileExists: 6,
  noSuchUser: 7,
  optionRefused: 8,
} as const;
export type TftpErrorCode = (typeof TftpErrorCode)[keyof typeof TftpErrorCode];

export class TftpError extends SbdError {
  /** The TFTP error code to put on the wire. */
  readonly tftpCode: TftpErrorCode;

  constructor(code: string, tftpCode: TftpErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { statusHint: tftpCode, cause: options?.cause });
    this.tftpCode = tftpCode;
  }
}

/** A datagram that is not a well-formed TFTP packet (answered with error 4 when it comes from a known peer). */
export function malformed(message: string): TftpError {
  return new TftpError('ERR_TFTP_MALFORMED', TftpErrorCode.illegalOperation, message);
}

export function fileNotFound(name: string): TftpError {
  return new TftpError('ERR_TFTP_NOT_FOUND', TftpErrorCode.fileNotFound, `file not found: ${printable(name)}`);
}

export function accessViolation(message: string): TftpError {
  return new TftpError('ERR_TFTP_ACCESS', TftpErrorCode.accessViolation, message);
}

export function optionRefused(message: string): TftpError {
  return new TftpError('ERR_TFTP_OPTION', TftpErrorCode.optionRefused, message);
}

export function illegalOperation(message: string): TftpError {
  return new TftpError('ERR_TFTP_ILLEGAL', TftpErrorCode.illegalOperation, message);
}

/** A file name quoted for an error message or log line: non-printable bytes as \xNN, cut at 80 characters. */
export function printable(name: string): string {
  const cut = name.length > 80 ? name.slice(0, 80) + '…' : name;
  return JSON.stringify(cut).slice(1, -1);
}
