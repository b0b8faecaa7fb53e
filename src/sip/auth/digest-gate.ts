/**
 * The one door every SIP digest check goes through (REGISTER's Authorization, a phone's or a trunk's
 * Proxy-Authorization / Authorization on INVITE and the rest), so guessing is counted the same everywhere.
 * Sans-I/O: time comes in as `now` (ms); credentials and the lockout policy come from the caller's lookups.
 * Blocked sources are refused first; every wrong answer (unknown user, wrong password, not the owner) is one
 * outcome, counted per credential and per source; a source the credential authenticated from before stays open.
 * Answers: `challenge` / `stale` → 401/407 with fresh challenges; `blocked` → 403.
 * Theory of operation, step by step: docs/sip-theory.md "Digest gate".
 */
import { parseAuthHeader, type DigestAlgorithm, type DigestServer } from '../core/auth/digest.js';
import type { MessageSource } from '../transports/types.js';
import { AttemptLimiter, type AttemptLimiterOptions } from './attempt-limiter.js';

/** CredentialLockoutThreshold (failures, 0 = never) and CredentialLockoutMinutes as the store holds them. */
export interface LockoutPolicy {
  threshold: number;
  minutes: number;
}

export interface DigestGateOptions {
  /** Per source address; default 20 failures in 60 s block the address for 300 s (a NAT may hide many phones). */
  perSource?: AttemptLimiterOptions;
  /** Bounds of the per-credential table (thresholds come from the lockout policy); default 100000 each. */
  perCredential?: Pick<AttemptLimiterOptions, 'maxKeys' | 'maxBlocked'>;
  /**
   * Longest username given its own failure count; default 128 (the store's longest userid). A longer one is no
   * user's: its failures count for the source only, so the table never holds attacker-sized keys.
   */
  maxUsernameChars?: number;
  /** Addresses remembered per credential as ones it authenticated from; default 4 (most recent kept). */
  maxGoodSources?: number;
  /** Credentials whose good addresses are remembered; default 100000 (least recently used forgotten first). */
  maxGoodCredentials?: number;
  /**
   * Seconds a nonce is accepted when the request names no lifetime of its own (a trunk); default 300. A request's
   * `nonceLifetime` (its security profile's nonce validity) replaces it. Either only shortens the DigestServer's
   * own lifetime, which sbd-sipd therefore sets to the longest a profile allows.
   */
  nonceLifetime?: number;
}

export const digestGateDefaults = {
  perSource: { maxFailures: 20, windowSeconds: 60, blockSeconds: 300 },
  maxUsernameChars: 128,
  maxGoodSources: 4,
  maxGoodCredentials: 100_000,
  nonceLifetime: 300,
} as const;

export interface DigestGateDeps {
  digest: DigestServer;
  lookupHa1: (username: string, realm: string, algorithm: DigestAlgorithm) => string | undefined;
  /** The store's lockout policy (read per failure: an administrator's change applies at once). */
  lockout: () => LockoutPolicy;
  /** The store locked this account (failed logins elsewhere); default never. */
  accountLocked?: (username: string, now: number) => boolean;
}

export interface GateInput {
  /** Authorization or Proxy-Authorization value for our realm, if any. */
  header: string | undefined;
  method: string;
  requestUri: string;
  source: MessageSource | undefined;
  now: number;
  /** The algorithms offered and accepted (the security profile's); default the DigestServer's. */
  algorithms?: readonly DigestAlgorithm[];
  /** Seconds this request's nonce is accepted (the security profile's nonce validity); default the gate's. */
  nonceLifetime?: number;
  /** Whether an authenticated username may do what the request claims (own the AOR, be the line, the trunk). */
  owns: (username: string) => boolean;
}

export type GateResult = { ok: true; username: string } | { ok: false; answer: 'challenge' | 'stale' | 'blocked'; username?: string };

export class DigestGate {
  readonly bySource: AttemptLimiter;
  readonly byCredential: AttemptLimiter;
  private readonly deps: DigestGateDeps;
  private readonly maxUsernameChars: number;
  private readonly maxGoodSources: number;
  private readonly maxGoodCredentials: number;
  private readonly nonceLifetime: number;
  /** credential key → addresses it authenticated from, most recent last (a Map kept in LRU order). */
  private readonly goodSources = new Map<string, string[]>();

  constructor(deps: DigestGateDeps, options: DigestGateOptions = {}) {
    this.deps = deps;
    this.maxUsernameChars = options.maxUsernameChars ?? digestGateDefaults.maxUsernameChars;
    this.maxGoodSources = options.maxGoodSources ?? digestGateDefaults.maxGoodSources;
    this.maxGoodCredentials = options.maxGoodCredentials ?? digestGateDefaults.maxGoodCredentials;
    this.nonceLifetime = options.nonceLifetime ?? digestGateDefaults.nonceLifetime;
    this.bySource = new AttemptLimiter({ ...digestGateDefaults.perSource, ...options.perSource });
    this.byCredential = new AttemptLimiter({ ...options.perCredential });
  }

