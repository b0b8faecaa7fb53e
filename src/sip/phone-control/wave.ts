/**
 * A reset wave, sans-I/O: the phones to reset in, the clock as an argument, "send this NOTIFY now" out; answers,
 * failures and re-registrations in as events. The shell (phone-control.ts) owns sockets and timers. Each target
 * goes queued → sent → acknowledged → re-registered, or ends `failed` (no answer) or `silent` (no REGISTER);
 * at most `phonesPerSecond` NOTIFYs a second, resent on Timer E over UDP only; phones with no registration are
 * listed as `unregistered` and sent nothing. Theory of operation: docs/sip-theory.md "Reset waves".
 */
import type { ResetKind, ResetMethod } from './notify.js';

/**
 * The default pace: 100 phones/s keeps a wave of resets (a wave of TFTP boots) inside what the TFTP server serves
 * without a retransmission; the derivation from the boot-storm figures is in docs/sip-theory.md "Reset waves".
 */
export const resetPacingDefaults = {
  phonesPerSecond: 100,
  /** 64·T1 (RFC 3261 Timer F): a phone that has not answered by then will not. */
  ackTimeoutMs: 32_000,
  /** A phone's reset (power-on self test, TFTP, REGISTER) takes up to a minute or two. */
  reregisterTimeoutMs: 180_000,
  t1: 500,
  t2: 4000,
  /** Largest selection one wave takes (the registrar's own bound on AORs is 200000). */
  maxTargets: 200_000,
} as const;

export interface WaveOptions {
  phonesPerSecond?: number;
  ackTimeoutMs?: number;
  reregisterTimeoutMs?: number;
  t1?: number;
  t2?: number;
}

export interface WaveTarget {
  device: string;
  /** The AOR user the phone registers (its directory number). */
  line: string;
  contact: string;
  registerCallId: string;
  reliable: boolean;
  method: ResetMethod;
}

export type TargetState = 'queued' | 'sent' | 'acknowledged' | 'reregistered' | 'failed' | 'silent';

interface Entry {
  target: WaveTarget;
  state: TargetState;
  sentAt: number;
  nextResendAt: number;
  interval: number;
  status?: number;
  reason?: string;
}

export interface WaveProgress {
  total: number;
  sent: number;
  acknowledged: number;
  reregistered: number;
  failed: number;
}

export interface WaveSummary extends WaveProgress {
  kind: ResetKind;
  unregistered: string[];
  failures: Array<{ device: string; reason: string }>;
  /** Acknowledged but not seen registering again within reregisterTimeoutMs. */
  notReregistered: string[];
  durationMs: number;
}

export class ResetWave {
  readonly kind: ResetKind;
  readonly unregistered: readonly string[];
  private readonly entries: Entry[];
  private readonly byLine = new Map<string, Entry>();
  private readonly opts: Required<WaveOptions>;
  private readonly startedAt: number;
  private nextIndex = 0;
  /** When the next first NOTIFY may go. */
  private nextSlotAt: number;
  private finishedAt: number | undefined;

  constructor(kind: ResetKind, targets: readonly WaveTarget[], unregistered: readonly string[], now: number, o: WaveOptions = {}) {
    this.kind = kind;
    this.unregistered = [...unregistered];
    this.opts = { ...resetPacingDefaults, ...o };
    if (!(this.opts.phonesPerSecond > 0)) throw new RangeError('phonesPerSecond must be above 0');
    this.entries = targets.map((target) => ({ target, state: 'queued', sentAt: 0, nextResendAt: Infinity, interval: this.opts.t1 }));
    for (const e of this.entries) this.byLine.set(e.target.line, e);
    this.startedAt = now;
    this.nextSlotAt = now;
    this.expire(now); // an empty selection is done at once
  }

