import { SbdError } from '../lib/errors.js';

/** Stable codes for everything that can be wrong with a trust file (CTL, ITL, .sgn, .enc.sgn). */
export const TrustErrorCode = {
  truncated: 'ERR_TLV_TRUNCATED',
  length: 'ERR_TLV_LENGTH',
  unknownTag: 'ERR_TLV_UNKNOWN_TAG',
  header: 'ERR_TLV_HEADER',
  record: 'ERR_TLV_RECORD',
  signatureInvalid: 'ERR_SIGNATURE_INVALID',
  signerUnknown: 'ERR_SIGNER_UNKNOWN',
  signerUnsupported: 'ERR_SIGNER_UNSUPPORTED',
  tooLarge: 'ERR_TRUST_FILE_TOO_LARGE',
  content: 'ERR_TRUST_CONTENT',
  decrypt: 'ERR_DECRYPT',
} as const;
export type TrustErrorCode = (typeof TrustErrorCode)[keyof typeof TrustErrorCode];

export class TrustError extends SbdError {
  declare readonly code: TrustErrorCode;
  /** Byte offset in the file where the problem was found, when it is about a position. */
  readonly offset: number | undefined;

  constructor(code: TrustErrorCode, message: string, offset?: number) {
    super(code, offset === undefined ? message : `${message} (at offset ${offset})`);
    this.offset = offset;
  }
}
