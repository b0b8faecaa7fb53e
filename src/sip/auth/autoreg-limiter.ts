/**
 * Rate limit on autoregistration through SIP REGISTER. A REGISTER under an unknown device name (SEP + MAC) adds
 * a device with the next free number of AutoRegistrationDnRange before any authentication (CUCM does the same:
 * a new phone has no credentials yet), so without a bound a flood of made-up names would use up the range and
 * fill the store. Two token buckets decide whether a new device may be created now: one per source address (a
 * phone creates one device; a site behind one NAT address a few) and one for the whole appliance (a boot storm
 * of new phones is spread out, not refused: the answer is 503 with Retry-After, RFC 3261 §21.5.4, and phones
 * retry). Known devices are never limited. Sans-I/O: time comes in as `now` (ms).
 */
export interface AutoregLimiterOptions {
  /** New devices one source address may add per minute; default 6 (burst the same). */
  perSourcePerMinute?: number;
  /** New devices the whole appliance adds per second; default 20 (burst 100). */
  globalPerSecond?: number;
  /** Global burst; default 100. */
  globalBurst?: number;
  /** Source addresses tracked at once; default 10000 (oldest dropped first: a dropped one starts with a full bucket). */
  maxSources?: number;
}

export const autoregLimiterDefaults = { perSourcePerMinute: 6, globalPerSecond: 20, globalBurst: 100, maxSources: 10_000 } as const;

interface Bucket {
  tokens: number;
  at: number;
}

export type AutoregDecision = { ok: true } | { ok: false; scope: 'source' | 'appliance'; retryAfterSeconds: number };

export class AutoregLimiter {
  private readonly opts: Required<AutoregLimiterOptions>;
  private readonly sources = new Map<string, Bucket>();
  private readonly global: Bucket;

  constructor(options: AutoregLimiterOptions = {}, now = 0) {
    this.opts = { ...autoregLimiterDefaults, ...options };
    this.global = { tokens: this.opts.globalBurst, at: now };
  }

  get trackedSources(): number {
    return this.sources.size;
  }

  /** Takes one token from both buckets when both have one; otherwise takes none and says which one is empty. */
  tryCreate(source: string, now: number): AutoregDecision {
    const perSourceRate = this.opts.perSourcePerMinute / 60_000;
    const s = this.sources.get(source) ?? { tokens: this.opts.perSourcePerMinute, at: now };
    refill(s, now, perSourceRate, this.opts.perSourcePerMinute);
    refill(this.global, now, this.opts.globalPerSecond / 1000, this.opts.globalBurst);
    this.sources.delete(source);
    this.sources.set(source, s);
    if (this.sources.size > this.opts.maxSources) this.sources.delete(this.sources.keys().next().value as string);
    if (s.tokens < 1) return { ok: false, scope: 'source', retryAfterSeconds: Math.ceil((1 - s.tokens) / perSourceRate / 1000) };
    if (this.global.tokens < 1)
      return {
        ok: false,
        scope: 'appliance',
        retryAfterSeconds: Math.max(1, Math.ceil((1 - this.global.tokens) / (this.opts.globalPerSecond / 1000) / 1000)),
      };
    s.tokens -= 1;
    this.global.tokens -= 1;
    return { ok: true };
  }
}

function refill(b: Bucket, now: number, perMs: number, max: number): void {
  if (now > b.at) b.tokens = Math.min(max, b.tokens + (now - b.at) * perMs);
  b.at = Math.max(b.at, now);
}
