/**
 * The registrar (RFC 3261 §10.3), sans-I/O: a REGISTER and where it came from in, the response out. The
 * location service is a `BindingTable`; credentials and AOR owners come from a `Directory` (the store).
 *
 * Theory of operation, in the order of §10.3:
 *  1. the To URI must be a SIP/SIPS URI with a user part (the AOR); its user is a device's directory number
 *     or a line user's userid (anything else is 404 after authentication, so unknown AORs are not revealed);
 *  2. a source that failed too often is refused (403) before any credential check (`AttemptLimiter`);
 *  3. a device whose security profile is authenticated/encrypted must come over TLS presenting its own LSC
 *     (the transport checked the chain to CAPF; here the fingerprint must equal the device's LSC), else 403;
 *  4. digest (RFC 2617 MD5 / RFC 7616 SHA-256, qop=auth, `DigestServer`): no or wrong credentials → 401 with a
 *     fresh challenge per algorithm; an expired nonce with the right digest → 401 stale=true; the
 *     authenticated username must own the AOR (the device's digest user, or the line user itself), else 403;
 *  5. Contact: none → the current bindings (a query); `*` with Expires: 0 → remove all; each contact's expiry is
 *     its `expires` parameter, else the Expires header, else `defaultExpires`, then bounded: 0 removes, below
 *     `minExpires` → 423 with Min-Expires, above `maxExpires` → `maxExpires`; same Call-ID with a CSeq not
 *     higher than the binding's → 400 (out of order, §10.3 step 7);
 *  6. the ITL report: a phone states the hash of the ITL it holds in an `X-SBD-ITL-Hash` header (see
 *     ITL_REPORT_HEADER); the last binding of a device going away (unregister) deletes its report;
 *  7. 200 OK lists every current binding with its remaining expiry (§10.3 step 8).
 *
 * Autoregistration (DESIGN §2, src/cluster/autoreg.ts): a phone registering under its device name
 * (`To: <sip:SEP001122334455@…>`, model from `User-Agent: Cisco-CP8845/…`) that the store does not know is added
 * when the AutoRegistration parameter is on, with the next free number of AutoRegistrationDnRange; its binding is
 * stored under that number and the 200 names it in P-Associated-URI (RFC 3455 §4.1), the number the phone then
 * registers with after its config download. A known device may register under its name the same way.
 */
