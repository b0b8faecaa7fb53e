/**
 * Errors of the transaction layer. Local mistakes (a TU answering a transaction that is over, a response with
 * a status out of range) and a full table; `statusHint` says what an I/O shell should answer a request with.
 */
import { SipError } from '../messages/errors.js';

export const TransactionCode = {
  /** The TU asked for something the transaction's state does not allow (e.g. a second final response). */
  state: 'ERR_SIP_TRANSACTION_STATE',
  /** No transaction with that id (it ended, or never was). */
  unknown: 'ERR_SIP_TRANSACTION_UNKNOWN',
  /** `maxTransactions` reached: a new request cannot get a transaction (answer 503, §21.5.4). */
  limit: 'ERR_SIP_TRANSACTION_LIMIT',
  /** A request the layer cannot run (no Via branch on our own request, ACK handed to sendRequest, …). */
  request: 'ERR_SIP_TRANSACTION_REQUEST',
  /** A response the TU gave that is not 100–699 or does not belong to the transaction. */
  response: 'ERR_SIP_TRANSACTION_RESPONSE',
} as const;
export type TransactionCode = (typeof TransactionCode)[keyof typeof TransactionCode];

export class TransactionError extends SipError {
  declare readonly code: TransactionCode;

  constructor(code: TransactionCode, message: string, options?: { statusHint?: number; cause?: unknown }) {
    super(code, message, options);
  }
}
