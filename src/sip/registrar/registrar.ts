/**
 * The registrar (RFC 3261 §10.3), sans-I/O: a REGISTER and where it came from in, the response out. The
 * location service is a `BindingTable`; credentials and AOR owners come from a `Directory` (the store).
 * In the order of §10.3: the AOR, the source's failure count (`DigestGate`), TLS with the device's LSC when its
 * security profile says so, digest (one 401 for every wrong answer: no oracle), then the Contacts (bounded
 * before parsing, expiries clamped, 423), the ITL report, and 200 with every binding. Autoregistration adds
 * an unknown phone registering under its device name when the AutoRegistration parameter is on.
 * Theory of operation, step by step: docs/sip-theory.md "Registrar".
 */
import type { DigestAlgorithm, DigestServer } from '../core/auth/digest.js';
import { canonicalName } from '../core/messages/header-names.js';
import type { SipRequest, SipResponse } from '../core/messages/message.js';
import { parseAuthHeader } from '../core/auth/digest.js';
import { formatUri, isSipUri, parseUri, uriEquals, type Uri } from '../core/messages/uri.js';
import type { HeaderField } from '../core/messages/message.js';
import type { MessageSource } from '../transports/types.js';
import { DigestGate, type DigestGateOptions } from '../auth/digest-gate.js';
import { AutoregLimiter, type AutoregLimiterOptions } from '../auth/autoreg-limiter.js';
import { makeResponse } from '../core/messages/make-response.js';
import { BindingTable, type Binding } from './bindings.js';
import type { Directory } from './directory.js';

/**
 * The ITL report header a registering phone adds (defined by sbd; docs/sip-app.md):
 *   X-SBD-ITL-Hash: <64 hex digits: SHA-256 of the ITL file the phone holds> [;status=not-installed]
 * `status=not-installed` means the phone could not install a new server's ITL and bounced back.
 */
export const ITL_REPORT_HEADER = 'X-SBD-ITL-Hash';

export interface RegistrarOptions {
  /** Shortest registration accepted (seconds); default 60. Shorter → 423 Interval Too Brief. */
  minExpires?: number;
  /** Longest registration granted (seconds); longer requests are cut to it. Default 3600. */
  maxExpires?: number;
  /** Expiry when the REGISTER names none; default 3600. */
  defaultExpires?: number;
  /** Failure counting per source and per credential (src/sip/auth/digest-gate.ts). */
  gate?: DigestGateOptions;
  /** Rate limit on devices added by autoregistration (src/sip/auth/autoreg-limiter.ts). */
  autoregLimit?: AutoregLimiterOptions;
}

export const registrarDefaults = { minExpires: 60, maxExpires: 3600, defaultExpires: 3600 } as const;

export interface RegisterOutcome {
  response: SipResponse;
  /** For logs: what happened, with a stable word. */
  result: 'registered' | 'unregistered' | 'queried' | 'challenged' | 'stale' | 'refused' | 'rejected';
  user?: string;
}

export class Registrar {
  readonly bindings: BindingTable;
  readonly gate: DigestGate;
  readonly autoregLimiter: AutoregLimiter;
  private readonly digest: DigestServer;
  private readonly directory: Directory;
  private readonly opts: { minExpires: number; maxExpires: number; defaultExpires: number };

  constructor(deps: { digest: DigestServer; directory: Directory; bindings?: BindingTable }, options: RegistrarOptions = {}) {
    this.digest = deps.digest;
    this.directory = deps.directory;
    this.bindings = deps.bindings ?? new BindingTable();
    this.gate = new DigestGate(
      {
        digest: this.digest,
        lookupHa1: (u, r, a) => this.directory.lookupHa1(u, r, a),
        lockout: () => this.directory.lockoutPolicy(),
        accountLocked: (u, now) => this.directory.accountLocked(u, now),
      },
      options.gate,
    );
    this.autoregLimiter = new AutoregLimiter(options.autoregLimit);
    this.opts = { ...registrarDefaults, ...options };
  }

