/**
 * INVITE client transaction (RFC 3261 §17.1.1, with the RFC 6026 §7.2 Accepted state). Sans-I/O. Timer A
 * resends the INVITE until a response (unreliable transports), Timer B gives up; a non-2xx final is ACKed here
 * (§17.1.1.3), again for each retransmission of it, until Timer D; every 2xx in Accepted goes to the TU (Timer M).
 * In Proceeding only the TU ends the wait (CANCEL, or its Timer C as a proxy).
 * State table: docs/sip-transactions.md "Theory of operation".
 */
import type { SipRequest, SipResponse } from '../messages/message.js';
import type { TransactionAction } from './actions.js';
import { ackForNon2xx } from './derived-requests.js';
import type { ResolvedTimers, TimerName } from './timers.js';
import { TransactionBase } from './transaction-base.js';

export type InviteClientState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

export class InviteClientTransaction<F> extends TransactionBase<F, InviteClientState | 'new'> {
  readonly kind = 'invite-client' as const;
  state: InviteClientState | 'new' = 'new';
  readonly request: SipRequest;
  private readonly bytes: Buffer;
  private intervalA: number;
  /** The ACK sent for the non-2xx final response, kept to answer its retransmissions. */
  private ack: { message: SipRequest; bytes: Buffer } | undefined;

  constructor(id: string, request: SipRequest, flow: F, reliable: boolean, timers: ResolvedTimers) {
    super(id, flow, reliable, timers);
    this.request = request;
    this.bytes = this.serialize(request);
    this.intervalA = timers.t1;
  }

  start(now: number): TransactionAction<F>[] {
    if (this.state !== 'new') return [];
    this.state = 'calling';
    this.send(this.request, this.bytes, false);
    if (!this.reliable) this.arm('A', now, this.intervalA);
    this.arm('B', now, 64 * this.timers.t1);
    return this.flush();
  }

  /** A response matched to this transaction (§17.1.3). */
  receive(res: SipResponse, now: number): TransactionAction<F>[] {
    const s = res.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        if (s < 200) {
          this.cancel('A', 'B');
          this.state = 'proceeding';
          this.deliver(res);
        } else if (s < 300) {
          this.cancel('A', 'B');
          this.deliver(res);
          if (this.timers.acceptedState) {
            this.state = 'accepted';
            this.arm('M', now, 64 * this.timers.t1);
          } else this.terminate('done');
        } else {
          this.cancel('A', 'B');
          const ack = ackForNon2xx(this.request, res);
          this.ack = { message: ack, bytes: this.serialize(ack) };
          this.send(ack, this.ack.bytes, false);
          this.deliver(res);
          this.state = 'completed';
          this.linger('D', now, this.reliable ? 0 : this.timers.timerD);
        }
        break;
      case 'completed':
        // §17.1.1.2: any retransmission of the final response makes us resend the ACK; nothing goes to the TU.
        if (s >= 300 && this.ack) this.send(this.ack.message, this.ack.bytes, true);
        break;
      case 'accepted':
        // RFC 6026 §7.2: every 2xx goes up so the TU can ACK it (a lost ACK makes the UAS retransmit its 2xx).
        if (s >= 200 && s < 300) this.deliver(res);
        break;
      default:
        break;
    }
    return this.flush();
  }

  protected onTimer(timer: TimerName, now: number): void {
    if (timer === 'A' && this.state === 'calling') {
      this.send(this.request, this.bytes, true);
      this.intervalA *= 2;
      this.arm('A', now, this.intervalA);
    } else if (timer === 'B' && this.state === 'calling') {
      this.out.push({ type: 'timeout', id: this.id, timer: 'B' });
      this.terminate('timeout');
    } else if ((timer === 'D' && this.state === 'completed') || (timer === 'M' && this.state === 'accepted')) {
      this.terminate('done');
    }
  }

  private deliver(res: SipResponse): void {
    this.out.push({ type: 'deliver', id: this.id, message: res, flow: this.flow });
  }
}
