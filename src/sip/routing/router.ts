/**
 * Call routing as a stateless proxy with Record-Route (RFC 3261 §16.11, §16.6 step 4), sans-I/O: a request or
 * response and where it came from in, actions out (answer it, forward it to a target, drop it). Stateless, not a
 * B2BUA: SRTP keys go phone to phone, CANCEL/ACK/BYE need no per-call state (a forwarded branch is a hash of the
 * received one) and a restart loses no call. A request: Max-Forwards and our Routes (MAC-checked), the source
 * (trunk or phone, digest), the target (dialog, registered AOR by calling search space, trunk by route pattern),
 * the SRTP policy on the SDP, then forward; a response is relayed only when its top branch is our MAC.
 * Theory of operation, step by step: docs/sip-theory.md "Router".
 */
import { randomBytes } from 'node:crypto';
import type { DigestAlgorithm, DigestServer } from '../core/auth/digest.js';
import type { HeaderField, SipMessage, SipRequest, SipResponse } from '../core/messages/message.js';
import type { Via } from '../core/messages/via.js';
import { formatUri, isSipUri, parseUri, type SipUri } from '../core/messages/uri.js';
import type { MessageSource, TransportKind } from '../transports/types.js';
import { authorizeKinds, cssReaches, patternMatches, requestKinds } from '../auth/request-acl.js';
import type { Registrar } from '../registrar/registrar.js';
import type { Directory } from '../registrar/directory.js';
import type { TrunkRow } from '../../store/index.js';
import { makeResponse } from '../core/messages/make-response.js';
import { removeFirstValue, replaceFirst } from './header-edit.js';
import { cancelProvisional, refusalOf, refuseUnencryptedAnswer } from './refuse-answer.js';
import type { RoutingDirectory } from './routing-directory.js';
import { BRANCH_PREFIX, branchOf, resentBranch } from './branch.js';
import { RouteMac, ROUTE_MAC_PARAM } from './route-mac.js';
import { ForwardedInvites, type ForwardedInviteOptions } from './forwarded-invites.js';
import { trunkPeerByIssuer } from './trunk-peer.js';
import { contactPeer, peerOf, rebindRecordRoutes, recordRouteValue } from './record-route.js';
import { requestSdp, responseSdp } from './sdp-legs.js';
import { answerAlarmRefer, isAlarmRefer } from '../alarm/refer.js';
import {
  CSEQ_PARAM,
  TrunkChallenges,
  trunkChallengeDefaults,
  type TrunkChallengeOptions,
  type TrunkCredentialLookup,
  type TrunkTarget,
} from './trunk-challenge.js';

export type Target =
  | { kind: 'flow'; source: MessageSource }
  /** `trunk`: the trunk this address is (requests to it are remembered for its challenges). */
  | { kind: 'address'; transport: TransportKind; host: string; port: number; trunk?: string };

export type RouterAction =
  | { type: 'respond'; response: SipResponse }
  | { type: 'forward'; message: SipMessage; target: Target }
  | { type: 'drop'; reason: string }
  /** Several sends, in order (refusing an unencrypted answer: ACK and BYE to the callee, 488 to the caller). */
  | { type: 'several'; actions: RouterAction[] }
  /** One log line (an answered trunk challenge: trunk, realm, method; never a password). */
  | { type: 'log'; event: string; fields: Record<string, string | number> };

type AddressTarget = Extract<Target, { kind: 'address' }>;

export interface Listener {
  transport: TransportKind;
  /** Address written into Via and Record-Route (never 0.0.0.0). */
  host: string;
  port: number;
}

export interface RouterOptions {
  /** Max-Forwards given to requests that carry none; default 70 (§8.1.1.6). */
  defaultMaxForwards?: number;
  /** Presence subscription between groups with no explicit policy; default true (CUCM: "Allow Subscription"). */
  defaultPresenceAllowed?: boolean;
  /** Bounds of the trunk-challenge table (trunk-challenge.ts: maxPendingTrunkRequests 10000, TTL 32 s, …). */
  trunkChallenge?: TrunkChallengeOptions;
  /** Bounds of the table of forwarded INVITEs that CANCEL and non-2xx ACK follow (forwarded-invites.ts: 20000, 32 s / 3 min). */
  forwardedInvites?: ForwardedInviteOptions;
}

