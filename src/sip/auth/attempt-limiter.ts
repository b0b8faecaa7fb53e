/**
 * Failed-attempt limiter against digest guessing: a key that fails `maxFailures` times within `windowSeconds` is
 * refused for `blockSeconds`. Sans-I/O: time comes in as `now` (ms). Two bounded tables (`counting`, `blocked`),
 * so a flood of made-up keys can neither grow memory nor lift a block: an active block is never evicted.
 * How each table is bounded: docs/sip-theory.md "Attempt limiter".
 */
export interface AttemptLimiterOptions {
  /** Failures allowed inside the window; default 10. 0 = never block. */
  maxFailures?: number;
  /** Window the failures are counted in; default 60 s. */
  windowSeconds?: number;
  /** How long a key stays refused once over the limit; default 300 s. */
  blockSeconds?: number;
  /** Keys counted (not blocked) at once; default 100000 (least recently failed dropped first). */
  maxKeys?: number;
  /** Keys blocked at once; default 100000 (never evicted while active). */
  maxBlocked?: number;
}

export const attemptLimiterDefaults = {
  maxFailures: 10,
  windowSeconds: 60,
  blockSeconds: 300,
  maxKeys: 100_000,
  maxBlocked: 100_000,
} as const;

/** The thresholds of one failure, when they come from elsewhere (the store's lockout policy). */
export interface LimitPolicy {
  maxFailures: number;
  windowSeconds: number;
  blockSeconds: number;
}

interface Counting {
  windowStart: number;
  failures: number;
}

export class AttemptLimiter {
  private readonly opts: Required<AttemptLimiterOptions>;
  private readonly counting = new Map<string, Counting>();
  private readonly blocked = new Map<string, number>();
  /** Blocks that could not be recorded because `maxBlocked` active blocks existed. */
  overflows = 0;

  constructor(options: AttemptLimiterOptions = {}) {
    this.opts = { ...attemptLimiterDefaults, ...options };
  }

  get trackedKeys(): number {
    return this.counting.size + this.blocked.size;
  }

  get blockedKeys(): number {
    return this.blocked.size;
  }

  isBlocked(key: string, now: number): boolean {
    const until = this.blocked.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.blocked.delete(key);
    return false;
  }

  /** One failure for `key`; true when the key is (now) blocked. `policy` overrides the options' thresholds. */
  recordFailure(key: string, now: number, policy?: LimitPolicy): boolean {
    if (this.isBlocked(key, now)) return true;
    const p = policy ?? this.opts;
    let e = this.counting.get(key);
    this.counting.delete(key);
    if (!e || now - e.windowStart > p.windowSeconds * 1000) e = { windowStart: now, failures: 0 };
    e.failures++;
    if (p.maxFailures > 0 && e.failures >= p.maxFailures && this.block(key, now + p.blockSeconds * 1000, now)) return true;
    this.counting.set(key, e);
    if (this.counting.size > this.opts.maxKeys) this.counting.delete(this.counting.keys().next().value as string);
    return false;
  }

  recordSuccess(key: string): void {
    this.counting.delete(key);
  }

  private block(key: string, until: number, now: number): boolean {
    // Expired blocks are at the front (set in the order they end): drop them first.
    for (const [k, u] of this.blocked) {
      if (u > now) break;
      this.blocked.delete(k);
    }
    if (this.blocked.size >= this.opts.maxBlocked) {
      this.overflows++;
      return false;
    }
    this.blocked.set(key, until);
    return true;
  }
}
