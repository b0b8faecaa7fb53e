/**
 * INVITE client transaction (RFC 3261 §17.1.1, with the RFC 6026 §7.2 Accepted state). Sans-I/O.
 *
 * Theory of operation
 * -------------------
 *   state       event                              actions                                          next
 *   ----------  ---------------------------------  -----------------------------------------------  ----------
 *   (new)       start()                            send INVITE; arm A = T1 (unreliable only),       calling
 *                                                  arm B = 64·T1
 *   calling     Timer A                            resend INVITE, arm A = 2·previous (no cap)       calling
 *   calling     Timer B                            timeout to TU                                    terminated
 *   calling     1xx                                cancel A, B; deliver                             proceeding
 *   proceeding  1xx                                deliver                                          proceeding
 *   calling/    2xx                                cancel A, B; deliver; arm M = 64·T1              accepted
 *   proceeding                                     (RFC 3261 alone: deliver)                        (terminated)
 *   calling/    300–699                            cancel A, B; send ACK (§17.1.1.3); deliver;      completed
 *   proceeding                                     arm D (32 s unreliable, 0 reliable)
 *   completed   300–699 again                      resend the same ACK, not delivered               completed
 *   completed   Timer D                            –                                                terminated
 *   accepted    2xx again (or another fork's 2xx)  deliver: the TU ACKs each 2xx (§13.2.2.4)        accepted
 *   accepted    Timer M                            –                                                terminated
 *   any         transport error                    transport-error to TU                            terminated
 *
 * In Proceeding the request is no longer retransmitted and Timer B no longer applies (§17.1.1.2, Figure 5):
 * from then on only the TU ends the wait (CANCEL, or its own Timer C if it is a proxy).
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
