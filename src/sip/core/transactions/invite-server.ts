/**
 * INVITE server transaction (RFC 3261 §17.2.1, with the RFC 6026 §7.1 Accepted state). Sans-I/O: messages,
 * TU answers and timer events in; sends, deliveries and timer arms out. 100 Trying after `tryingDelay` unless
 * the TU answered; a non-2xx final is resent on Timer G until the ACK (Timer H gives up); a 2xx moves to
 * Accepted (Timer L), where the TU's own 2xx retransmissions go out (dialogs/dialog-2xx-retransmission.ts).
 * State table: docs/sip-transactions.md "Theory of operation".
 */
import type { SipRequest, SipResponse } from '../messages/message.js';
import type { TransactionAction } from './actions.js';
import { TransactionCode, TransactionError } from './errors.js';
import { checkResponseFor, tryingFor } from './server-response-check.js';
import type { ResolvedTimers, TimerName } from './timers.js';
import { TransactionBase } from './transaction-base.js';

export type InviteServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

interface Sent {
  message: SipResponse;
  bytes: Buffer;
}

export class InviteServerTransaction<F> extends TransactionBase<F, InviteServerState | 'new'> {
  readonly kind = 'invite-server' as const;
  state: InviteServerState | 'new' = 'new';
  readonly request: SipRequest;
  /** The last provisional sent (proceeding) or the final response (completed, confirmed, accepted). */
  private last: Sent | undefined;
  private intervalG: number;

  constructor(id: string, request: SipRequest, flow: F, reliable: boolean, timers: ResolvedTimers) {
    super(id, flow, reliable, timers);
    this.request = request;
    this.intervalG = timers.t1;
  }

  /** The To tag of the final response sent, if any (RFC 2543 ACK matching, §17.2.3). */
  get responseToTag(): string | undefined {
    return this.last && this.last.message.status >= 200 ? (this.last.message.to().params.get('tag') ?? undefined) : undefined;
  }

  start(now: number): TransactionAction<F>[] {
    if (this.state !== 'new') return [];
    this.state = 'proceeding';
    this.out.push({ type: 'deliver', id: this.id, message: this.request, flow: this.flow });
    if (this.timers.tryingDelay === 0) this.sendTrying();
    else this.arm('Trying', now, this.timers.tryingDelay);
    return this.flush();
  }

  /** A retransmitted INVITE or an ACK matched to this transaction (§17.2.3). */
  receive(req: SipRequest, now: number): TransactionAction<F>[] {
    if (req.method === 'ACK') {
      if (this.state === 'completed') {
        this.cancel('G', 'H');
        this.state = 'confirmed';
        this.linger('I', now, this.reliable ? 0 : this.timers.t4);
      } else if (this.state === 'accepted') {
        this.out.push({ type: 'deliver', id: this.id, message: req, flow: this.flow });
      }
      return this.flush();
    }
    if (this.state === 'proceeding') {
      if (this.last) this.send(this.last.message, this.last.bytes, true);
      else {
        this.cancel('Trying');
        this.sendTrying();
      }
    } else if (this.state === 'completed' && this.last) {
      this.send(this.last.message, this.last.bytes, true);
    }
    return this.flush();
  }

  /** A response from the TU. */
  respond(res: SipResponse, now: number): TransactionAction<F>[] {
    checkResponseFor(this.request, res);
    const s = res.status;
    if (this.state === 'accepted' && s >= 200 && s < 300) {
      this.send(res, this.serialize(res), true);
      return this.flush();
    }
    if (this.state !== 'proceeding') {
      throw new TransactionError(TransactionCode.state, `INVITE server transaction in state ${this.state} cannot send a ${s}`);
    }
    this.cancel('Trying');
    this.last = { message: res, bytes: this.serialize(res) };
    this.send(res, this.last.bytes, false);
    if (s >= 200 && s < 300) {
      if (this.timers.acceptedState) {
        this.state = 'accepted';
        this.arm('L', now, 64 * this.timers.t1);
      } else this.terminate('done');
    } else if (s >= 300) {
      this.state = 'completed';
      if (!this.reliable) this.arm('G', now, this.intervalG);
      this.arm('H', now, 64 * this.timers.t1);
    }
    return this.flush();
  }

  protected onTimer(timer: TimerName, now: number): void {
    if (timer === 'Trying' && this.state === 'proceeding' && !this.last) {
      this.sendTrying();
    } else if (timer === 'G' && this.state === 'completed' && this.last) {
      this.send(this.last.message, this.last.bytes, true);
      this.intervalG = Math.min(2 * this.intervalG, this.timers.t2);
      this.arm('G', now, this.intervalG);
    } else if (timer === 'H' && this.state === 'completed') {
      this.out.push({ type: 'timeout', id: this.id, timer: 'H' });
      this.terminate('timeout');
    } else if ((timer === 'I' && this.state === 'confirmed') || (timer === 'L' && this.state === 'accepted')) {
      this.terminate('done');
    }
  }

  private sendTrying(): void {
    const trying = tryingFor(this.request);
    this.last = { message: trying, bytes: this.serialize(trying) };
    this.send(trying, this.last.bytes, false);
  }
}