import type { DigestServer } from '../core/digest.js';
import { canonicalName } from '../core/header-names.js';
import type { SipRequest, SipResponse } from '../core/message.js';
import { parseAuthHeader } from '../core/digest.js';
import { formatUri, isSipUri, parseUri, uriEquals, type Uri } from '../core/uri.js';
import type { HeaderField } from '../core/message.js';
import type { MessageSource } from '../transports/types.js';
import { AttemptLimiter, type AttemptLimiterOptions } from '../auth/attempt-limiter.js';
import { AutoregLimiter, type AutoregLimiterOptions } from '../auth/autoreg-limiter.js';
import { makeResponse } from '../routing/make-response.js';
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
  limiter?: AttemptLimiterOptions;
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
  readonly limiter: AttemptLimiter;
  readonly autoregLimiter: AutoregLimiter;
  private readonly digest: DigestServer;
  private readonly directory: Directory;
  private readonly o: { minExpires: number; maxExpires: number; defaultExpires: number };

  constructor(deps: { digest: DigestServer; directory: Directory; bindings?: BindingTable }, options: RegistrarOptions = {}) {
    this.digest = deps.digest;
    this.directory = deps.directory;
    this.bindings = deps.bindings ?? new BindingTable();
    this.limiter = new AttemptLimiter(options.limiter);
    this.autoregLimiter = new AutoregLimiter(options.autoregLimit);
    this.o = { ...registrarDefaults, ...options };
  }

  handleRegister(req: SipRequest, source: MessageSource, now: number): RegisterOutcome {
    const to = req.to().uri;
    if (!isSipUri(to) || to.user === undefined || to.user === '') {
      return { response: makeResponse(req, 404, 'Not Found (To is not a SIP URI with a user part)'), result: 'rejected' };
    }
    let user = to.user;
    const limiterKey = `${source.address}|${user}`;
    if (this.limiter.isBlocked(limiterKey, now)) {
      return { response: makeResponse(req, 403, 'Forbidden (too many failed authentication attempts)'), result: 'refused', user };
    }
    let owner = this.directory.resolveAor(user);
    let associated: HeaderField[] = [];
    if (owner === undefined && DEVICE_NAME.test(user)) {
      const d = this.directory.deviceByName(user, modelFromUserAgent(req.get('User-Agent')), () => this.autoregLimiter.tryCreate(source.address, now));
      if (d.kind === 'refused' && d.status === 503) {
        const retry: HeaderField[] = d.retryAfterSeconds === undefined ? [] : [{ name: 'Retry-After', value: String(d.retryAfterSeconds) }];
        return { response: makeResponse(req, 503, d.reason, retry), result: 'refused', user };
      }
      if (d.kind === 'device') {
        owner = d.owner;
        user = d.directoryNumber;
        associated = [{ name: 'P-Associated-URI', value: `<sip:${d.directoryNumber}@${to.host}>` }];
      }
      // Otherwise (autoregistration off, no model) it stays an unknown AOR: challenged, then 404 (not revealed).
    }
    if (owner?.kind === 'device' && owner.mutualTls) {
      const fp = source.peerCertificate?.fingerprint256;
      if (source.transport !== 'tls' || fp === undefined || owner.lscFingerprint256 === null || fp !== owner.lscFingerprint256) {
        return { response: makeResponse(req, 403, 'Forbidden (device security profile requires TLS with the device LSC)'), result: 'refused', user };
      }
    }
    if (owner?.kind !== 'device' || owner.digestRequired) {
      const header = this.authorizationFor(req);
      if (header === undefined) return this.challenge(req, now, false, user);
      const v = this.digest.verify({
        header, method: req.method, requestUri: formatUri(req.uri), now,
        lookupHa1: (u, r, a) => this.directory.lookupHa1(u, r, a),
      });
      if (!v.ok) {
        if (v.stale) return this.challenge(req, now, true, user);
        if (v.reason !== 'replay' && v.reason !== 'bad-nonce') this.limiter.recordFailure(limiterKey, now);
        return this.challenge(req, now, false, user);
      }
      const allowed = owner === undefined ? undefined : owner.kind === 'device' ? owner.digestUser : owner.userid;
      if (owner === undefined) return { response: makeResponse(req, 404, 'Not Found'), result: 'rejected', user };
      if (v.username !== allowed) {
        this.limiter.recordFailure(limiterKey, now);
        return { response: makeResponse(req, 403, `Forbidden (${v.username} may not register ${user})`), result: 'refused', user };
      }
      this.limiter.recordSuccess(limiterKey);
    }
    return this.updateBindings(req, source, now, user, owner?.kind === 'device' ? owner.device : undefined, associated);
  }

  /** The Authorization header for our realm (a request may carry one per realm, RFC 3261 §22.4). */
  private authorizationFor(req: SipRequest): string | undefined {
    const realm = this.digest.realm;
    let first: string | undefined;
    for (const h of req.headers) {
      if (canonicalName(h.name) !== 'authorization') continue;
      first ??= h.value;
      try {
        if (parseAuthHeader(h.value).params.get('realm') === realm) return h.value;
      } catch {
        /* a malformed header is judged by verify() below if it is the only one */
      }
    }
    return first;
  }

  private challenge(req: SipRequest, now: number, stale: boolean, user: string): RegisterOutcome {
    const extra: HeaderField[] = this.digest.challenges(now, stale).map((value) => ({ name: 'WWW-Authenticate', value }));
    return { response: makeResponse(req, 401, 'Unauthorized', extra), result: stale ? 'stale' : 'challenged', user };
  }

  private updateBindings(req: SipRequest, source: MessageSource, now: number, aor: string, device: string | undefined, associated: HeaderField[]): RegisterOutcome {
    const callId = req.callId();
    const cseq = req.cseq().seq;
    const current = this.bindings.lookup(aor, now);
    let next = current.slice();
    let result: RegisterOutcome['result'] = 'queried';
    if (req.has('Contact')) {
      const contacts = req.contacts();
      const headerExpires = req.expires();
      if (contacts.star) {
        if (headerExpires !== 0) return { response: makeResponse(req, 400, 'Bad Request (Contact: * needs Expires: 0)'), result: 'rejected', user: aor };
        if (current.some((b) => b.callId === callId && cseq <= b.cseq)) return this.outOfOrder(req, aor);
        next = [];
        result = 'unregistered';
      } else {
        result = 'registered';
        for (const c of contacts.list) {
          const p = c.params.get('expires');
          let expires: number;
          if (p !== undefined && p !== null) {
            if (!/^[0-9]{1,10}$/.test(p)) return { response: makeResponse(req, 400, 'Bad Request (Contact expires is not a number)'), result: 'rejected', user: aor };
            expires = Number(p);
          } else expires = headerExpires ?? this.o.defaultExpires;
          if (expires !== 0 && expires < this.o.minExpires) {
            return { response: makeResponse(req, 423, 'Interval Too Brief', [{ name: 'Min-Expires', value: String(this.o.minExpires) }]), result: 'rejected', user: aor };
          }
          expires = Math.min(expires, this.o.maxExpires);
          const idx = next.findIndex((b) => sameContact(b.contact, c.uri));
          if (idx >= 0) {
            const old = next[idx]!;
            if (old.callId === callId && cseq <= old.cseq) return this.outOfOrder(req, aor);
            next.splice(idx, 1);
          }
          if (expires === 0) continue;
          const q = qValue(c.params.get('q'));
          const instance = c.params.get('+sip.instance');
          next.push({
            contact: formatUri(c.uri), q, expiresAt: now + expires * 1000, callId, cseq, source,
            ...(device ? { device } : {}), ...(instance ? { instance } : {}),
          });
        }
        if (next.length === 0) result = 'unregistered';
        if (next.length > this.bindings.maxBindingsPerAor) {
          return { response: makeResponse(req, 403, `Forbidden (more than ${this.bindings.maxBindingsPerAor} contacts)`), result: 'refused', user: aor };
        }
        if (!this.bindings.hasRoomFor(aor)) return { response: makeResponse(req, 503, 'Service Unavailable (registrar full)'), result: 'refused', user: aor };
      }
      this.bindings.store(aor, next);
    }
    if (device) {
      if (result === 'registered') this.itlReport(req, device, now);
      else if (result === 'unregistered' && current.length > 0) this.directory.clearItlReport(device);
    }
    const extra: HeaderField[] = next.map((b) => ({ name: 'Contact', value: `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}` }));
    extra.push(...associated, { name: 'Date', value: new Date(now).toUTCString() });
    return { response: makeResponse(req, 200, 'OK', extra), result, user: aor };
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

/** The model a Cisco phone names in its User-Agent ("Cisco-CP8845/14.2.1" → "8845"), if it does. */
export function modelFromUserAgent(ua: string | undefined): string | undefined {
  const m = ua === undefined ? null : /^\s*Cisco-CP-?([0-9A-Za-z]{3,8})\//.exec(ua);
  return m ? m[1]!.toUpperCase() : undefined;
}

function sameContact(stored: string, uri: Uri): boolean {
  try {
    return uriEquals(parseUri(stored), uri);
  } catch {
    return false;
  }
}

function qValue(v: string | null | undefined): number {
  if (v === undefined || v === null || !/^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/.test(v)) return 1000;
  return Math.round(Number(v) * 1000);
}

export type { Binding };