  get realm(): string {
    return this.deps.digest.realm;
  }

  /** Challenges whose nonce is bound to `source`'s address (answers from elsewhere are refused uncounted). */
  challenges(now: number, stale: boolean, algorithms: readonly DigestAlgorithm[] | undefined, source: MessageSource | undefined): string[] {
    return this.deps.digest.challenges(now, stale, algorithms, source?.address ?? '');
  }

  /** Step 1 alone: a blocked source is refused before its request is looked at any further. */
  sourceBlocked(source: MessageSource | undefined, now: number): boolean {
    return source !== undefined && this.bySource.isBlocked(source.address, now);
  }

  check(input: GateInput): GateResult {
    const { now, source } = input;
    if (this.sourceBlocked(source, now)) return { ok: false, answer: 'blocked' };
    if (input.header === undefined) return { ok: false, answer: 'challenge' };
    const realm = this.deps.digest.realm;
    const v = this.deps.digest.verify({
      header: input.header,
      method: input.method,
      requestUri: input.requestUri,
      now,
      lookupHa1: this.deps.lookupHa1,
      ...(input.algorithms ? { algorithms: input.algorithms } : {}),
      boundTo: source?.address ?? '',
      admit: (username) =>
        !this.credentialLockedFor(credentialKey(username, realm), source, now) && !(this.deps.accountLocked?.(username, now) ?? false),
    });
    if (v.ok && input.owns(v.username)) {
      // The nonce's lifetime for this request (RFC 7616 §3.3 stale), checked once the answer is known right, as the
      // DigestServer checks its own: "stale" never tells a right password from a wrong one.
      const nonce = parseAuthHeader(input.header).params.get('nonce') ?? '';
      const issued = nonceIssuedAt(nonce);
      if (issued === undefined || Math.floor(now / 1000) - issued > (input.nonceLifetime ?? this.nonceLifetime))
        return { ok: false, answer: 'stale', username: v.username };
      const key = credentialKey(v.username, realm);
      this.byCredential.recordSuccess(key);
      if (source) this.rememberGoodSource(key, source.address);
      return { ok: true, username: v.username };
    }
    if (!v.ok) {
      if (v.reason === 'refused') return { ok: false, answer: 'blocked', username: v.username! };
      if (v.stale) return { ok: false, answer: 'stale', username: v.username };
      // A spent or replayed nonce, a nonce not ours, a header we cannot read: nothing was guessed, no count.
      if (v.reason !== 'unknown-user' && v.reason !== 'bad-response') return { ok: false, answer: 'challenge' };
    }
    // Step 4: a wrong guess, an unknown user, or right credentials that do not own the request: one outcome.
    const username = v.username!;
    const key = credentialKey(username, realm);
    const p = this.deps.lockout();
    const fromGood = source !== undefined && this.isGoodSource(key, source.address);
    const blocked =
      !fromGood &&
      username.length <= this.maxUsernameChars &&
      this.byCredential.recordFailure(key, now, {
        maxFailures: p.threshold,
        windowSeconds: p.minutes * 60,
        blockSeconds: p.minutes * 60,
      });
    if (source) this.bySource.recordFailure(source.address, now);
    return { ok: false, answer: blocked ? 'blocked' : 'challenge', username };
  }

  /** Locked by the failure count, unless the request comes from an address this credential authenticated from. */
  private credentialLockedFor(key: string, source: MessageSource | undefined, now: number): boolean {
    if (!this.byCredential.isBlocked(key, now)) return false;
    return source === undefined || !this.isGoodSource(key, source.address);
  }

  private isGoodSource(key: string, address: string): boolean {
    return this.goodSources.get(key)?.includes(address) ?? false;
  }

  private rememberGoodSource(key: string, address: string): void {
    const list = (this.goodSources.get(key) ?? []).filter((a) => a !== address);
    list.push(address);
    if (list.length > this.maxGoodSources) list.shift();
    this.goodSources.delete(key);
    this.goodSources.set(key, list);
    if (this.goodSources.size > this.maxGoodCredentials) this.goodSources.delete(this.goodSources.keys().next().value as string);
  }
}

/**
 * The issue time (seconds) DigestServer writes into a nonce: base64url of issued-at (8 bytes) ‖ random (8) ‖ MAC (16),
 * src/sip/core/auth/digest.ts makeNonce; undefined for anything else. Read here because the per-profile lifetime is
 * the gate's (test/sip/registrar/nonce-validity.test.ts checks the layout against makeNonce).
 */
export function nonceIssuedAt(nonce: string): number | undefined {
  const raw = Buffer.from(nonce, 'base64url');
  if (raw.length !== 32 || raw.toString('base64url') !== nonce) return undefined;
  return Number(raw.readBigUInt64BE(0));
}

function credentialKey(username: string, realm: string): string {
  return `${username}\u0000${realm}`;
}
