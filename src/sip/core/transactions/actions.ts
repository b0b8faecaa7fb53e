/**
 * What the transaction layer asks of its user (the I/O shell and the TU). Cores never touch sockets or timers;
 * every entry point returns a list of these, in the order they must be carried out.
 *
 * `F` is the user's notion of where a message goes: for a client transaction the next hop the TU chose
 * (§8.1.2), for a server transaction where the request came from (responses follow §18.2.2 from there).
 */
import type { SipMessage, SipRequest, SipResponse } from '../messages/message.js';
import type { TimerName } from './timers.js';

export type TransactionAction<F> =
  /** Hand to the transport. `bytes` are serialized once per message and reused for its retransmissions. */
  | { type: 'send'; id: string; message: SipMessage; bytes: Buffer; flow: F; retransmission: boolean }
  /**
   * A message for the TU. `id` is the transaction it belongs to, or undefined when none matched: a stray
   * response (e.g. a 2xx retransmission after Timer M, §13.2.2.4) or an ACK for a 2xx (§17.2.3, RFC 6026 §8.9).
   * `cancels` is set on a CANCEL that matched an INVITE server transaction (§9.2): that transaction's id.
   * `stateless`: a new request its source's per-source bound kept out of the table; the TU answers it statelessly.
   */
  | { type: 'deliver'; id: string | undefined; message: SipRequest | SipResponse; flow: F; cancels?: string; stateless?: true }
  /** Timer B, F or H fired: the TU learns the transaction timed out (it may answer itself with a 408, §8.1.3.1). */
  | { type: 'timeout'; id: string; timer: 'B' | 'F' | 'H' }
  /** The shell reported a fatal transport error for this transaction (§17.1.4, §17.2.4). */
  | { type: 'transport-error'; id: string }
  /** Start (or restart: the new deadline replaces the old one) this transaction's timer; `at` is absolute ms. */
  | { type: 'arm'; id: string; timer: TimerName; at: number }
  /** Stop that timer; a late firing would be ignored anyway. */
  | { type: 'cancel'; id: string; timer: TimerName }
  /** The transaction is over and has left the table; the shell can drop its timers. */
  | { type: 'terminated'; id: string; state: string; reason: TerminationReason };

/**
 * `done`: the normal end (final response exchanged, its wait timer ran out); `abandoned`: the user dropped a
 * server transaction whose request it handled statelessly (a stateless proxy's forwarded request, §16.11).
 */
export type TerminationReason = 'done' | 'timeout' | 'transport-error' | 'abandoned';