/** Largest CSeq offset read back from a Route or Via `sbd-cseq` parameter (we write 1 or 2). */
const MAX_CSEQ_OFFSET = 16;

export interface RouterDeps {
  registrar: Registrar;
  directory: Directory;
  routing: RoutingDirectory;
  digest: DigestServer;
  /** Decrypted outgoing credentials per trunk and realm; without it trunk challenges go to the phone. */
  trunkCredentials?: TrunkCredentialLookup;
  /**
   * Key of the MACs in our branches and Record-Route entries (route-mac.ts; the daemon reads
   * `<state>/keys/sip-route.key`, route-key.ts); default 32 random bytes per router (dialogs then end with it).
   */
  routeKey?: Buffer;
  /**
   * Whether a TLS peer is the TLS trunk `trunk` (its certificate chains to the trunk's CA); default: the
   * certificate the transport verified was issued by a certificate of the trunk's CA bundle (trunk-peer.ts).
   */
  trunkPeerVerified?: (trunk: TrunkRow, source: MessageSource) => boolean;
}

interface Caller {
  css: string | null;
  presenceGroup: string | null;
}

export class Router {
  private readonly listeners: Listener[];
  private readonly opts: Required<Omit<RouterOptions, 'trunkChallenge' | 'forwardedInvites'>>;
  private readonly deps: RouterDeps;
  /** Requests forwarded to trunks, for answering their 401/407 (undefined without trunk credentials). */
  readonly trunkChallenges: TrunkChallenges | undefined;
  /** INVITEs forwarded, by our branch: where their CANCEL and non-2xx ACK go. */
  readonly invites: ForwardedInvites<Target>;
  private readonly mac: RouteMac;
  /** Re-sent copies of one request a response's branch may name (trunk-challenge.ts maxAnswersPerRequest). */
  private readonly maxResent: number;

  constructor(deps: RouterDeps, listeners: Listener[], options: RouterOptions = {}) {
    this.deps = deps;
    this.listeners = listeners;
    const { trunkChallenge, forwardedInvites, ...rest } = options;
    this.opts = { defaultMaxForwards: 70, defaultPresenceAllowed: true, ...rest };
    this.trunkChallenges = deps.trunkCredentials ? new TrunkChallenges(deps.trunkCredentials, trunkChallenge) : undefined;
    this.invites = new ForwardedInvites<Target>(forwardedInvites);
    this.mac = new RouteMac(deps.routeKey ?? randomBytes(32));
    this.maxResent = trunkChallenge?.maxAnswersPerRequest ?? trunkChallengeDefaults.maxAnswersPerRequest;
  }

