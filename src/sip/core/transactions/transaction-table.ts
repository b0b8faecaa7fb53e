/**
 * The transaction layer (RFC 3261 §17): a table of client and server transactions keyed per §17.1.3 / §17.2.3,
 * fed with messages from the transport, requests and responses from the TU, and timer and transport-error events
 * from the shell; it answers each call with the actions to carry out (transaction-base.ts, actions.ts). What
 * matches nothing is delivered with `id: undefined` (a 2xx after Timer M, the ACK for a 2xx); past `maxPerSource`
 * a new request is delivered `stateless: true` (issue 16 row 7). Details: docs/sip-transactions.md
 * "Theory of operation".
 */
import type { SipMessage, SipRequest, SipResponse } from '../messages/message.js';
import type { TransactionAction } from './actions.js';
import { TransactionCode, TransactionError } from './errors.js';
import { InviteClientTransaction } from './invite-client.js';
import { InviteServerTransaction } from './invite-server.js';
import { NonInviteClientTransaction } from './non-invite-client.js';
import { NonInviteServerTransaction } from './non-invite-server.js';
import { isReliableTransport, resolveTimers, type ResolvedTimers, type TimerName, type TimerOptions } from './timers.js';
import { ackKeys, ackTagMatches, clientKey, clientKeyOfResponse, isRfc2543Request, serverKey } from './transaction-key.js';
import { isRfc3261Branch } from '../messages/via.js';

export type ClientTransaction<F> = InviteClientTransaction<F> | NonInviteClientTransaction<F>;
export type ServerTransaction<F> = InviteServerTransaction<F> | NonInviteServerTransaction<F>;
export type Transaction<F> = ClientTransaction<F> | ServerTransaction<F>;

export interface TransactionTableOptions<F> extends TimerOptions {
  /** Most live transactions; default 100000. Past it a new request raises `ERR_SIP_TRANSACTION_LIMIT` (503). */
  maxTransactions?: number;
  /**
   * Whether a flow is reliable (TCP, TLS: no retransmission timers). Default: from the transport of the top Via
   * (the one we wrote for our requests, the sender's for received ones).
   */
  reliable?: (flow: F, message: SipRequest) => boolean;
  /** The source a flow belongs to (e.g. its IP address) for `maxPerSource`; default none (no per-source bound). */
  sourceOf?: (flow: F) => string;
  /** Most live server transactions for one source; default 1000. Past it a new request is delivered stateless. */
  maxPerSource?: number;
}

export const transactionTableDefaults = { maxTransactions: 100_000, maxPerSource: 1000 } as const;

export class TransactionTable<F> {
  readonly timers: ResolvedTimers;
  private readonly max: number;
  private readonly isReliable: (flow: F, message: SipRequest) => boolean;
  private readonly live = new Map<string, Transaction<F>>();
  private readonly sourceOf: ((flow: F) => string) | undefined;
  private readonly maxPerSource: number;
  /** Live server transactions by source, and the source of each (only with `sourceOf`). */
  private readonly perSource = new Map<string, number>();
  private readonly txSource = new Map<string, string>();

  constructor(options: TransactionTableOptions<F> = {}) {
    this.timers = resolveTimers(options);
    this.max = options.maxTransactions ?? transactionTableDefaults.maxTransactions;
    this.sourceOf = options.sourceOf;
    this.maxPerSource = options.maxPerSource ?? transactionTableDefaults.maxPerSource;
    this.isReliable = options.reliable ?? ((_f, m) => isReliableTransport(m.topVia().transport));
  }

  get size(): number {
    return this.live.size;
  }

  /** Live server transactions of one source (0 without `sourceOf`). */
  sizeOf(source: string): number {
    return this.perSource.get(source) ?? 0;
  }

  get(id: string): Transaction<F> | undefined {
    return this.live.get(id);
  }

  /**
   * Starts a client transaction for a request the TU built (with its own top Via and an RFC 3261 branch,
   * §8.1.1.7; see branch.ts). ACK is not a transaction: the TU sends an ACK for a 2xx straight to the transport.
   */
  sendRequest(req: SipRequest, flow: F, now: number): { id: string; actions: TransactionAction<F>[] } {
    if (req.method === 'ACK')
      throw new TransactionError(TransactionCode.request, 'an ACK is not sent through a client transaction (§17.1.1.3, §13.2.2.4)');
    const branch = req.topVia().params.get('branch');
    if (!isRfc3261Branch(branch ?? undefined))
      throw new TransactionError(TransactionCode.request, 'our requests need a branch with the z9hG4bK cookie (§8.1.1.7)');
    if (req.cseq().method !== req.method)
      throw new TransactionError(TransactionCode.request, 'CSeq method differs from the request method');
    const id = clientKey(branch!, req.method);
    if (this.live.has(id))
      throw new TransactionError(TransactionCode.request, `a client transaction with branch ${branch} and method ${req.method} is running`);
    this.checkRoom();
    const reliable = this.isReliable(flow, req);
    const tx =
      req.method === 'INVITE'
        ? new InviteClientTransaction(id, req, flow, reliable, this.timers)
        : new NonInviteClientTransaction(id, req, flow, reliable, this.timers);
    this.live.set(id, tx);
    return { id, actions: this.settle(tx, tx.start(now)) };
  }

