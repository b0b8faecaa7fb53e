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

/**
 * Every TFTP error sbd raises, once, for both engines: its stable `code`, the TFTP error number it goes on the wire
 * with, and its message — the whole text when `fixed`, else what the message (built at the raise) says. The C
 * engine's native/tftp-errors.h is generated from this table (c-tables.ts).
 */
export const tftpErrors = {
  ERR_TFTP_MALFORMED: { tftp: TftpErrorCode.illegalOperation, fixed: false, message: 'not a well-formed TFTP packet' },
  ERR_TFTP_REQUEST_TOO_LONG: { tftp: TftpErrorCode.illegalOperation, fixed: false, message: 'request longer than maxRequestBytes' },
  ERR_TFTP_WRITE_REFUSED: {
    tftp: TftpErrorCode.accessViolation,
    fixed: true,
    message: 'write requests are refused: this server is read-only',
  },
  ERR_TFTP_MODE: { tftp: TftpErrorCode.illegalOperation, fixed: false, message: 'transfer mode not supported' },
  ERR_TFTP_ILLEGAL: { tftp: TftpErrorCode.illegalOperation, fixed: false, message: 'unexpected opcode' },
  ERR_TFTP_UNKNOWN_TID: { tftp: TftpErrorCode.unknownTransferId, fixed: true, message: 'unknown transfer ID' },
  ERR_TFTP_OPTION: { tftp: TftpErrorCode.optionRefused, fixed: false, message: 'option refused (RFC 2347)' },
  ERR_TFTP_NOT_FOUND: { tftp: TftpErrorCode.fileNotFound, fixed: false, message: 'file not found' },
  ERR_TFTP_ACCESS: { tftp: TftpErrorCode.accessViolation, fixed: false, message: 'access violation' },
  ERR_TFTP_NAME_EMPTY: { tftp: TftpErrorCode.accessViolation, fixed: true, message: 'empty file name' },
  ERR_TFTP_NAME_TOO_LONG: { tftp: TftpErrorCode.accessViolation, fixed: false, message: 'file name longer than maxFilenameLength' },
  ERR_TFTP_NAME_NUL: { tftp: TftpErrorCode.accessViolation, fixed: false, message: 'file name contains a NUL byte' },
  ERR_TFTP_NAME_UNPRINTABLE: { tftp: TftpErrorCode.accessViolation, fixed: false, message: 'file name contains a non-printable byte' },
  ERR_TFTP_NAME_BACKSLASH: { tftp: TftpErrorCode.accessViolation, fixed: false, message: 'file name contains a backslash' },
  ERR_TFTP_NAME_ABSOLUTE: { tftp: TftpErrorCode.accessViolation, fixed: false, message: 'absolute or drive-letter path refused' },
  ERR_TFTP_NAME_PARENT: { tftp: TftpErrorCode.accessViolation, fixed: false, message: '".." in file name refused' },
  ERR_TFTP_NAME_SEGMENT: { tftp: TftpErrorCode.accessViolation, fixed: false, message: 'empty or "." path segment refused' },
  ERR_TFTP_INTERNAL: { tftp: TftpErrorCode.notDefined, fixed: true, message: 'internal error' },
  ERR_TFTP_IO: { tftp: TftpErrorCode.notDefined, fixed: false, message: 'cannot read a file' },
  ERR_TFTP_ROOT: { tftp: TftpErrorCode.notDefined, fixed: false, message: 'the TFTP root is not readable' },
  ERR_TFTP_SOURCE: { tftp: TftpErrorCode.notDefined, fixed: false, message: 'the file source failed' },
  ERR_TFTP_NODE: { tftp: TftpErrorCode.notDefined, fixed: false, message: 'the store has no such node' },
  ERR_TFTP_CLOSED: { tftp: TftpErrorCode.notDefined, fixed: true, message: 'client pool is closed' },
  ERR_TFTP_NOT_COMPLETE: { tftp: TftpErrorCode.notDefined, fixed: true, message: 'transfer not complete' },
  ERR_TFTP_TOO_BIG: { tftp: TftpErrorCode.diskFull, fixed: false, message: 'file larger than the client accepts' },
  /** The client's view of a server's ERROR: its number is the server's (given at the raise). */
  ERR_TFTP_TRANSFER: { tftp: TftpErrorCode.notDefined, fixed: false, message: 'the server ended the transfer' },
} as const satisfies Record<string, { tftp: TftpErrorCode; fixed: boolean; message: string }>;
export type TftpErrorName = keyof typeof tftpErrors;

/**
 * The room's other codes: errors that never go on the wire (so not in tftpErrors nor native/tftp-errors.h) — an
 * option outside its range, the native engine missing or refusing its config, a corrupt control-channel frame.
 */
export const TftpLocalErrorCode = {
  /** An option outside its range in the limits table (limits.ts TftpLimitError). */
  limit: 'ERR_TFTP_LIMIT',
  /** A frame on the engine's control channel that does not decode (native/control.ts EngineProtocolError). */
  engineProtocol: 'ERR_TFTP_ENGINE_PROTOCOL',
  // native-server.ts NativeEngineError:
  /** libsbdtftp.so is not built. */
  nativeMissing: 'ERR_TFTP_NATIVE_MISSING',
  /** The engine's defaults do not fit the buffer read. */
  nativeDefaults: 'ERR_TFTP_NATIVE_DEFAULTS',
  /** sbd_tftp_first_reply refused the config it was given. */
  nativeConfig: 'ERR_TFTP_NATIVE_CONFIG',
  /** The engine did not start (bind failed, config refused); the message is the engine's. */
  nativeStart: 'ERR_TFTP_NATIVE_START',
} as const;
export type TftpLocalErrorCode = (typeof TftpLocalErrorCode)[keyof typeof TftpLocalErrorCode];

export class TftpError extends SbdError {
  /** The TFTP error code to put on the wire. */
  readonly tftpCode: TftpErrorCode;
  declare readonly code: TftpErrorName;

  /** The number comes from the table (`tftpCode` only for ERR_TFTP_TRANSFER, which carries a server's). */
  constructor(code: TftpErrorName, message: string, options?: { cause?: unknown; tftpCode?: TftpErrorCode }) {
    const tftpCode = options?.tftpCode ?? tftpErrors[code].tftp;
    super(code, message, { statusHint: tftpCode, cause: options?.cause });
    this.tftpCode = tftpCode;
  }
}

/** A datagram that is not a well-formed TFTP packet (answered with error 4 when it comes from a known peer). */
export function malformed(message: string): TftpError {
  return new TftpError('ERR_TFTP_MALFORMED', message);
}

export function fileNotFound(name: string): TftpError {
  return new TftpError('ERR_TFTP_NOT_FOUND', `file not found: ${printable(name)}`);
}

export function accessViolation(message: string): TftpError {
  return new TftpError('ERR_TFTP_ACCESS', message);
}

export function optionRefused(message: string): TftpError {
  return new TftpError('ERR_TFTP_OPTION', message);
}

export function illegalOperation(message: string): TftpError {
  return new TftpError('ERR_TFTP_ILLEGAL', message);
}

/** A file name quoted for an error message or log line: non-printable bytes as \xNN, cut at 80 characters. */
export function printable(name: string): string {
  const cut = name.length > 80 ? name.slice(0, 80) + '…' : name;
  return JSON.stringify(cut).slice(1, -1);
}
