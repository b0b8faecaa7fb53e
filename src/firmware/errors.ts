/** Errors of the firmware room (updates through RAUC, versions, the store's upgrade step). Codes are stable. */
import { SbdError } from '../lib/errors.js';

export const FirmwareErrorCode = {
  /** `rauc` could not be run, or answered something this code cannot read. */
  rauc: 'ERR_FIRMWARE_RAUC',
  /** RAUC refused or failed the install (bad signature, wrong compatible, write error); the running slot is kept. */
  install: 'ERR_FIRMWARE_INSTALL',
  /** A bundle location that is neither an existing file nor an http(s) URL, or a download that failed. */
  source: 'ERR_FIRMWARE_SOURCE',
  /** A bundle larger than the free space of the firmware folder's file system (nothing was downloaded). */
  space: 'ERR_FIRMWARE_SPACE',
  /** No other slot to switch to (never installed, or marked bad). */
  noOtherSlot: 'ERR_FIRMWARE_NO_OTHER_SLOT',
  /** The store is newer than this firmware: it was migrated by a later version (restore its pre-upgrade backup). */
  storeTooNew: 'ERR_FIRMWARE_STORE_TOO_NEW',
  /** Reading or writing the firmware folder failed. */
  io: 'ERR_FIRMWARE_IO',
} as const;

export type FirmwareErrorCode = (typeof FirmwareErrorCode)[keyof typeof FirmwareErrorCode];

export class FirmwareError extends SbdError {
  declare readonly code: FirmwareErrorCode;

  constructor(code: FirmwareErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