  handleRegister(req: SipRequest, source: MessageSource, now: number): RegisterOutcome {
    const to = req.to().uri;
    if (!isSipUri(to) || to.user === undefined || to.user === '') {
      return { response: makeResponse(req, 404, 'Not Found (To is not a SIP URI with a user part)'), result: 'rejected' };
    }
    let user = to.user;
    if (this.gate.sourceBlocked(source, now)) return this.blocked(req, user);
    let owner = this.directory.resolveAor(user);
    let associated: HeaderField[] = [];
    let autoRegistered = false;
    if (owner === undefined && DEVICE_NAME.test(user)) {
      const d = this.directory.deviceByName(user, modelFromUserAgent(req.get('User-Agent')), () =>
        this.autoregLimiter.tryCreate(source.address, now),
      );
      if (d.kind === 'refused' && d.status === 503) {
        const retry: HeaderField[] = d.retryAfterSeconds === undefined ? [] : [{ name: 'Retry-After', value: String(d.retryAfterSeconds) }];
        return { response: makeResponse(req, 503, d.reason, retry), result: 'refused', user };
      }
      if (d.kind === 'device') {
        owner = d.owner;
        user = d.directoryNumber;
        autoRegistered = d.autoRegistered;
        associated = [{ name: 'P-Associated-URI', value: `<sip:${d.directoryNumber}@${to.host}>` }];
      }
      // Otherwise (autoregistration off, no model) it stays an unknown AOR: challenged like any other (not revealed).
    }
    let authenticated = autoRegistered;
    if (!autoRegistered && owner?.kind === 'device' && owner.mutualTls) {
      const fp = source.peerCertificate?.fingerprint256;
      if (source.transport !== 'tls' || fp === undefined || owner.lscFingerprint256 === null || fp !== owner.lscFingerprint256) {
        return {
          response: makeResponse(req, 403, 'Forbidden (device security profile requires TLS with the device LSC)'),
          result: 'refused',
          user,
        };
      }
      authenticated = !owner.digestRequired;
    }
    if (!authenticated) {
      // Only the device created by this very request is exempt (autoregistration, DESIGN §2); a known device
      // registering under its name authenticates like on its number.
      const algorithms = owner?.kind === 'device' ? owner.digestAlgorithms : this.directory.defaultDigestAlgorithms();
      const allowed = owner === undefined ? undefined : owner.kind === 'device' ? owner.digestUser : owner.userid;
      const g = this.gate.check({
        header: this.authorizationFor(req),
        method: req.method,
        requestUri: formatUri(req.uri),
        source,
        now,
        algorithms,
        nonceLifetime: owner?.kind === 'device' ? owner.nonceValiditySeconds : this.directory.defaultNonceValiditySeconds(),
        owns: (u) => allowed !== undefined && allowed !== null && u === allowed,
      });
      if (!g.ok)
        return g.answer === 'blocked' ? this.blocked(req, user) : this.challenge(req, source, now, g.answer === 'stale', user, algorithms);
    }
    return this.updateBindings(req, source, now, user, owner?.kind === 'device' ? owner.device : undefined, associated, !autoRegistered);
  }

  private blocked(req: SipRequest, user: string): RegisterOutcome {
    return { response: makeResponse(req, 403, 'Forbidden (too many failed authentication attempts)'), result: 'refused', user };
  }

  /** The Authorization header for our realm (a request may carry one per realm, RFC 3261 §22.4). */
  private authorizationFor(req: SipRequest): string | undefined {
    const realm = this.digest.realm;
    const all: string[] = [];
    for (const h of req.headers) if (canonicalName(h.name) === 'authorization') all.push(h.value);
    if (all.length <= 1) return all[0]; // the usual case: verify() reads it once
    for (const v of all.slice(0, MAX_AUTHORIZATION_HEADERS)) {
      try {
        if (parseAuthHeader(v).params.get('realm') === realm) return v;
      } catch {
        /* a malformed header is skipped; the first one is judged by verify() when none is ours */
      }
    }
    return all[0];
  }

  private challenge(
    req: SipRequest,
    source: MessageSource,
    now: number,
    stale: boolean,
    user: string,
    algorithms: readonly DigestAlgorithm[],
  ): RegisterOutcome {
    const extra: HeaderField[] = this.gate.challenges(now, stale, algorithms, source).map((value) => ({ name: 'WWW-Authenticate', value }));
    return { response: makeResponse(req, 401, 'Unauthorized', extra), result: stale ? 'stale' : 'challenged', user };
  }

