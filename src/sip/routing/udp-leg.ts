/**
 * Reliability on the UDP leg of a request sbd forwards from a reliable transport (RFC 3261 §17.1 client
 * transactions as a shim under the stateless proxy, §16.11). Sans-I/O: it drives the daemon's `TransactionTable`
 * and returns its actions. A phone on TCP/TLS never retransmits (§17.1.1.2), so a request it sends to a UDP next
 * hop goes out through a client transaction of its own (Timers A/E resend, B/F give up, 408 back; Timer C
 * CANCELs). It stays a proxy: the branch is the router's, every response goes through `Router.handleResponse`.
 * Theory of operation (ACKs, 2xx, CANCEL, timers, bounds): docs/sip-theory.md "UDP leg".
 */
import type { SipRequest, SipResponse } from '../core/messages/message.js';
import type { TransactionAction } from '../core/transactions/actions.js';
import { cancelFor } from '../core/transactions/derived-requests.js';
import { TransactionCode, TransactionError } from '../core/transactions/errors.js';
import { clientKey } from '../core/transactions/transaction-key.js';
import type { TransactionTable } from '../core/transactions/transaction-table.js';
import type { MessageSource, TransportKind } from '../transports/types.js';
import { makeResponse } from '../core/messages/make-response.js';

export const udpLegDefaults = {
  /** Timer C, ms: how long an INVITE may stay in Proceeding after its last provisional (§16.6 step 11: > 3 min). */
  timerC: 181_000,
} as const;

export interface UdpLegOptions {
  timerC?: number;
}

export type LegSend =
  | { kind: 'sent'; actions: TransactionAction<MessageSource>[] }
  /** A retransmission of a request whose client transaction is running (a TCP phone that retransmits anyway). */
  | { kind: 'absorbed' }
  /** `maxTransactions` reached: forward it statelessly. */
  | { kind: 'full' };

export class UdpLeg {
  readonly stats = { started: 0, absorbedRequests: 0, absorbedAcks: 0, timeouts: 0, timerC: 0, full: 0 };
  private readonly table: TransactionTable<MessageSource>;
  private readonly timerCMs: number;
  /** Client transactions this leg started → the request as sent (to build a 408 from). */
  private readonly requests = new Map<string, SipRequest>();
  /** INVITE client transactions → Timer C deadline. One fixed duration, refreshed by delete + set: insertion order is deadline order. */
  private readonly timerCAt = new Map<string, number>();
  /** INVITEs CANCELled on Timer C → when to give up waiting for their final response (64·T1 later; ordered the same way). */
  private readonly giveUpAt = new Map<string, number>();

  constructor(table: TransactionTable<MessageSource>, options: UdpLegOptions = {}) {
    this.table = table;
    this.timerCMs = options.timerC ?? udpLegDefaults.timerC;
    if (!Number.isFinite(this.timerCMs) || this.timerCMs <= 0) throw new RangeError('timerC must be a positive number of ms');
  }

  /** Client transactions this leg has running. */
  get size(): number {
    return this.requests.size;
  }

  /**
   * Whether a request forwarded to `to` needs a client transaction: it goes over UDP, it is not an ACK (never a
   * transaction, §17.1.1.3, §13.2.2.4), and no one upstream retransmits it: it came over TCP/TLS (`upstream`),
   * or sbd itself originated it (`upstream` undefined: a BYE refusing an unencrypted answer, …).
   */
  static wants(req: SipRequest, to: TransportKind, upstream: TransportKind | undefined): boolean {
    return to === 'udp' && req.method !== 'ACK' && upstream !== 'udp';
  }

  /** Starts a client transaction for `req` (our Via with the router's branch on top) towards the UDP `flow`. */
  send(req: SipRequest, flow: MessageSource, now: number): LegSend {
    const branch = req.topVia().params.get('branch') ?? '';
    if (this.requests.has(clientKey(branch, req.method))) {
      this.stats.absorbedRequests++;
      return { kind: 'absorbed' };
    }
    try {
      const { id, actions } = this.table.sendRequest(req, flow, now);
      this.requests.set(id, req);
      if (req.method === 'INVITE') this.timerCAt.set(id, now + this.timerCMs);
      this.stats.started++;
      return { kind: 'sent', actions };
    } catch (err) {
      if (err instanceof TransactionError && err.code === TransactionCode.limit) {
        this.stats.full++;
        return { kind: 'full' };
      }
      throw err;
    }
  }

  /**
   * An ACK on its way to UDP that the INVITE client transaction already sent (§17.1.1.3): the phone's ACK of a
   * non-2xx, or the trunk-challenge table's ACK of a 401/407, while the transaction with its branch is Completed.
   */
  absorbsAck(ack: SipRequest): boolean {
    if (this.requests.size === 0) return false;
    const id = clientKey(ack.topVia().params.get('branch') ?? '', 'INVITE');
    if (!this.requests.has(id) || this.table.get(id)?.state !== 'completed') return false;
    this.stats.absorbedAcks++;
    return true;
  }

  /** A response one of our client transactions delivered: a provisional restarts Timer C, a final stops it. */
  delivered(id: string, res: SipResponse, now: number): void {
    if (!this.timerCAt.has(id) || this.giveUpAt.has(id)) return;
    this.timerCAt.delete(id);
    if (res.status < 200) this.timerCAt.set(id, now + this.timerCMs);
  }

  /** Timer B or F fired for one of ours: the 408 the phone gets (§16.8), our Via still on top. */
  timedOut(id: string): SipResponse | undefined {
    const req = this.requests.get(id);
    if (!req) return undefined;
    this.stats.timeouts++;
    return makeResponse(req, 408, 'Request Timeout');
  }

  /** The transaction left the table. */
  forget(id: string): void {
    if (this.requests.size === 0) return; // every server transaction's end passes here: keep it free
    this.requests.delete(id);
    this.timerCAt.delete(id);
    this.giveUpAt.delete(id);
  }

  /** Earliest Timer C (or give-up) deadline. */
  nextAt(): number | undefined {
    if (this.timerCAt.size === 0 && this.giveUpAt.size === 0) return undefined;
    const c = this.timerCAt.values().next().value;
    const g = this.giveUpAt.values().next().value;
    return c === undefined ? g : g === undefined ? c : Math.min(c, g);
  }

  /**
   * Timer C fired (§16.8): an INVITE still in Proceeding is CANCELled (its own client transaction, unless a
   * CANCEL for it is running) and given 64·T1 for its final response, after which its transaction is abandoned.
   * One still Calling is left to Timer B (64·T1, far shorter). Returns the actions.
   */
  fireTimerC(now: number): TransactionAction<MessageSource>[] {
    const out: TransactionAction<MessageSource>[] = [];
    for (const [id, at] of this.giveUpAt) {
      if (at > now) break;
      this.giveUpAt.delete(id);
      const tx = this.table.get(id);
      if (tx?.kind === 'invite-client' && tx.state === 'proceeding') out.push(...this.table.abandon(id));
    }
    for (const [id, at] of this.timerCAt) {
      if (at > now) break;
      this.timerCAt.delete(id);
      const tx = this.table.get(id);
      const invite = this.requests.get(id);
      if (tx?.kind !== 'invite-client' || tx.state !== 'proceeding' || !invite) continue;
      this.stats.timerC++;
      if (!this.requests.has(clientKey(invite.topVia().params.get('branch') ?? '', 'CANCEL'))) {
        const sent = this.send(cancelFor(invite), tx.flow, now);
        if (sent.kind === 'sent') out.push(...sent.actions);
      }
      this.giveUpAt.set(id, now + 64 * this.table.timers.t1);
    }
    return out;
  }
}