  /** NOTIFYs to send now (first sends in pace, then resends on Timer E); marks them sent. */
  due(now: number): WaveTarget[] {
    this.expire(now);
    const out: WaveTarget[] = [];
    for (const e of this.entries) {
      if (e.state === 'sent' && !e.target.reliable && e.nextResendAt <= now) {
        out.push(e.target);
        e.interval = Math.min(e.interval * 2, this.opts.t2);
        e.nextResendAt = now + e.interval;
      }
    }
    const period = 1000 / this.opts.phonesPerSecond;
    while (this.nextIndex < this.entries.length && this.nextSlotAt <= now) {
      // Late by more than one period: the lost time is not made up (a burst of at most two).
      this.nextSlotAt = Math.max(this.nextSlotAt, now - period) + period;
      const e = this.entries[this.nextIndex++]!;
      e.state = 'sent';
      e.sentAt = now;
      e.nextResendAt = now + e.interval;
      out.push(e.target);
    }
    return out;
  }

  /** The phone answered the NOTIFY for this line. */
  answered(line: string, status: number): void {
    const e = this.byLine.get(line);
    if (e?.state !== 'sent' || status < 200) return;
    e.state = 'acknowledged';
    e.status = status;
  }

  /** The NOTIFY could not be sent (the flow is gone). */
  failed(line: string, reason: string): void {
    const e = this.byLine.get(line);
    if (!e || (e.state !== 'sent' && e.state !== 'queued')) return;
    e.state = 'failed';
    e.reason = reason;
  }

  /** A REGISTER for this line succeeded. */
  registered(line: string): void {
    const e = this.byLine.get(line);
    if (!e || (e.state !== 'sent' && e.state !== 'acknowledged')) return;
    e.state = 'reregistered';
  }

  private expire(now: number): void {
    for (const e of this.entries) {
      if (e.state === 'sent' && now - e.sentAt >= this.opts.ackTimeoutMs) {
        e.state = 'failed';
        e.reason = `no answer within ${this.opts.ackTimeoutMs} ms`;
      } else if (e.state === 'acknowledged' && now - e.sentAt >= this.opts.reregisterTimeoutMs) {
        e.state = 'silent';
      }
    }
    if (
      this.finishedAt === undefined &&
      this.nextIndex >= this.entries.length &&
      this.entries.every((e) => e.state !== 'sent' && e.state !== 'acknowledged')
    )
      this.finishedAt = now;
  }

  /** The next instant something is due (a send slot, a resend, a timeout), or undefined when done. */
  nextAt(now: number): number | undefined {
    this.expire(now);
    if (this.done) return undefined;
    let at = this.nextIndex < this.entries.length ? this.nextSlotAt : Infinity;
    for (const e of this.entries) {
      if (e.state === 'sent') at = Math.min(at, e.sentAt + this.opts.ackTimeoutMs, e.target.reliable ? Infinity : e.nextResendAt);
      else if (e.state === 'acknowledged') at = Math.min(at, e.sentAt + this.opts.reregisterTimeoutMs);
    }
    return at === Infinity ? undefined : at;
  }

  get done(): boolean {
    return this.finishedAt !== undefined;
  }

  stateOf(line: string): TargetState | undefined {
    return this.byLine.get(line)?.state;
  }

  progress(): WaveProgress {
    const p: WaveProgress = { total: this.entries.length, sent: this.nextIndex, acknowledged: 0, reregistered: 0, failed: 0 };
    for (const e of this.entries) {
      if (e.state === 'acknowledged' || e.state === 'silent') p.acknowledged++;
      else if (e.state === 'reregistered') {
        p.acknowledged++;
        p.reregistered++;
      } else if (e.state === 'failed') p.failed++;
    }
    return p;
  }

  summary(now: number): WaveSummary {
    return {
      kind: this.kind,
      ...this.progress(),
      unregistered: [...this.unregistered],
      failures: this.entries.filter((e) => e.state === 'failed').map((e) => ({ device: e.target.device, reason: e.reason ?? 'failed' })),
      notReregistered: this.entries.filter((e) => e.state === 'silent').map((e) => e.target.device),
      durationMs: (this.finishedAt ?? now) - this.startedAt,
    };
  }
}