  /** `authenticated`: false only for the REGISTER that autoregistration just created a device for (no ITL report). */
  private updateBindings(
    req: SipRequest,
    source: MessageSource,
    now: number,
    aor: string,
    device: string | undefined,
    associated: HeaderField[],
    authenticated: boolean,
  ): RegisterOutcome {
    const callId = req.callId();
    const cseq = req.cseq().seq;
    const current = this.bindings.lookup(aor, now);
    let next = current.slice();
    let result: RegisterOutcome['result'] = 'queried';
    if (req.has('Contact')) {
      const contacts = req.contacts();
      const headerExpires = req.expires();
      if (contacts.star) {
        if (headerExpires !== 0)
          return { response: makeResponse(req, 400, 'Bad Request (Contact: * needs Expires: 0)'), result: 'rejected', user: aor };
        if (current.some((b) => b.callId === callId && cseq <= b.cseq)) return this.outOfOrder(req, aor);
        next = [];
        result = 'unregistered';
      } else {
        // Row 5 of issue 16: the count first, so a REGISTER with thousands of contacts costs nothing more.
        if (contacts.list.length > this.bindings.maxBindingsPerAor) return this.tooManyContacts(req, aor);
        result = 'registered';
        // Each stored contact parsed once; each new one compared with at most maxBindingsPerAor others.
        const uris = next.map((b) => parseStored(b.contact));
        for (const c of contacts.list) {
          const p = c.params.get('expires');
          let expires: number;
          if (p !== undefined && p !== null) {
            if (!/^[0-9]{1,10}$/.test(p))
              return { response: makeResponse(req, 400, 'Bad Request (Contact expires is not a number)'), result: 'rejected', user: aor };
            expires = Number(p);
          } else expires = headerExpires ?? this.opts.defaultExpires;
          if (expires !== 0 && expires < this.opts.minExpires) {
            return {
              response: makeResponse(req, 423, 'Interval Too Brief', [{ name: 'Min-Expires', value: String(this.opts.minExpires) }]),
              result: 'rejected',
              user: aor,
            };
          }
          expires = Math.min(expires, this.opts.maxExpires);
          const idx = uris.findIndex((u) => u !== undefined && uriEquals(u, c.uri));
          if (idx >= 0) {
            const old = next[idx]!;
            if (old.callId === callId && cseq <= old.cseq) return this.outOfOrder(req, aor);
            next.splice(idx, 1);
            uris.splice(idx, 1);
          }
          if (expires === 0) continue;
          const q = qValue(c.params.get('q'));
          const instance = c.params.get('+sip.instance');
          next.push({
            contact: formatUri(c.uri),
            q,
            expiresAt: now + expires * 1000,
            callId,
            cseq,
            source,
            ...(device ? { device } : {}),
            ...(instance ? { instance } : {}),
          });
          uris.push(c.uri);
        }
        if (next.length === 0) result = 'unregistered';
        if (next.length > this.bindings.maxBindingsPerAor) return this.tooManyContacts(req, aor);
        if (!this.bindings.hasRoomFor(aor))
          return { response: makeResponse(req, 503, 'Service Unavailable (registrar full)'), result: 'refused', user: aor };
      }
      this.bindings.store(aor, next);
    }
    if (device) {
      if (result === 'registered' && authenticated) this.itlReport(req, device, now);
      else if (result === 'unregistered' && current.length > 0) this.directory.clearItlReport(device);
    }
    const extra: HeaderField[] = next.map((b) => ({
      name: 'Contact',
      value: `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`,
    }));
    extra.push(...associated, { name: 'Date', value: new Date(now).toUTCString() });
    return { response: makeResponse(req, 200, 'OK', extra), result, user: aor };
  }

  private tooManyContacts(req: SipRequest, aor: string): RegisterOutcome {
    return {
      response: makeResponse(req, 403, `Forbidden (more than ${this.bindings.maxBindingsPerAor} contacts)`),
      result: 'refused',
      user: aor,
    };
  }

  private outOfOrder(req: SipRequest, aor: string): RegisterOutcome {
    return { response: makeResponse(req, 400, 'Bad Request (CSeq out of order for this Call-ID)'), result: 'rejected', user: aor };
  }

  private itlReport(req: SipRequest, device: string, now: number): void {
    const v = req.get(ITL_REPORT_HEADER);
    if (v === undefined) return;
    const m = /^\s*([0-9a-fA-F]{64})\s*(?:;\s*status\s*=\s*(installed|not-installed)\s*)?$/.exec(v);
    if (!m) return; // a malformed report is ignored; the registration itself stands
    this.directory.recordItlReport(device, m[1]!.toLowerCase(), m[2] ?? 'installed', now);
  }

  /** Expiry sweep; call every few seconds. Devices that lost their last binding lose their ITL report. */
  sweep(now: number): number {
    const emptied = this.bindings.sweep(now);
    for (const e of emptied) if (e.device) this.directory.clearItlReport(e.device);
    return emptied.length;
  }
}

const DEVICE_NAME = /^SEP[0-9A-F]{12}$/i;
/** Authorization headers searched for our realm (RFC 3261 §22.4 allows one per realm); more are not read. */
const MAX_AUTHORIZATION_HEADERS = 4;

/** The model a Cisco phone names in its User-Agent ("Cisco-CP8845/14.2.1" → "8845"), if it does. */
export function modelFromUserAgent(ua: string | undefined): string | undefined {
  const m = ua === undefined ? null : /^\s*Cisco-CP-?([0-9A-Za-z]{3,8})\//.exec(ua);
  return m ? m[1]!.toUpperCase() : undefined;
}

/** A stored contact (we formatted it) parsed back for comparison; undefined if it no longer parses. */
function parseStored(stored: string): Uri | undefined {
  try {
    return parseUri(stored);
  } catch {
    return undefined;
  }
}

function qValue(v: string | null | undefined): number {
  if (v === undefined || v === null || !/^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/.test(v)) return 1000;
  return Math.round(Number(v) * 1000);
}

export type { Binding };
