/**
 * Reliability on the UDP leg of a request sbd forwards from a reliable transport (RFC 3261 §17.1 client
 * transactions used as a shim under the stateless proxy, §16.11). Sans-I/O: it drives the daemon's
 * `TransactionTable` and returns its actions; the daemon carries them out.
 *
 * Why: a stateless proxy relies on the sender's retransmissions. A phone on TCP/TLS never retransmits
 * (§17.1.1.2, §17.1.2.2: Timers A and E run only on unreliable transports), so a request forwarded from it to a
 * UDP next hop (a carrier trunk, a phone on UDP) and lost there was lost for good. Such a request now goes out
 * through a client transaction of its own on the UDP leg: Timers A/E retransmit it, Timers B/F give up.
 * Requests between two UDP hops stay stateless (the sender's own retransmissions are forwarded again).
 *
 * It stays a proxy, not a B2BUA: the request keeps the deterministic branch the router computed (branch.ts), so
 * the phone's CANCEL and non-2xx ACK keep matching, and every response the transaction delivers goes through
 * `Router.handleResponse` exactly as a stateless one does (our Via removed, forwarded along the next Via).
 *
 *  - non-2xx final to an INVITE: the INVITE client transaction ACKs it itself (§17.1.1.3), and re-ACKs each
 *    retransmission of it (absorbed, not forwarded twice). The phone's own ACK for it, forwarded by the router,
 *    and the ACK the trunk-challenge table builds for a 401/407 are the same hop-by-hop ACK again: `absorbsAck`
 *    drops them while the transaction is Completed (Timer D), so the far end sees exactly one ACK per final.
 *  - 2xx to an INVITE: RFC 6026 Accepted state; every 2xx (retransmissions too) goes up so the caller ACKs each
 *    one; the 2xx ACK is end to end (§13.2.2.4: a new request with its own branch) and is forwarded statelessly.
 *    A lost 2xx ACK makes the callee retransmit its 2xx, which reaches the phone again, which ACKs again.
 *  - CANCEL: a non-INVITE client transaction of its own on the UDP leg (§9.1: same branch, method CANCEL, so
 *    its key differs from the INVITE's); its 200 and the INVITE's 487 go up as usual.
 *  - Timer B/F: the transaction times out; the phone gets 408 Request Timeout built from the request we sent
 *    (§16.7 step 6 / §16.8: a proxy whose client transaction times out acts as if it got a 408), routed back
 *    through `handleResponse` over the phone's flow. A stateless proxy could never say this.
 *  - Timer C (§16.6 step 11, §16.8): an INVITE in Proceeding has no timer of its own. `timerC` after the last
 *    provisional the leg CANCELs it (a client transaction of its own; none if the phone's CANCEL is already
 *    running) and waits 64·T1 more for the final response (the 487, ACKed by the INVITE transaction as usual);
 *    then it abandons the INVITE's transaction (a late final goes to the phone statelessly). This bounds how
 *    long any entry lives.
 *  - 1xx retransmissions are delivered (a proxy forwards provisionals, §16.7); final-response retransmissions of
 *    non-INVITE requests are absorbed in Completed (Timer K).
 *  - Bounds: client transactions count against the table's `maxTransactions` with everything else; when it is
 *    full the request is forwarded statelessly as before (`stats.full`). This leg's own maps hold one entry per
 *    live client transaction it started and are emptied by `forget` on the transaction's `terminated` action.
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