  handleRequest(req: SipRequest, source: MessageSource, now: number): RouterAction {
    const mf = req.maxForwards() ?? this.opts.defaultMaxForwards;
    if (mf === 0) return req.method === 'ACK' ? { type: 'drop', reason: 'Max-Forwards 0' } : this.respond(req, 483, 'Too Many Hops');
    const own = this.popOwnRoutes(req);
    const tagged = req.to().params.get('tag') !== undefined;
    // A dialog is one whose Route sbd Record-Routed and can verify (route-mac.ts); a To tag alone is the
    // sender's word. ACK and CANCEL outside a verified dialog follow an INVITE sbd forwarded, or go nowhere.
    const dialog = tagged && own.verified;
    const followsInvite = req.method === 'CANCEL' || (req.method === 'ACK' && !dialog);
    if (own.forged) return this.respond(req, 403, 'Forbidden (Route not recorded by this server)');
    if (tagged && !dialog && !followsInvite) return this.respond(req, 481, 'Call/Transaction Does Not Exist');
    const stateless = dialog || followsInvite;
    // A request for the server itself (OPTIONS keep-alive pings from phones and trunks): answered here.
    if (
      !stateless &&
      req.route().length === 0 &&
      isSipUri(req.uri) &&
      req.uri.user === undefined &&
      (this.isUs(req.uri) || isAlarmRefer(req))
    ) {
      // An alarm is for its call control under whatever name the phone's config gave it: answered here, never relayed.
      if (isAlarmRefer(req)) return this.alarmRefer(req, source, now);
      return req.method === 'OPTIONS'
        ? this.respond(req, 200, 'OK', [{ name: 'Allow', value: 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, REFER' }])
        : this.respond(req, 404, 'Not Found');
    }
    let caller: Caller = { css: null, presenceGroup: null };
    const trunk = this.trunkOf(source);
    if (trunk) {
      if (trunk.digestAuth && !stateless) {
        const denied = this.checkDigest(req, now, trunk.challengeStatus, (u) => u === trunk.digestUser);
        if (denied) return denied;
      }
      const d = authorizeKinds(
        requestKinds(req, dialog),
        trunk.acl,
        trunk.appLevelAuthorization && trunk.digestUser ? this.deps.routing.appUserAcl(trunk.digestUser) : undefined,
      );
      if (!d.ok)
        return this.respond(
          req,
          403,
          `Forbidden (${d.kind} not allowed ${d.by === 'trunk' ? `on trunk ${trunk.name}` : `for application user ${trunk.digestUser}`})`,
        );
      caller = { css: trunk.css, presenceGroup: null };
    } else if (!stateless) {
      const r = this.identifyPhone(req, source, now);
      if ('type' in r) return r;
      caller = r;
    }
    // The phone's side of a dialog whose INVITE sbd re-sent with credentials: the trunk's CSeq numbers are
    // `offset` higher (our Record-Route carried it back in the Route); requests from the trunk keep theirs.
    let offset = 0;
    if (dialog && own.cseqOffset > 0 && !trunk) {
      const c = req.cseq();
      if (c.seq + own.cseqOffset > 2 ** 31 - 1) return this.respond(req, 400, 'Bad Request (CSeq too large)');
      replaceFirst(req, 'cseq', `${c.seq + own.cseqOffset} ${c.method}`);
      offset = own.cseqOffset;
    }
    let target: Target | RouterAction;
    if (followsInvite) {
      const branch = branchOf(req, this.mac);
      const known = this.trunkChallenges?.find(branch, now) ?? this.invites.find(branch, now);
      if (!known)
        return req.method === 'CANCEL'
          ? this.respond(req, 481, 'Call/Transaction Does Not Exist')
          : { type: 'drop', reason: 'ACK for no INVITE sbd forwarded' };
      req.uri = known.uri;
      target = known.target;
    } else if (dialog) {
      target = this.dialogTarget(req, now);
    } else {
      target = req.route().length > 0 ? this.knownHop(req, this.routeTarget(req)) : this.newRequestTarget(req, caller, now);
    }
    if ('type' in target) return target;
    const refused = requestSdp(
      req,
      source.transport,
      target.kind === 'flow' ? target.source.transport : target.transport,
      this.deps.routing.cryptoPolicy(),
      () => this.profileRequiresTls(req),
    );
    if (refused !== undefined) return this.respond(req, 488, refused);
    return this.forward(req, source, target, mf - 1, !tagged && ['INVITE', 'SUBSCRIBE', 'REFER'].includes(req.method), offset, now);
  }

  /**
   * `source`: the flow the response came over (where the callee is, for an answer that must be refused).
   * `now`: for the tables' TTLs.
   */
  handleResponse(res: SipResponse, source?: MessageSource, now: number = Date.now()): RouterAction {
    const vias = res.via();
    const top = vias[0];
    if (
      !top ||
      !(top.params.get('branch') ?? '').startsWith(BRANCH_PREFIX) ||
      !this.listeners.some((l) => sameHost(l.host, top.host) && l.port === top.port)
    ) {
      return { type: 'drop', reason: 'response whose top Via is not ours' };
    }
    if (vias.length < 2) return { type: 'drop', reason: 'response with no Via left after ours' };
    // Relayed only when our branch is the MAC of the Via below it (route-mac.ts): the response then goes back
    // to where its request came from, at the received/rport sbd stamped, and nowhere a forger names.
    const original = this.ownBranch(top.params.get('branch') ?? '', vias[1]!, res);
    if (original === undefined) return { type: 'drop', reason: 'response whose top Via branch sbd did not mint' };
    if (res.cseq().method === 'INVITE') this.invites.onResponse(original, res.status, now);
    const outcome = this.trunkChallenges?.onResponse(res, now);
    if (outcome?.kind === 'answered') {
      if (outcome.send.length === 0) return { type: 'drop', reason: 'retransmitted trunk challenge, already answered' };
      const target: Target = outcome.target;
      return {
        type: 'several',
        actions: [
          ...outcome.send.map((message): RouterAction => ({ type: 'forward', message, target })),
          ...outcome.answered.map(
            (a): RouterAction => ({
              type: 'log',
              event: 'trunk-challenge-answered',
              fields: { trunk: outcome.trunk, realm: a.realm, method: outcome.method, status: res.status, algorithm: a.algorithm },
            }),
          ),
        ],
      };
    }
    // Our Record-Route entries now bind the callee's Contact: the caller's requests go there and nowhere else.
    if (res.status > 100 && res.status < 300 && res.has('Record-Route')) rebindRecordRoutes(res, this.mac, (u) => this.isUs(u));
    const offset = offsetParam(top.params.get(CSEQ_PARAM));
    const ourVia = res.getAll('via')[0]!;
    removeTopVia(res);
    // Responses to a request sbd re-sent with credentials (or to the phone's in-dialog requests whose CSeq it
    // raised) go back with the phone's own CSeq number.
    const restoreCseq = (m: SipResponse) => {
      if (offset === 0) return;
      const c = m.cseq();
      if (c.seq >= offset) replaceFirst(m, 'cseq', `${c.seq - offset} ${c.method}`);
    };
    const next = res.topVia();
    // received/rport are the ones sbd's transport stamped on receipt (response-routing.ts), and the branch MAC
    // covers them: a value the client or the downstream wrote cannot steer the response.
    const rport = next.params.get('rport');
    const address = next.params.get('received') ?? stripBrackets(next.host);
    const port =
      rport !== undefined && rport !== null && /^[0-9]+$/.test(rport)
        ? Number(rport)
        : (next.port ?? (next.transport === 'TLS' ? 5061 : 5060));
    const transport = next.transport.toLowerCase() as TransportKind;
    const back: AddressTarget = { kind: 'address', transport, host: address, port };
    const refused = this.checkAnswer(res, source, back, ourVia, original, now);
    if (refused) {
      if (refused.type === 'several')
        for (const a of refused.actions) if (a.type === 'forward' && a.message.kind === 'response') restoreCseq(a.message);
      return refused;
    }
    restoreCseq(res);
    return { type: 'forward', message: res, target: back };
  }

  /**
   * Step 4 for a response (sdp-legs.ts). An answer Block Unencrypted Calls refuses: a 18x → CANCEL to the callee
   * (its INVITE's Request-URI and target from the table), 488 to the caller; a 2xx to INVITE → ACK + BYE to the
   * callee, 488 to the caller; a 2xx to UPDATE or PRACK → BYE to the callee, 488 to the caller (refuse-answer.ts).
   */
  private checkAnswer(
    res: SipResponse,
    source: MessageSource | undefined,
    back: AddressTarget,
    ourVia: string,
    original: string,
    now: number,
  ): RouterAction | undefined {
    const policy = this.deps.routing.cryptoPolicy();
    if (responseSdp(res, source?.transport ?? 'udp', back.transport, policy) === 'pass' || !source) return undefined;
    const why = 'Block Unencrypted Calls: the answer has no SRTP';
    if (res.status < 200) {
      const invite = this.invites.find(original, now);
      const r = cancelProvisional(res, ourVia, invite?.uri, why);
      return {
        type: 'several',
        actions: [
          ...(r.cancel && invite ? [{ type: 'forward', message: r.cancel, target: invite.target } as RouterAction] : []),
          { type: 'forward', message: r.refusal, target: back },
        ],
      };
    }
    const l = this.listenerFor(source.transport);
    const r = refuseUnencryptedAnswer(res, { transport: l.transport.toUpperCase(), hostPort: `${l.host}:${l.port}` }, why);
    // Without a Contact (§12.1.1, RFC 3311 §5.2 require one) nothing can be sent to the callee; the caller still gets 488.
    if (!r) return { type: 'several', actions: [{ type: 'forward', message: refusalOf(res, why), target: back }] };
    const callee: Target = { kind: 'flow', source };
    return {
      type: 'several',
      actions: [
        ...(res.cseq().method === 'INVITE' ? [{ type: 'forward', message: r.ack, target: callee } as RouterAction] : []),
        { type: 'forward', message: r.bye, target: callee },
        { type: 'forward', message: r.refusal, target: back },
      ],
    };
  }

  /** The original branch when `branch` is ours for the Via below it (or a re-sent copy's); else undefined. */
  private ownBranch(branch: string, next: Via, res: SipResponse): string | undefined {
    const original = this.mac.branch(next, res.callId(), res.cseq().method);
    if (branch === original) return original;
    for (let n = 1; n <= this.maxResent; n++) if (branch === resentBranch(original, n)) return original;
    return undefined;
  }

  /** The sender (From) is a device whose security profile is authenticated or encrypted (TLS with its LSC). */
  private profileRequiresTls(req: SipRequest): boolean {
    const from = req.from().uri;
    const owner = isSipUri(from) && from.user !== undefined ? this.deps.directory.resolveAor(from.user) : undefined;
    return owner?.kind === 'device' && owner.mutualTls;
  }

  /** The trunk this source is: by its address, and a TLS trunk only over TLS with its certificate (row 11). */
  private trunkOf(source: MessageSource): TrunkRow | undefined {
    const t = this.deps.routing.trunkByHost(source.address);
    if (t?.transport !== 'tls') return t;
    if (source.transport !== 'tls') return undefined;
    return (this.deps.trunkPeerVerified ?? trunkPeerByIssuer)(t, source) ? t : undefined;
  }

  /**
   * In a verified dialog: the Request-URI, which the Route's MAC bound (record-route.ts; a registered Contact
   * goes over its flow). Should Routes remain after ours (a far end behind further proxies), the next one must
   * be a trunk's address.
   */
  private dialogTarget(req: SipRequest, now: number): Target | RouterAction {
    return req.route().length > 0 ? this.knownHop(req, this.routeTarget(req)) : this.uriTarget(req, now);
  }

  /** An address target must be a trunk's: sbd relays to no host it was not configured with. */
  private knownHop(req: SipRequest, t: Target | RouterAction): Target | RouterAction {
    if ('type' in t || t.kind === 'flow' || this.deps.routing.trunkByHost(t.host)) return t;
    return this.respond(req, 403, 'Forbidden (the next hop is neither a registered phone nor a trunk)');
  }

  private respond(req: SipRequest, status: number, reason: string, extra: HeaderField[] = []): RouterAction {
    if (req.method === 'ACK') return { type: 'drop', reason: `ACK not answered (${status})` };
    return { type: 'respond', response: makeResponse(req, status, reason, extra) };
  }

  /**
   * Digest for trunks (401/407) and phones off their registered flow (407). Undefined when authorized. Through the
   * registrar's DigestGate (src/sip/auth/digest-gate.ts): failures are counted per credential and per source, and
   * a wrong password, an unknown user and right credentials that do not own the request get the same challenge.
   */
  private checkDigest(
    req: SipRequest,
    now: number,
    status: 401 | 407,
    owns: (username: string) => boolean,
    source?: MessageSource,
    algorithms?: readonly DigestAlgorithm[],
    nonceLifetime?: number,
  ): RouterAction | undefined {
    const header = req.get(status === 407 ? 'Proxy-Authorization' : 'Authorization');
    const challengeName = status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate';
    const reason = status === 407 ? 'Proxy Authentication Required' : 'Unauthorized';
    const gate = this.deps.registrar.gate;
    const g = gate.check({
      header,
      method: req.method,
      requestUri: formatUri(req.uri),
      source,
      now,
      ...(algorithms ? { algorithms } : {}),
      ...(nonceLifetime !== undefined ? { nonceLifetime } : {}),
      owns,
    });
    if (g.ok) return undefined;
    if (g.answer === 'blocked') return this.respond(req, 403, 'Forbidden (too many failed authentication attempts)');
    return this.respond(
      req,
      status,
      reason,
      gate.challenges(now, g.answer === 'stale', algorithms, source).map((value) => ({ name: challengeName, value })),
    );
  }

  /**
   * A phone's alarm REFER to the server itself (DeviceTLInfo, src/sip/alarm/refer.ts): counted only once the phone
   * is identified as for any request (its registered flow, or proxy digest of the line's owner; issue 16).
   */
  private alarmRefer(req: SipRequest, source: MessageSource, now: number): RouterAction {
    const who = this.identifyPhone(req, source, now);
    if ('type' in who) return who;
    const from = req.from().uri;
    const owner = isSipUri(from) && from.user !== undefined ? this.deps.directory.resolveAor(from.user) : undefined;
    if (!owner) return this.respond(req, 403, 'Forbidden');
    const a = answerAlarmRefer(req, owner, this.deps.directory, now);
    return this.respond(req, a.status, a.reason);
  }

  private identifyPhone(req: SipRequest, source: MessageSource, now: number): Caller | RouterAction {
    const from = req.from().uri;
    const user = isSipUri(from) ? from.user : undefined;
    if (user === undefined) return this.respond(req, 403, 'Forbidden (From has no user part)');
    const owner = this.deps.directory.resolveAor(user);
    // An unknown From line is challenged like a known one and never passes: "not a line" is not revealed.
    const onFlow = owner !== undefined && this.deps.registrar.bindings.lookup(user, now).some((b) => sameFlow(b.source, source));
    if (!onFlow) {
      const algorithms = owner?.kind === 'device' ? owner.digestAlgorithms : this.deps.directory.defaultDigestAlgorithms();
      const nonceLifetime = owner?.kind === 'device' ? owner.nonceValiditySeconds : this.deps.directory.defaultNonceValiditySeconds();
      const denied = this.checkDigest(
        req,
        now,
        407,
        (u) => (owner === undefined ? false : owner.kind === 'device' ? owner.digestUser === u : owner.userid === u),
        source,
        algorithms,
        nonceLifetime,
      );
      if (denied) return denied;
    }
    if (owner === undefined) return this.respond(req, 407, 'Proxy Authentication Required'); // unreachable: checkDigest refused
    if (owner.kind === 'user') return { css: null, presenceGroup: null };
    const s = this.deps.routing.deviceSettings(owner.device);
    return { css: s?.css ?? null, presenceGroup: s?.presenceGroup ?? null };
  }

  private newRequestTarget(req: SipRequest, caller: Caller, now: number): Target | RouterAction {
    const uri = req.uri;
    if (!isSipUri(uri) || uri.user === undefined) return this.respond(req, 416, 'Unsupported URI Scheme');
    const user = uri.user;
    const cssPartitions = caller.css === null ? null : (this.deps.routing.cssPartitions(caller.css) ?? null);
    const bindings = this.deps.registrar.bindings.lookup(user, now);
    if (bindings.length > 0) {
      const owner = this.deps.directory.resolveAor(user);
      const settings = owner?.kind === 'device' ? this.deps.routing.deviceSettings(owner.device) : undefined;
      if (!cssReaches(cssPartitions, settings?.partition ?? null))
        return this.respond(req, 404, 'Not Found (not reachable from the calling search space)');
      if (req.method === 'SUBSCRIBE' && /^presence\b/i.test(req.get('Event') ?? '')) {
        const a = caller.presenceGroup;
        const b = settings?.presenceGroup ?? null;
        const allowed =
          a === null || b === null
            ? this.opts.defaultPresenceAllowed
            : (this.deps.routing.presencePolicy(a, b) ?? this.opts.defaultPresenceAllowed);
        if (!allowed) return this.respond(req, 403, 'Forbidden (presence group policy)');
      }
      const b = bindings[0]!;
      req.uri = parseUri(b.contact);
      return { kind: 'flow', source: b.source };
    }
    const patterns = this.deps.routing
      .routePatterns()
      .filter((p) => cssReaches(cssPartitions, p.partition) && patternMatches(p.pattern, user));
    patterns.sort((a, b) => b.pattern.replace('!', '').length - a.pattern.replace('!', '').length);
    const trunk = patterns[0] && this.deps.routing.trunk(patterns[0].trunk);
    if (trunk) {
      req.uri = { ...uri, host: trunk.host.includes(':') ? `[${trunk.host}]` : trunk.host, port: trunk.port };
      return { kind: 'address', transport: trunk.transport, host: trunk.host, port: trunk.port, trunk: trunk.name };
    }
    return this.respond(req, 404, 'Not Found');
  }

  /** In-dialog, ACK and CANCEL: the Request-URI is a Contact (a registered flow) or an address; an AOR is looked up. */
  private uriTarget(req: SipRequest, now: number): Target | RouterAction {
    const uri = req.uri;
    if (!isSipUri(uri)) return this.respond(req, 416, 'Unsupported URI Scheme');
    const binding = this.deps.registrar.bindings.findByContact(formatUri(uri), now);
    if (binding) return { kind: 'flow', source: binding.source };
    if (uri.user !== undefined && this.isUs(uri)) {
      const b = this.deps.registrar.bindings.lookup(uri.user, now)[0];
      if (b) {
        req.uri = parseUri(b.contact);
        return { kind: 'flow', source: b.source };
      }
      return this.respond(req, 481, 'Call/Transaction Does Not Exist');
    }
    return addressOf(uri);
  }

  /** After our own Route entries are gone, the next hop is the top Route (loose routing, §16.12). */
  private routeTarget(req: SipRequest): Target | RouterAction {
    const next = req.route()[0]!.uri;
    if (!isSipUri(next)) return this.respond(req, 416, 'Unsupported URI Scheme');
    return addressOf(next);
  }

  private isUs(uri: SipUri): boolean {
    return this.listeners.some((l) => sameHost(l.host, uri.host) && (uri.port === undefined || uri.port === l.port));
  }

  /**
   * Removes our own Route entries (loose routing, §16.4). `verified`: there was at least one and every one
   * carried our MAC for this Call-ID (a dialog sbd Record-Routed); `forged`: one carried a MAC that does not
   * verify. A Route of ours without a MAC is a preloaded outbound-proxy route (initial requests only).
   * `cseqOffset`: what a verified entry's `sbd-cseq` says (0 when none).
   */
  private popOwnRoutes(req: SipRequest): { verified: boolean; forged: boolean; cseqOffset: number } {
    let cseqOffset = 0;
    let popped = 0;
    let macs = 0;
    let forged = false;
    const callId = req.callId();
    const peer = peerOf(req.uri);
    let routes = req.route();
    while (routes.length > 0 && isSipUri(routes[0]!.uri) && this.isUs(routes[0]!.uri as SipUri) && routes[0]!.uri.params.has('lr')) {
      const uri = routes[0]!.uri as SipUri;
      popped++;
      if (uri.params.has(ROUTE_MAC_PARAM)) {
        if (this.mac.verifyRoute(uri, callId, peer)) {
          macs++;
          cseqOffset ||= offsetParam(uri.params.get(CSEQ_PARAM));
        } else forged = true;
      }
      removeFirstValue(req, 'route');
      routes = req.route();
    }
    const verified = popped > 0 && macs === popped;
    return { verified, forged, cseqOffset: verified ? cseqOffset : 0 };
  }

  private listenerFor(t: TransportKind): Listener {
    return this.listeners.find((l) => l.transport === t) ?? this.listeners[0]!;
  }

  /** `cseqOffset`: the CSeq was raised by it (marked on our Via so the responses get the phone's number back). */
  private forward(
    req: SipRequest,
    source: MessageSource,
    target: Target,
    maxForwards: number,
    recordRoute: boolean,
    cseqOffset: number,
    now: number,
  ): RouterAction {
    const outT = target.kind === 'flow' ? target.source.transport : target.transport;
    const out = this.listenerFor(outT);
    req.set('Max-Forwards', String(maxForwards));
    const ownRecordRoutes: string[] = [];
    if (recordRoute) {
      const inL = this.listenerFor(source.transport);
      // The MAC makes the entry verifiable when it comes back as a Route, for requests to this sender's Contact.
      const peer = contactPeer(req);
      const rr = (l: Listener) => recordRouteValue(l, this.mac, req.callId(), peer);
      // RFC 5658: when the transport changes, one entry for each side; the callee reads the top one.
      if (inL !== out) ownRecordRoutes.push(rr(inL));
      ownRecordRoutes.push(rr(out));
      for (const v of ownRecordRoutes) req.prepend('Record-Route', v);
    }
    // §16.11: the branch is a function of the received request, so CANCEL and a non-2xx ACK get the INVITE's.
    const branch = branchOf(req, this.mac);
    req.prepend(
      'Via',
      `SIP/2.0/${outT.toUpperCase()} ${out.host}:${out.port};branch=${branch};rport${cseqOffset > 0 ? `;${CSEQ_PARAM}=${cseqOffset}` : ''}`,
    );
    if (req.method === 'INVITE') this.invites.remember(branch, req.uri, target, now);
    if (target.kind === 'address' && target.trunk !== undefined && this.trunkChallenges) {
      // A challenged request sbd re-sent: the phone's retransmission, CANCEL or non-2xx ACK follows the re-sent one.
      const mapped = this.trunkChallenges.mapOutgoing(req, branch, now);
      if (mapped) return { type: 'forward', message: mapped, target };
      if (req.method !== 'ACK' && req.method !== 'CANCEL' && req.to().params.get('tag') === undefined) {
        this.trunkChallenges.remember(req, branch, target as TrunkTarget, ownRecordRoutes, now);
      }
    }
    return { type: 'forward', message: req, target };
  }
}

function addressOf(uri: SipUri): Target {
  const t = (uri.params.get('transport') ?? (uri.scheme === 'sips' ? 'tls' : 'udp')).toLowerCase();
  const transport: TransportKind = t === 'tcp' ? 'tcp' : t === 'tls' ? 'tls' : 'udp';
  return { kind: 'address', transport, host: stripBrackets(uri.host), port: uri.port ?? (transport === 'tls' ? 5061 : 5060) };
}

function sameFlow(a: MessageSource, b: MessageSource): boolean {
  if (a.transport !== b.transport) return false;
  if (a.connectionId !== undefined || b.connectionId !== undefined) return a.connectionId === b.connectionId;
  return a.address === b.address && a.port === b.port;
}

function stripBrackets(h: string): string {
  return h.startsWith('[') ? h.slice(1, -1) : h;
}

function sameHost(a: string, b: string): boolean {
  return stripBrackets(a).toLowerCase() === stripBrackets(b).toLowerCase();
}

function removeTopVia(res: SipResponse): void {
  removeFirstValue(res, 'via');
}

/** A `sbd-cseq` parameter value: 1..MAX_CSEQ_OFFSET, anything else is 0 (ignored). */
function offsetParam(v: string | null | undefined): number {
  if (v === undefined || v === null || !/^[0-9]{1,2}$/.test(v)) return 0;
  const n = Number(v);
  return n >= 1 && n <= MAX_CSEQ_OFFSET ? n : 0;
}
