import { SbdError } from '../lib/errors.js';

/**
 * Every error the PKI raises. Codes are stable strings: callers (admin shell, CAPF, the store glue) switch on
 * them, and they never change meaning once published.
 */
export const PkiErrorCode = {
  /** A key specification names an unsupported algorithm, size or curve. */
  keySpec: 'ERR_PKI_KEY_SPEC',
  /** A PEM or DER key could not be read. */
  keyParse: 'ERR_PKI_KEY_PARSE',
  /** A private key file lets its group or others in (mode & 0o077 != 0). */
  keyFileMode: 'ERR_PKI_KEY_FILE_MODE',
  /** A private key file cannot be read or written (not a regular file, too large, I/O error). */
  keyFile: 'ERR_PKI_KEY_FILE',
  /** A certificate (or one of its parts) is not well-formed DER X.509. */
  certParse: 'ERR_PKI_CERT_PARSE',
  /** A serial number is empty, zero, or longer than 20 octets (RFC 5280 §4.1.2.2). */
  serial: 'ERR_PKI_SERIAL',
  /** A validity period is inverted, out of range, or not one the profile allows. */
  validity: 'ERR_PKI_VALIDITY',
  /** A distinguished-name attribute or host name is empty, too long or carries forbidden characters. */
  dn: 'ERR_PKI_DN',
  /** A hash name is not one of sha1, sha256, sha384, sha512. */
  hash: 'ERR_PKI_HASH',
  /** The signing key does not belong to the issuer certificate (or to the subject key when self-signed). */
  issuerMismatch: 'ERR_PKI_ISSUER_MISMATCH',
  /** An identity name or profile option is unknown or out of range. */
  profile: 'ERR_PKI_PROFILE',
  /** A PKCS#12 file's MAC does not verify: wrong password (or a damaged file). */
  pkcs12Password: 'ERR_PKCS12_PASSWORD',
  /** A PKCS#12 file is not well-formed or lacks a certificate or a key. */
  pkcs12Format: 'ERR_PKCS12_FORMAT',
  /** PKCS#12 export supports RSA keys only (node-forge cannot encode EC keys). */
  pkcs12KeyType: 'ERR_PKCS12_KEY_TYPE',
} as const;

export type PkiErrorCode = (typeof PkiErrorCode)[keyof typeof PkiErrorCode];

export class PkiError extends SbdError {
  declare readonly code: PkiErrorCode;

  constructor(code: PkiErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
