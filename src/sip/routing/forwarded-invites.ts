/**
 * INVITEs the router forwarded, by our branch: where their CANCEL and the ACK of a non-2xx response go
 * (RFC 3261 §9.1: a CANCEL follows its INVITE; §16.11: a stateless proxy forwards both like the INVITE, with
 * the same branch). A CANCEL or an ACK without a dialog route that sbd can verify is forwarded only when its
 * branch is here: nobody can make sbd send a bare ACK or CANCEL anywhere it did not send the INVITE.
 * A bounded table, least recently refreshed first: an entry lives 64·T1 (32 s) after the INVITE or its final
 * response, Timer C (3 min) after a provisional response; past `maxForwardedInvites` the oldest is forgotten
 * (its CANCEL then gets 481, a late non-2xx ACK is dropped and the callee's Timer H ends its transaction).
 */
import type { Uri } from '../core/messages/uri.js';

export const forwardedInviteDefaults = {
  /** INVITEs remembered at once. */
  maxForwardedInvites: 20_000,
  /** Lifetime after the INVITE (or a retransmission) was forwarded, and after its final response: 64·T1. */
  pendingTtlMs: 32_000,
  /** Lifetime after a provisional response: Timer C (> 3 min, §16.6 step 11). */
  proceedingTtlMs: 180_000,
  /** Expired entries dropped per call (bounds the lazy sweep's work). */
  sweepPerCall: 16,
} as const;

export interface ForwardedInviteOptions {
  maxForwardedInvites?: number;
  pendingTtlMs?: number;
  proceedingTtlMs?: number;
}

interface Entry<T> {
  branch: string;
  uri: Uri;
  target: T;
  expiresAt: number;
}

export class ForwardedInvites<T> {
  readonly stats = { remembered: 0, evicted: 0 };
  private readonly opts: Required<ForwardedInviteOptions>;
  private readonly byBranch = new Map<string, Entry<T>>();

  constructor(options: ForwardedInviteOptions = {}) {
    this.opts = { ...forwardedInviteDefaults, ...options };
  }

  get size(): number {
    return this.byBranch.size;
  }

  remember(branch: string, uri: Uri, target: T, now: number): void {
    this.sweep(now);
    const old = this.byBranch.get(branch);
    this.byBranch.delete(branch);
    this.byBranch.set(branch, { branch, uri, target, expiresAt: Math.max(old?.expiresAt ?? 0, now + this.opts.pendingTtlMs) });
    if (!old) this.stats.remembered++;
    while (this.byBranch.size > this.opts.maxForwardedInvites) {
      this.byBranch.delete(this.byBranch.keys().next().value as string);
      this.stats.evicted++;
    }
  }

  find(branch: string, now: number): { uri: Uri; target: T } | undefined {
    const e = this.byBranch.get(branch);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.byBranch.delete(branch);
      return undefined;
    }
    return { uri: e.uri, target: e.target };
  }

  /** A response to one of ours passed: a provisional keeps the entry for Timer C, a final one for 64·T1. */
  onResponse(branch: string, status: number, now: number): void {
    const e = this.byBranch.get(branch);
    if (!e || e.expiresAt <= now) return;
    e.expiresAt = now + (status < 200 ? this.opts.proceedingTtlMs : this.opts.pendingTtlMs);
    this.byBranch.delete(branch);
    this.byBranch.set(branch, e);
  }

  private sweep(now: number): void {
    let n = 0;
    for (const e of this.byBranch.values()) {
      if (n++ >= forwardedInviteDefaults.sweepPerCall || e.expiresAt > now) break;
      this.byBranch.delete(e.branch);
    }
  }
}
