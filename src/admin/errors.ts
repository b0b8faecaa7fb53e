/**
 * Errors of the admin shell. The shell prints every error as one line, `Executed command unsuccessful: <message>`,
 * never a stack trace; SbdError from the backing functions (store, pki, trust) are shown the same way.
 */
import { SbdError } from '../lib/errors.js';

export const AdminErrorCode = {
  unknownCommand: 'ERR_ADMIN_UNKNOWN_COMMAND',
  args: 'ERR_ADMIN_ARGS',
  notPermitted: 'ERR_ADMIN_NOT_PERMITTED',
  system: 'ERR_ADMIN_SYSTEM',
  /** First boot has not finished: the store the command needs is not made yet (first-boot.ts). */
  notReady: 'ERR_ADMIN_NOT_READY',
} as const;

export type AdminErrorCode = (typeof AdminErrorCode)[keyof typeof AdminErrorCode];

/** True for the shell's own codes (printed without the code: the message says it all). */
export function isAdminErrorCode(code: string): code is AdminErrorCode {
  return (Object.values(AdminErrorCode) as string[]).includes(code);
}

export class AdminError extends SbdError {
  declare readonly code: AdminErrorCode;

  constructor(code: AdminErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
