/**
 * Answering a trunk's 401/407 challenges on requests the stateless proxy forwarded (Kamailio's `uac_auth()`),
 * sans-I/O. The far end's password is the appliance's secret, so the phone cannot answer; sbd does: requests to
 * a trunk are remembered by our branch (bounded), a challenge with a stored credential is ACKed and the request
 * re-sent with credentials and CSeq + 1 (the offset travels in `sbd-cseq=N` on our Via and Record-Route), and
 * the phone's retransmission, CANCEL and ACK are mapped onto the re-sent request.
 * Theory of operation and limits: docs/sip-theory.md "Trunk challenges".
 */
import { randomBytes } from 'node:crypto';
import { canonicalName } from '../core/messages/header-names.js';
import { SipRequest, type HeaderField, type SipResponse } from '../core/messages/message.js';
import { answerChallenge, parseAuthHeader } from '../core/auth/digest.js';
import { formatUri } from '../core/messages/uri.js';
import type { TransportKind } from '../transports/types.js';
import { resentBranch } from './branch.js';
import { replaceFirst } from './header-edit.js';

export const trunkChallengeDefaults = {
  /** Requests forwarded to trunks remembered at once; the least recently used is forgotten past it. */
  maxPendingTrunkRequests: 10_000,
  /** How long a forwarded request is remembered after it (or a retransmission) was sent: 64×T1 (§17.1.1.2). */
  pendingTtlMs: 32_000,
  /** How long after a provisional response an INVITE is remembered: Timer C (> 3 min, §16.6 step 11). */
  proceedingTtlMs: 180_000,
  /** Challenges answered for one request, stale=true re-answers included. */
  maxAnswersPerRequest: 2,
  /** WWW-/Proxy-Authenticate fields looked at in one response. */
  maxChallengesPerResponse: 8,
  /** Expired entries dropped per call (the lazy sweep's bound on work). */
  sweepPerCall: 16,
} as const;

export interface TrunkChallengeOptions {
  maxPendingTrunkRequests?: number;
  pendingTtlMs?: number;
  proceedingTtlMs?: number;
  maxAnswersPerRequest?: number;
  maxChallengesPerResponse?: number;
  /** cnonce source; default crypto.randomBytes (tests pass a fixed one). */
  random?: (n: number) => Buffer;
}

export interface TrunkCredential {
  username: string;
  password: string;
}

/** The stored credential of a trunk for a realm, decrypted; undefined when there is none. */
export type TrunkCredentialLookup = (trunk: string, realm: string) => TrunkCredential | undefined;

/** Where a trunk is reached (the router's address target). */
export interface TrunkTarget {
  kind: 'address';
  transport: TransportKind;
  host: string;
  port: number;
  trunk: string;
}

export interface AnsweredChallenge {
  realm: string;
  algorithm: string;
  header: 'Authorization' | 'Proxy-Authorization';
}

export type ChallengeOutcome =
  /** Not a challenge we answer: the response goes on to the phone. */
  | { kind: 'pass' }
  /** Answered (or a retransmitted challenge absorbed): send these towards the trunk, forward nothing to the phone. */
  | { kind: 'answered'; send: SipRequest[]; target: TrunkTarget; trunk: string; method: string; answered: AnsweredChallenge[] };

interface Pending {
  branch: string;
  trunk: string;
  target: TrunkTarget;
  /** The request as forwarded the first time (our Via on top, our Record-Route entries), never modified. */
  base: SipRequest;
  ownRecordRoutes: string[];
  /** Re-sent copies, oldest first; the last one is current. `offset` of copy i is i + 1. */
  resent: SipRequest[];
  resentBranches: string[];
  realms: Set<string>;
  expiresAt: number;
}

export const CSEQ_PARAM = 'sbd-cseq';

