/**
 * Drops UDP datagrams from a source that only ever earns refusals, before they are parsed (the job Kamailio's
 * `pike` does), so a flood of refused requests leaves CPU for honest phones. Sans-I/O: the clock comes in as
 * `now` (ms). A source turns verified once a request from it succeeds and is then never banned; an unverified
 * source with `maxRefusals` refusals in `windowSeconds` is banned for `banSeconds`; every table is bounded.
 * Theory of operation and what is left: docs/sip-theory.md "Flood guard".
 */

export interface FloodGuardOptions {
  /**
   * Refusals an unverified source may collect within the window; default 30. A booting phone needs 1; phones
   * behind one NAT address booting at once need one each until the first of them registers (which verifies it).
   */
  maxRefusals?: number;
  /** Default 10 s. */
  windowSeconds?: number;
  /** How long a banned source's datagrams are dropped unread; default 30 s. */
  banSeconds?: number;
  /** How long a success keeps a source verified; default 3600 s (a registration's longest expiry). */
  verifiedSeconds?: number;
  /** Sources counted and sources banned, each; default 100000 (oldest counted entry forgotten first). */
  maxKeys?: number;
  /** Verified sources remembered; default 100000 (least recently verified forgotten first). */
  maxVerified?: number;
}

export const floodGuardDefaults = {
  maxRefusals: 30,
  windowSeconds: 10,
  banSeconds: 30,
  verifiedSeconds: 3600,
  maxKeys: 100_000,
  maxVerified: 100_000,
} as const;

export class FloodGuard {
  readonly stats = { bans: 0, dropped: 0, overflows: 0 };
  private readonly opts: Required<FloodGuardOptions>;
  private readonly counting = new Map<string, { windowStart: number; refusals: number }>();
  private readonly banned = new Map<string, number>();
  private readonly verified = new Map<string, number>();

  constructor(options: FloodGuardOptions = {}) {
    this.opts = { ...floodGuardDefaults, ...options };
  }

  /** Whether a datagram from `address` may be read; counts the ones dropped. */
  admit(address: string, now: number): boolean {
    if (this.banned.size === 0) return true; // the usual case: one size check per datagram
    const until = this.banned.get(address);
    if (until === undefined) return true;
    if (now >= until) {
      this.banned.delete(address);
      return true;
    }
    this.stats.dropped++;
    return false;
  }

  /** A request from `address` succeeded: never banned while verified. */
  recordSuccess(address: string, now: number): void {
    this.verified.delete(address);
    this.verified.set(address, now + this.opts.verifiedSeconds * 1000);
    if (this.verified.size > this.opts.maxVerified) this.verified.delete(this.verified.keys().next().value as string);
    this.counting.delete(address);
    this.banned.delete(address);
  }

  /** sbd refused a request from `address` (authentication or authorization); true when it is now banned. */
  recordRefusal(address: string, now: number): boolean {
    const v = this.verified.get(address);
    if (v !== undefined) {
      if (now < v) return false;
      this.verified.delete(address);
    }
    let e = this.counting.get(address);
    this.counting.delete(address);
    if (!e || now - e.windowStart > this.opts.windowSeconds * 1000) e = { windowStart: now, refusals: 0 };
    e.refusals++;
    if (e.refusals >= this.opts.maxRefusals) {
      this.sweepBans(now);
      if (this.banned.size >= this.opts.maxKeys) {
        this.stats.overflows++;
      } else {
        this.banned.set(address, now + this.opts.banSeconds * 1000);
        this.stats.bans++;
        return true;
      }
    }
    this.counting.set(address, e);
    if (this.counting.size > this.opts.maxKeys) this.counting.delete(this.counting.keys().next().value as string);
    return false;
  }

  get bannedCount(): number {
    return this.banned.size;
  }

  private sweepBans(now: number): void {
    if (this.banned.size < this.opts.maxKeys) return;
    for (const [k, until] of this.banned) if (now >= until) this.banned.delete(k);
  }
}
