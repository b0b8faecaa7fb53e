import { SbdError } from '../../lib/errors.js';

/**
 * Every way a Cisco alarm body (application/x-cisco-alarm+xml) is refused. The body comes from the network
 * before anything about it is trusted, so each refusal names the byte offset it stopped at and the status the
 * I/O layer answers with (400, or 413 for a body over the size bound).
 */
export const AlarmErrorCode = {
  tooLarge: 'ERR_ALARM_TOO_LARGE',
  encoding: 'ERR_ALARM_ENCODING',
  syntax: 'ERR_ALARM_SYNTAX',
  doctype: 'ERR_ALARM_DOCTYPE',
  entity: 'ERR_ALARM_ENTITY',
  depth: 'ERR_ALARM_DEPTH',
  tooMany: 'ERR_ALARM_TOO_MANY',
  duplicate: 'ERR_ALARM_DUPLICATE',
  notAlarm: 'ERR_ALARM_NOT_ALARM',
  field: 'ERR_ALARM_FIELD',
  /** A trust-list alarm from something that is not a registered device (refer.ts: 403). */
  notDevice: 'ERR_ALARM_NOT_DEVICE',
  /** The alarm or its Contact names another device than the one that sent it (refer.ts: 403). */
  otherDevice: 'ERR_ALARM_OTHER_DEVICE',
} as const;
export type AlarmErrorCodeValue = (typeof AlarmErrorCode)[keyof typeof AlarmErrorCode];

export class AlarmError extends SbdError {
  declare readonly code: AlarmErrorCodeValue;
  /** Character offset in the decoded body where parsing stopped (-1: not tied to a position). */
  readonly offset: number;

  constructor(code: AlarmErrorCodeValue, message: string, offset = -1) {
    super(code, offset >= 0 ? `${message} (at offset ${offset})` : message, { statusHint: code === AlarmErrorCode.tooLarge ? 413 : 400 });
    this.offset = offset;
  }
}