export class TrunkChallenges {
  readonly stats = { remembered: 0, answered: 0, passed: 0, evicted: 0, absorbed: 0 };
  private readonly opts: Required<Omit<TrunkChallengeOptions, 'random'>> & { random: (n: number) => Buffer; sweepPerCall: number };
  private readonly lookup: TrunkCredentialLookup;
  /** original branch → entry, least recently refreshed first. */
  private readonly byBranch = new Map<string, Pending>();
  /** re-sent branch → original branch. */
  private readonly byResent = new Map<string, string>();

  constructor(lookup: TrunkCredentialLookup, options: TrunkChallengeOptions = {}) {
    this.lookup = lookup;
    this.opts = { ...trunkChallengeDefaults, random: randomBytes, ...options };
  }

  get size(): number {
    return this.byBranch.size;
  }

  /**
   * A request forwarded to a trunk (`forwarded`: our Via on top with `branch`); `ownRecordRoutes`: the
   * Record-Route values we added. A retransmission refreshes the entry and keeps what was learnt.
   */
  remember(forwarded: SipRequest, branch: string, target: TrunkTarget, ownRecordRoutes: string[], now: number): void {
    this.sweep(now);
    const old = this.byBranch.get(branch);
    if (old && old.expiresAt > now) {
      this.byBranch.delete(branch);
      old.expiresAt = Math.max(old.expiresAt, now + this.opts.pendingTtlMs);
      this.byBranch.set(branch, old);
      return;
    }
    if (old) this.forget(old);
    const base = new SipRequest(
      forwarded.method,
      forwarded.uri,
      forwarded.headers.map((h) => ({ name: h.name, value: h.value })),
      forwarded.body,
      forwarded.uriOptions,
    );
    this.byBranch.set(branch, {
      branch,
      trunk: target.trunk,
      target,
      base,
      ownRecordRoutes,
      resent: [],
      resentBranches: [],
      realms: new Set(),
      expiresAt: now + this.opts.pendingTtlMs,
    });
    this.stats.remembered++;
    while (this.byBranch.size > this.opts.maxPendingTrunkRequests) {
      this.forget(this.byBranch.values().next().value as Pending);
      this.stats.evicted++;
    }
  }

  /** Where a CANCEL or a non-2xx ACK with this (original) branch goes: the remembered request's URI and trunk. */
  find(branch: string, now: number): { uri: SipRequest['uri']; target: TrunkTarget } | undefined {
    const p = this.live(branch, now);
    return p && { uri: p.base.uri, target: p.target };
  }

  /**
   * The phone's retransmission, CANCEL or ACK of a request whose challenge sbd answered (`forwarded`: as the
   * router would send it, our Via with the original `branch` on top): what goes to the trunk instead.
   */
  mapOutgoing(forwarded: SipRequest, branch: string, now: number): SipRequest | undefined {
    const p = this.live(branch, now);
    const current = p?.resent.at(-1);
    if (!p || !current) return undefined;
    if (forwarded.method === p.base.method) return current;
    if (p.base.method !== 'INVITE' || (forwarded.method !== 'CANCEL' && forwarded.method !== 'ACK')) return undefined;
    // §9.1: a CANCEL has the branch and CSeq number of the request it cancels; §17.1.1.3: so has a non-2xx ACK.
    const offset = p.resent.length;
    const out = new SipRequest(
      forwarded.method,
      current.uri,
      forwarded.headers.map((h) => ({ name: h.name, value: h.value })),
      forwarded.body,
      forwarded.uriOptions,
    );
    replaceFirst(out, 'via', viaWith(firstValue(out, 'via')!, p.resentBranches.at(-1)!, offset));
    replaceFirst(out, 'cseq', `${current.cseq().seq} ${forwarded.method}`);
    return out;
  }

