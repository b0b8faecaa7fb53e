/**
 * What the four §17 state machines share: identity, the flow, which timers are armed (so a late or stale timer
 * event is ignored), the serialized bytes of what was last sent (retransmissions reuse them) and the action
 * list each entry point fills and returns.
 */
import type { SipMessage } from '../messages/message.js';
import { serializeMessage } from '../messages/serializer.js';
import type { TerminationReason, TransactionAction } from './actions.js';
import type { ResolvedTimers, TimerName } from './timers.js';

export type TransactionKind = 'invite-client' | 'non-invite-client' | 'invite-server' | 'non-invite-server';

export abstract class TransactionBase<F, S extends string> {
  readonly id: string;
  readonly flow: F;
  /** Whether the transport retransmits for us (§17.1.1.2): then A, E, G never run and D, I, J, K are zero. */
  readonly reliable: boolean;
  abstract readonly kind: TransactionKind;
  abstract state: S;
  protected readonly timers: ResolvedTimers;
  /** Deadline of each armed timer. */
  private readonly armed = new Map<TimerName, number>();
  protected out: TransactionAction<F>[] = [];

  constructor(id: string, flow: F, reliable: boolean, timers: ResolvedTimers) {
    this.id = id;
    this.flow = flow;
    this.reliable = reliable;
    this.timers = timers;
  }

  get terminated(): boolean {
    return this.state === 'terminated';
  }

  /** Timer event from the shell. Ignored unless that timer is armed and due (a stale event after a re-arm). */
  fire(timer: TimerName, now: number): TransactionAction<F>[] {
    const at = this.armed.get(timer);
    if (at === undefined || now < at || this.terminated) return [];
    this.armed.delete(timer);
    this.onTimer(timer, now);
    return this.flush();
  }

  /** The transport could not deliver (ICMP unreachable, connection refused or reset): §17.1.4, §17.2.4. */
  transportError(): TransactionAction<F>[] {
    if (this.terminated) return [];
    this.out.push({ type: 'transport-error', id: this.id });
    this.terminate('transport-error');
    return this.flush();
  }

  /** Leave without a word to anyone (see `TransactionTable.abandon`). */
  abandon(): TransactionAction<F>[] {
    if (this.terminated) return [];
    this.terminate('abandoned');
    return this.flush();
  }

  protected abstract onTimer(timer: TimerName, now: number): void;

  protected flush(): TransactionAction<F>[] {
    const a = this.out;
    this.out = [];
    return a;
  }

  protected arm(timer: TimerName, now: number, after: number): void {
    this.armed.set(timer, now + after);
    this.out.push({ type: 'arm', id: this.id, timer, at: now + after });
  }

  protected cancel(...timers: TimerName[]): void {
    for (const t of timers) {
      if (this.armed.delete(t)) this.out.push({ type: 'cancel', id: this.id, timer: t });
    }
  }

  protected isArmed(timer: TimerName): boolean {
    return this.armed.has(timer);
  }

  /** Serializes once; retransmissions pass the same bytes back to `send`. */
  protected serialize(message: SipMessage): Buffer {
    return serializeMessage(message);
  }

  protected send(message: SipMessage, bytes: Buffer, retransmission: boolean): void {
    this.out.push({ type: 'send', id: this.id, message, bytes, flow: this.flow, retransmission });
  }

  /**
   * Waits `after` ms in `next` state then ends; a zero wait (reliable transports, §17.1.1.2 etc.) ends at once.
   */
  protected linger(timer: TimerName, now: number, after: number): void {
    if (after <= 0) this.terminate('done');
    else this.arm(timer, now, after);
  }

  protected terminate(reason: TerminationReason): void {
    const from = this.state;
    this.cancel(...this.armed.keys());
    this.state = 'terminated' as S;
    this.out.push({ type: 'terminated', id: this.id, state: from, reason });
  }
}
