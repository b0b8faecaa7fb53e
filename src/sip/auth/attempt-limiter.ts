/**
 * Failed-attempt limiter against digest guessing: a key (source address + username) that fails
 * `maxFailures` times within `windowSeconds` is refused for `blockSeconds` (the registrar answers 403 without
 * checking credentials). A success clears the key. Keys are bounded (`maxKeys`, oldest dropped first) so a
 * flood of fake usernames cannot grow memory. Sans-I/O: time comes in as `now` (ms).
 */
export interface AttemptLimiterOptions {
  /** Failures allowed inside the window; default 10. */
  maxFailures?: number;
  /** Window the failures are counted in; default 60 s. */
  windowSeconds?: number;
  /** How long a key stays refused once over the limit; default 300 s. */
  blockSeconds?: number;
  /** Keys tracked at once; default 100000. */
  maxKeys?: number;
}

export const attemptLimiterDefaults = { maxFailures: 10, windowSeconds: 60, blockSeconds: 300, maxKeys: 100_000 } as const;

interface Entry {
  windowStart: number;
  failures: number;
  blockedUntil: number;
}

export class AttemptLimiter {
  private readonly o: Required<AttemptLimiterOptions>;
  private readonly keys = new Map<string, Entry>();

  constructor(options: AttemptLimiterOptions = {}) {
    this.o = { ...attemptLimiterDefaults, ...options };
  }

  get trackedKeys(): number {
    return this.keys.size;
  }

  isBlocked(key: string, now: number): boolean {
    const e = this.keys.get(key);
    return e !== undefined && e.blockedUntil > now;
  }

  recordFailure(key: string, now: number): void {
    let e = this.keys.get(key);
    if (!e || now - e.windowStart > this.o.windowSeconds * 1000) {
      this.keys.delete(key);
      e = { windowStart: now, failures: 0, blockedUntil: e?.blockedUntil ?? 0 };
    }
    e.failures++;
    if (e.failures >= this.o.maxFailures) e.blockedUntil = now + this.o.blockSeconds * 1000;
    this.keys.set(key, e);
    if (this.keys.size > this.o.maxKeys) this.keys.delete(this.keys.keys().next().value as string);
  }

  recordSuccess(key: string): void {
    this.keys.delete(key);
  }
}
