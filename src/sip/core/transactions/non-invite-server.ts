/**
 * Non-INVITE server transaction (RFC 3261 §17.2.2). Sans-I/O. A retransmitted request is answered with the
 * last response and never reaches the TU again (Timer J keeps the final): this is what keeps a retransmitted
 * REGISTER from being processed twice (a second digest check of the same nonce-count would look like a replay).
 * State table: docs/sip-transactions.md "Theory of operation".
 */
import type { SipRequest, SipResponse } from '../messages/message.js';
import type { TransactionAction } from './actions.js';
import { TransactionCode, TransactionError } from './errors.js';
import { checkResponseFor } from './server-response-check.js';
import type { ResolvedTimers, TimerName } from './timers.js';
import { TransactionBase } from './transaction-base.js';

export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export class NonInviteServerTransaction<F> extends TransactionBase<F, NonInviteServerState | 'new'> {
  readonly kind = 'non-invite-server' as const;
  state: NonInviteServerState | 'new' = 'new';
  private req: SipRequest | undefined;
  private last: { message: SipResponse; bytes: Buffer } | undefined;

  constructor(id: string, request: SipRequest, flow: F, reliable: boolean, timers: ResolvedTimers) {
    super(id, flow, reliable, timers);
    this.req = request;
  }

  /**
   * The request, until the final response: a completed transaction answers retransmissions with the response's
   * bytes alone, so the parsed request is let go (over UDP Timer J keeps each one 32 s: at thousands of
   * registrations a second that is hundreds of thousands of parsed requests held for nothing).
   */
  get request(): SipRequest {
    if (!this.req)
      throw new TransactionError(
        TransactionCode.state,
        `non-INVITE server transaction ${this.id} is ${this.state}: its request is no longer kept`,
      );
    return this.req;
  }

  /** `cancels`: for a CANCEL, the id of the INVITE server transaction it matched (§9.2). */
  start(_now: number, cancels?: string): TransactionAction<F>[] {
    if (this.state !== 'new') return [];
    this.state = 'trying';
    this.out.push({ type: 'deliver', id: this.id, message: this.request, flow: this.flow, ...(cancels === undefined ? {} : { cancels }) });
    return this.flush();
  }

  receive(_req: SipRequest, _now: number): TransactionAction<F>[] {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.last) this.send(this.last.message, this.last.bytes, true);
    return this.flush();
  }

  respond(res: SipResponse, now: number): TransactionAction<F>[] {
    if (this.state !== 'trying' && this.state !== 'proceeding') {
      throw new TransactionError(TransactionCode.state, `non-INVITE server transaction in state ${this.state} cannot send a ${res.status}`);
    }
    checkResponseFor(this.request, res);
    this.last = { message: res, bytes: this.serialize(res) };
    this.send(res, this.last.bytes, false);
    if (res.status < 200) this.state = 'proceeding';
    else {
      this.state = 'completed';
      this.req = undefined;
      this.linger('J', now, this.reliable ? 0 : 64 * this.timers.t1);
    }
    return this.flush();
  }

  protected onTimer(timer: TimerName): void {
    if (timer === 'J' && this.state === 'completed') this.terminate('done');
  }
}