  /** A response whose top Via is ours (not yet removed). */
  onResponse(res: SipResponse, now: number): ChallengeOutcome {
    this.sweep(now);
    const branch = res.topVia().params.get('branch') ?? '';
    const original = this.byResent.get(branch) ?? branch;
    const p = this.live(original, now);
    if (!p) return { kind: 'pass' };
    const attempt = original === branch ? 0 : p.resentBranches.indexOf(branch) + 1;
    const challenge = res.status === 401 || res.status === 407;
    if (!challenge) {
      if (p.base.method === 'INVITE' && res.status < 200) this.refresh(p, now + this.opts.proceedingTtlMs);
      else if (res.status >= 200) this.refresh(p, now + this.opts.pendingTtlMs);
      return this.pass();
    }
    const sent = attempt === 0 ? p.base : p.resent[attempt - 1]!;
    const ack = p.base.method === 'INVITE' ? [ackFor(sent, res)] : [];
    // A retransmission of a challenge already answered (our ACK was lost, or the phone's retransmission met
    // the completed transaction): ACK it again, forward nothing.
    if (attempt < p.resent.length) {
      this.stats.absorbed++;
      return { kind: 'answered', send: ack, target: p.target, trunk: p.trunk, method: p.base.method, answered: [] };
    }
    const challenges = this.readChallenges(res);
    if (attempt > 0 && !challenges.some((c) => c.stale && p.realms.has(c.realm))) return this.pass();
    if (p.resent.length >= this.opts.maxAnswersPerRequest) return this.pass();
    const answers: HeaderField[] = [];
    const answered: AnsweredChallenge[] = [];
    const seen = new Set<string>();
    for (const c of challenges) {
      const key = `${c.header}|${c.realm}`;
      if (seen.has(key)) continue; // one answer per realm: the first challenge we can answer (RFC 8760 §2.4)
      const cred = this.lookup(p.trunk, c.realm);
      if (!cred) continue;
      const value = answerChallenge({
        challenge: c.value,
        method: p.base.method,
        uri: formatUri(p.base.uri),
        username: cred.username,
        secret: { password: cred.password },
        cnonce: this.opts.random(8).toString('hex'),
        nc: 1,
      });
      seen.add(key);
      answers.push({ name: c.header, value });
      answered.push({ realm: c.realm, algorithm: c.algorithm, header: c.header });
    }
    if (answers.length === 0) return this.pass();
    const resent = this.resend(p, answers, answered);
    this.refresh(p, now + this.opts.pendingTtlMs);
    this.stats.answered++;
    return { kind: 'answered', send: [...ack, resent], target: p.target, trunk: p.trunk, method: p.base.method, answered };
  }

  private pass(): ChallengeOutcome {
    this.stats.passed++;
    return { kind: 'pass' };
  }

  private resend(p: Pending, answers: HeaderField[], answered: AnsweredChallenge[]): SipRequest {
    const offset = p.resent.length + 1;
    const branch = resentBranch(p.branch, offset);
    const realms = new Set(answered.map((a) => `${canonicalName(a.header)}|${a.realm}`));
    const headers: HeaderField[] = [];
    let viaDone = false;
    for (const h of p.base.headers) {
      const l = canonicalName(h.name);
      if (l === 'via' && !viaDone) {
        viaDone = true;
        headers.push({ name: h.name, value: viaWith(h.value, branch, offset) });
      } else if (l === 'cseq') {
        headers.push({ name: h.name, value: `${p.base.cseq().seq + offset} ${p.base.method}` });
        headers.push(...answers);
      } else if (l === 'record-route' && p.ownRecordRoutes.includes(h.value)) {
        headers.push({ name: h.name, value: h.value.replace(/>$/, `;${CSEQ_PARAM}=${offset}>`) });
      } else if ((l === 'authorization' || l === 'proxy-authorization') && realms.has(`${l}|${realmOf(h.value)}`)) {
      } else headers.push({ name: h.name, value: h.value });
    }
    const out = new SipRequest(p.base.method, p.base.uri, headers, p.base.body, p.base.uriOptions);
    p.resent.push(out);
    p.resentBranches.push(branch);
    for (const a of answered) p.realms.add(a.realm);
    this.byResent.set(branch, p.branch);
    return out;
  }

