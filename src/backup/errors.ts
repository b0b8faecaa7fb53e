/**
 * Errors of the encrypted backup (Disaster Recovery System). Every refusal of a restore happens before the
 * running state folder is touched; the code says why.
 */
import { SbdError } from '../lib/errors.js';

export const BackupErrorCode = {
  /** Not an sbd backup, an unsupported version, or a header/length that does not add up. */
  format: 'ERR_BACKUP_FORMAT',
  /** The passphrase does not open the file (or the key-derivation fields of its header were altered). */
  passphrase: 'ERR_BACKUP_PASSPHRASE',
  /** The authentication tag or a file checksum failed: the manifest or the content was altered or damaged. */
  tampered: 'ERR_BACKUP_TAMPERED',
  /** The store names a private key the backup (or the state folder) does not hold. */
  inconsistent: 'ERR_BACKUP_INCONSISTENT',
  /** The restored store is not one this sbd can use (too new, damaged). */
  store: 'ERR_BACKUP_STORE',
  /** A passphrase, path or option that cannot be accepted. */
  input: 'ERR_BACKUP_INPUT',
  /** Reading or writing a file or folder failed. */
  io: 'ERR_BACKUP_IO',
} as const;

export type BackupErrorCode = (typeof BackupErrorCode)[keyof typeof BackupErrorCode];

export class BackupError extends SbdError {
  declare readonly code: BackupErrorCode;

  constructor(code: BackupErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
