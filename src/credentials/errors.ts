/**
 * Errors of end-user, application-user and admin credentials. `invalid` is deliberately the same for an unknown
 * user and a wrong secret, so a caller cannot tell which accounts exist.
 */
import { SbdError } from '../lib/errors.js';

export const CredentialErrorCode = {
  /** Unknown user or wrong password/PIN (never says which). */
  invalid: 'ERR_CREDENTIAL_INVALID',
  /** The account is locked after CredentialLockoutThreshold failures; nothing was verified. */
  locked: 'ERR_CREDENTIAL_LOCKED',
  /** A password, PIN, user id or imported hash that cannot be accepted as given. */
  input: 'ERR_CREDENTIAL_INPUT',
  /** A stored record that cannot be read (unknown algorithm, damaged parameters). */
  record: 'ERR_CREDENTIAL_RECORD',
  /** A PIN check for a user who has no PIN. */
  noPin: 'ERR_CREDENTIAL_NO_PIN',
  // A phone's stored digest password (phone-secret.ts, PhoneSecretError):
  /** The key file is missing or not 64 hex digits: nothing stored can be decrypted. */
  phoneSecretKey: 'ERR_PHONE_SECRET_KEY',
  /** The stored blob is not a version this code writes (truncated, other version byte). */
  phoneSecretFormat: 'ERR_PHONE_SECRET_FORMAT',
  /** The blob does not authenticate: another key, moved to another row, or altered. */
  phoneSecretAuth: 'ERR_PHONE_SECRET_AUTH',
  /** A password that cannot be stored or delivered (empty, too long, control characters). */
  phoneSecretInput: 'ERR_PHONE_SECRET_INPUT',
} as const;

export type CredentialErrorCode = (typeof CredentialErrorCode)[keyof typeof CredentialErrorCode];
export type PhoneSecretErrorCode = Extract<CredentialErrorCode, `ERR_PHONE_SECRET_${string}`>;

export class CredentialError extends SbdError {
  declare readonly code: Exclude<CredentialErrorCode, PhoneSecretErrorCode>;

  constructor(code: Exclude<CredentialErrorCode, PhoneSecretErrorCode>, message: string, options?: { cause?: unknown }) {
    // 401-like for bad credentials, 403-like for a locked account; the I/O layer maps these to its protocol.
    const statusHint = code === CredentialErrorCode.invalid ? 401 : code === CredentialErrorCode.locked ? 403 : 400;
    super(code, message, { statusHint, ...(options?.cause === undefined ? {} : { cause: options.cause }) });
  }
}