  private readChallenges(
    res: SipResponse,
  ): { header: 'Authorization' | 'Proxy-Authorization'; value: string; realm: string; algorithm: string; stale: boolean }[] {
    const out = [];
    let looked = 0;
    for (const h of res.headers) {
      const l = canonicalName(h.name);
      if (l !== 'www-authenticate' && l !== 'proxy-authenticate') continue;
      if (++looked > this.opts.maxChallengesPerResponse) break;
      try {
        const c = parseAuthHeader(h.value);
        const realm = c.params.get('realm');
        const algorithm = (c.params.get('algorithm') ?? 'MD5').toUpperCase();
        if (c.scheme.toLowerCase() !== 'digest' || realm === undefined || c.params.get('nonce') === undefined) continue;
        if (algorithm !== 'MD5' && algorithm !== 'SHA-256') continue; // RFC 8760 §2.4: skip what we cannot answer
        const qop = c.params.get('qop');
        if (
          qop !== undefined &&
          !qop
            .split(',')
            .map((q) => q.trim())
            .includes('auth')
        )
          continue; // auth-int only
        out.push({
          header: l === 'www-authenticate' ? ('Authorization' as const) : ('Proxy-Authorization' as const),
          value: h.value,
          realm,
          algorithm,
          stale: c.params.get('stale')?.toLowerCase() === 'true',
        });
      } catch {
        // a malformed challenge is not ours to answer; the phone sees it as before
      }
    }
    return out;
  }

  private live(branch: string, now: number): Pending | undefined {
    const p = this.byBranch.get(branch);
    if (!p) return undefined;
    if (p.expiresAt <= now) {
      this.forget(p);
      return undefined;
    }
    return p;
  }

  private refresh(p: Pending, until: number): void {
    p.expiresAt = until;
    this.byBranch.delete(p.branch);
    this.byBranch.set(p.branch, p);
  }

  private forget(p: Pending): void {
    this.byBranch.delete(p.branch);
    for (const b of p.resentBranches) this.byResent.delete(b);
  }

  /** Drops expired entries from the least recently refreshed end, a bounded number per call. */
  private sweep(now: number): void {
    let n = 0;
    for (const p of this.byBranch.values()) {
      if (n++ >= this.opts.sweepPerCall || p.expiresAt > now) break;
      this.forget(p);
    }
  }
}

/** §17.1.1.3: the ACK of a non-2xx final response, built by the client transaction that sent `sent`. */
export function ackFor(sent: SipRequest, res: SipResponse): SipRequest {
  const headers: HeaderField[] = [
    { name: 'Via', value: firstValue(sent, 'via')! },
    { name: 'Max-Forwards', value: sent.get('Max-Forwards') ?? '70' },
    { name: 'From', value: sent.get('From')! },
    { name: 'To', value: res.get('To')! },
    { name: 'Call-ID', value: sent.callId() },
    { name: 'CSeq', value: `${sent.cseq().seq} ACK` },
  ];
  for (const h of sent.headers) if (canonicalName(h.name) === 'route') headers.push({ name: h.name, value: h.value });
  return new SipRequest('ACK', sent.uri, headers, Buffer.alloc(0), sent.uriOptions);
}

function viaWith(via: string, branch: string, offset: number): string {
  const withoutOurs = via.replace(new RegExp(`;\\s*${CSEQ_PARAM}=[^;,\\s]*`, 'i'), '');
  return `${withoutOurs.replace(/;\s*branch=[^;,\s]*/i, `;branch=${branch}`)};${CSEQ_PARAM}=${offset}`;
}

function realmOf(value: string): string | undefined {
  try {
    return parseAuthHeader(value).params.get('realm');
  } catch {
    return undefined;
  }
}

/** The first value of a header: its first field, up to a top-level comma (our own Via is a field of its own). */
function firstValue(m: SipRequest, lname: string): string | undefined {
  return m.getAll(lname)[0];
}
