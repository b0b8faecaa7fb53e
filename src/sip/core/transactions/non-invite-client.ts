/**
 * Non-INVITE client transaction (RFC 3261 §17.1.2). Sans-I/O. Timer E resends the request (doubling to T2, at
 * T2 once a provisional came; unreliable transports only), Timer F gives up, Timer K absorbs retransmitted finals.
 * State table: docs/sip-transactions.md "Theory of operation".
 */
import type { SipRequest, SipResponse } from '../messages/message.js';
import type { TransactionAction } from './actions.js';
import type { ResolvedTimers, TimerName } from './timers.js';
import { TransactionBase } from './transaction-base.js';

export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export class NonInviteClientTransaction<F> extends TransactionBase<F, NonInviteClientState | 'new'> {
  readonly kind = 'non-invite-client' as const;
  state: NonInviteClientState | 'new' = 'new';
  readonly request: SipRequest;
  private readonly bytes: Buffer;
  private intervalE: number;

  constructor(id: string, request: SipRequest, flow: F, reliable: boolean, timers: ResolvedTimers) {
    super(id, flow, reliable, timers);
    this.request = request;
    this.bytes = this.serialize(request);
    this.intervalE = timers.t1;
  }

  start(now: number): TransactionAction<F>[] {
    if (this.state !== 'new') return [];
    this.state = 'trying';
    this.send(this.request, this.bytes, false);
    if (!this.reliable) this.arm('E', now, this.intervalE);
    this.arm('F', now, 64 * this.timers.t1);
    return this.flush();
  }

  receive(res: SipResponse, now: number): TransactionAction<F>[] {
    if (this.state !== 'trying' && this.state !== 'proceeding') return [];
    if (res.status < 200) {
      this.state = 'proceeding';
    } else {
      this.cancel('E', 'F');
      this.state = 'completed';
    }
    this.out.push({ type: 'deliver', id: this.id, message: res, flow: this.flow });
    if (this.state === 'completed') this.linger('K', now, this.reliable ? 0 : this.timers.t4);
    return this.flush();
  }

  protected onTimer(timer: TimerName, now: number): void {
    const active = this.state === 'trying' || this.state === 'proceeding';
    if (timer === 'E' && active) {
      this.send(this.request, this.bytes, true);
      // §17.1.2.2: in Trying the interval doubles up to T2; once a provisional came, it stays at T2.
      this.intervalE = this.state === 'trying' ? Math.min(2 * this.intervalE, this.timers.t2) : this.timers.t2;
      this.arm('E', now, this.intervalE);
    } else if (timer === 'F' && active) {
      this.out.push({ type: 'timeout', id: this.id, timer: 'F' });
      this.terminate('timeout');
    } else if (timer === 'K' && this.state === 'completed') {
      this.terminate('done');
    }
  }
}
