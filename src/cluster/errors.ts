/** Errors of the cluster use cases (setup, autoregistration). Refusals of bad input are UsageError (lib). */
import { SbdError } from '../lib/errors.js';

export const ClusterErrorCode = {
  /** The store has no node running the TFTP service (TFTP activation needs one to record the ITL hash for). */
  noTftpNode: 'ERR_NO_TFTP_NODE',
  /** The AutoRegistration parameter is off: unknown phones are not added. */
  autoregDisabled: 'ERR_AUTOREG_DISABLED',
  /** The cluster security mode is not one autoregistration works in. */
  autoregMode: 'ERR_AUTOREG_MODE',
  /** Every number of AutoRegistrationDnRange is taken. */
  autoregRangeFull: 'ERR_AUTOREG_RANGE_FULL',
  /** AutoRegistrationDnRange is not a range 'first-last' (the store validates it; this guards other callers). */
  autoregRange: 'ERR_AUTOREG_RANGE',
} as const;
export type ClusterErrorCode = (typeof ClusterErrorCode)[keyof typeof ClusterErrorCode];

export class ClusterError extends SbdError {
  declare readonly code: ClusterErrorCode;

  constructor(code: ClusterErrorCode, message: string, options?: { statusHint?: number; cause?: unknown }) {
    super(code, message, options);
  }
}