  /** A message from the transport (parsed, and for requests stamped with received/rport, §18.2.1). */
  receive(msg: SipMessage, flow: F, now: number): TransactionAction<F>[] {
    return msg.kind === 'response' ? this.receiveResponse(msg, flow, now) : this.receiveRequest(msg, flow, now);
  }

  /** A response from the TU for the server transaction `id` (the id of the request's deliver action). */
  respond(id: string, res: SipResponse, now: number): TransactionAction<F>[] {
    const tx = this.live.get(id);
    if (!tx || (tx.kind !== 'invite-server' && tx.kind !== 'non-invite-server')) {
      throw new TransactionError(TransactionCode.unknown, `no server transaction ${JSON.stringify(id)} (it may have ended)`);
    }
    return this.settle(tx, tx.respond(res, now));
  }

  /** A timer the layer armed has fired. Unknown, cancelled or not yet due timers are ignored. */
  timerFired(id: string, timer: TimerName, now: number): TransactionAction<F>[] {
    const tx = this.live.get(id);
    return tx ? this.settle(tx, tx.fire(timer, now)) : [];
  }

  /** The shell could not send for transaction `id` (§17.1.4, §17.2.4). */
  transportError(id: string): TransactionAction<F>[] {
    const tx = this.live.get(id);
    return tx ? this.settle(tx, tx.transportError()) : [];
  }

  /**
   * Drops a transaction without a word to anyone. A server transaction whose request the user handled without
   * a transaction: a stateless proxy that forwarded it (§16.11) keeps no state, so a retransmission is routed
   * and forwarded again. A client transaction the TU gives up on: an INVITE in Proceeding has no timer of its
   * own (Timer B stops with the first provisional, §17.1.1.2), so only the TU's Timer C can end it (§16.8).
   * Nothing is sent.
   */
  abandon(id: string): TransactionAction<F>[] {
    const tx = this.live.get(id);
    if (!tx) return [];
    return this.settle(tx, tx.abandon());
  }

  private receiveResponse(res: SipResponse, flow: F, now: number): TransactionAction<F>[] {
    const key = clientKeyOfResponse(res);
    const tx = key === undefined ? undefined : this.live.get(key);
    if (!tx || (tx.kind !== 'invite-client' && tx.kind !== 'non-invite-client')) {
      return [{ type: 'deliver', id: undefined, message: res, flow }];
    }
    return this.settle(tx, tx.receive(res, now));
  }

  private receiveRequest(req: SipRequest, flow: F, now: number): TransactionAction<F>[] {
    if (req.method === 'ACK') {
      const tx = this.inviteServerFor(req);
      return tx ? this.settle(tx, tx.receive(req, now)) : [{ type: 'deliver', id: undefined, message: req, flow }];
    }
    const key = serverKey(req);
    const existing = this.live.get(key);
    if (existing && (existing.kind === 'invite-server' || existing.kind === 'non-invite-server')) {
      return this.settle(existing, existing.receive(req, now));
    }
    const source = this.sourceOf?.(flow);
    if (source !== undefined && (this.perSource.get(source) ?? 0) >= this.maxPerSource) {
      const cancels = req.method === 'CANCEL' ? this.cancelTarget(req) : undefined;
      return [{ type: 'deliver', id: undefined, message: req, flow, stateless: true, ...(cancels !== undefined ? { cancels } : {}) }];
    }
    this.checkRoom();
    const reliable = this.isReliable(flow, req);
    if (source !== undefined) {
      this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
      this.txSource.set(key, source);
    }
    if (req.method === 'INVITE') {
      const tx = new InviteServerTransaction(key, req, flow, reliable, this.timers);
      this.live.set(key, tx);
      return this.settle(tx, tx.start(now));
    }
    const tx = new NonInviteServerTransaction(key, req, flow, reliable, this.timers);
    this.live.set(key, tx);
    const cancels = req.method === 'CANCEL' ? this.cancelTarget(req) : undefined;
    return this.settle(tx, tx.start(now, cancels));
  }

  /** §17.2.3 for ACK: the INVITE server transaction it acknowledges, if any is still in the table. */
  private inviteServerFor(ack: SipRequest): InviteServerTransaction<F> | undefined {
    for (const key of ackKeys(ack)) {
      const tx = this.live.get(key);
      if (tx?.kind !== 'invite-server') continue;
      if (isRfc2543Request(ack) && !ackTagMatches(ack, tx.request, tx.responseToTag)) continue;
      return tx;
    }
    return undefined;
  }

  /** §9.2: the INVITE server transaction a CANCEL matches (same key with method INVITE), if it is still live. */
  private cancelTarget(cancel: SipRequest): string | undefined {
    const key = serverKey(cancel, 'INVITE');
    const tx = this.live.get(key);
    return tx?.kind === 'invite-server' && !tx.terminated ? key : undefined;
  }

  private checkRoom(): void {
    if (this.live.size >= this.max) {
      throw new TransactionError(TransactionCode.limit, `${this.max} transactions are live (maxTransactions)`, { statusHint: 503 });
    }
  }

  private settle(tx: Transaction<F>, actions: TransactionAction<F>[]): TransactionAction<F>[] {
    if (tx.terminated && this.live.get(tx.id) === tx) {
      this.live.delete(tx.id);
      const source = this.txSource.get(tx.id);
      if (source !== undefined) {
        this.txSource.delete(tx.id);
        const n = (this.perSource.get(source) ?? 1) - 1;
        if (n <= 0) this.perSource.delete(source);
        else this.perSource.set(source, n);
      }
    }
    return actions;
  }
}
