/**
 * The simulated phone's SIP user agent: one line, one flow to its server (TLS by default, as a Security-by-
 * Default phone in a secure profile), the core transaction layer (RFC 3261 §17, `TransactionTable` with one
 * timer following `TimerQueue`) and dialogs (§12, `Dialog`). What it does, as a phone does: on `SipPhone`.
 */
import { randomBytes } from 'node:crypto';
import { answerChallenge } from '../../sip/core/auth/digest.js';
import type { SipMessage, SipRequest, SipResponse, HeaderField } from '../../sip/core/messages/message.js';
import { SipRequest as Request } from '../../sip/core/messages/message.js';
import { serializeMessage } from '../../sip/core/messages/serializer.js';
import { formatUri, parseUri } from '../../sip/core/messages/uri.js';
import { makeBranch, makeTag } from '../../sip/core/transactions/branch.js';
import { TransactionTable } from '../../sip/core/transactions/transaction-table.js';
import { TimerQueue } from '../../sip/core/transactions/timer-queue.js';
import type { TransactionAction } from '../../sip/core/transactions/actions.js';
import { makeResponse } from '../../sip/core/messages/make-response.js';
import { CALL_PRIORITY } from '../../sdp/index.js';
import type { Suite } from '../../sdp/suites.js';
import { SipFlow, type SipFlowOptions } from './sip-flow.js';
import { SipUaError, SipUaErrorCode } from './errors.js';
import { type Call, answerIncoming, placeCall } from './calls.js';
import { judgeControlNotify } from './control-notify.js';
import { reportTrustLists, type TrustListsSource } from './device-tl-info.js';

/** The ITL report header (same name as the registrar's ITL_REPORT_HEADER). */
export const ITL_HASH_HEADER = 'X-SBD-ITL-Hash';

export interface SipPhoneOptions {
  flow: SipFlowOptions;
  /** The line: directory number (or line user) registered and used as From. */
  line: string;
  /** Host part of AORs and of the REGISTER Request-URI; default the server host. */
  domain?: string;
  /** Digest credentials (the device's digest user, or the line user). */
  credentials?: { username: string; password: string };
  /** SHA-256 (hex) of the ITL the phone holds, reported on REGISTER; `itlStatus` 'not-installed' after a bounce. */
  itlSha256?: string;
  itlStatus?: 'installed' | 'not-installed';
  /** The ITL/CTL the phone holds (or where to look, e.g. `heldInPhoneFolder`): a DeviceTLInfo REFER after every successful REGISTER. */
  trustLists?: TrustListsSource;
  /** Default 'Cisco-CP8845/14.2.1' (the registrar reads the model from it for autoregistration). */
  userAgent?: string;
  /** RTP bind address; default 127.0.0.1. */
  mediaAddress?: string;
  /** SRTP suites offered/accepted, most preferred first; default the call priority (GCM 256, GCM 128, 80, 32). */
  suites?: readonly Suite[];
  /** Refuse calls without SRTP (488) and never offer RTP; default false. */
  requireSrtp?: boolean;
  /** Answer incoming calls at once (180 then 200); default true. */
  autoAnswer?: boolean;
  /** Longest wait for a final response, on top of Timers B/F; default 40000 ms. */
  requestTimeoutMs?: number;
  /** Called for each incoming call once answered. */
  onCall?: (call: Call) => void;
  /** A reset NOTIFY was obeyed: re-fetch the phone's files (TFTP) before it registers again; default none. */
  refetch?: () => Promise<void>;
  /** Told after each reset/restart the phone carried out: `err` is why its files could not be re-fetched, or what ended it. */
  onControl?: (kind: 'reset' | 'restart', err?: Error) => void;
  /** Told when the flow to the server closed without `close()` (the server went away): fail-over starts here. */
  onFlowLost?: (err?: Error) => void;
}

type Flow = 'server';

interface Pending {
  resolve: (r: SipResponse) => void;
  reject: (e: Error) => void;
  onProvisional?: (r: SipResponse) => void;
  timer: NodeJS.Timeout;
}

/**
 * What the phone does:
 *  - REGISTER with digest (answers 401/407 from the password, §22.2; one new challenge per attempt, stale=true
 *    accepted), then the DeviceTLInfo alarm REFER of the trust lists it holds (device-tl-info.ts), as Cisco phones
 *    do; sbd's `X-SBD-ITL-Hash` header extension only when asked (docs/admin.md);
 *  - INVITE with an SDES offer (`calls.ts`), ACK for the 2xx (§13.2.2.4), BYE;
 *  - answers INVITEs (180, then 200 with the SDES answer), BYE and CANCEL (200 + 487), OPTIONS (200);
 *  - obeys its call control's reset/restart NOTIFY (control-notify.ts judges it): restart → unregister and
 *    register again with a new Call-ID; reset → the same after re-fetching its files (`refetch`, over TFTP).
 * Every request goes to the server over the flow (the server is the phone's outbound proxy); responses come
 * back on it.
 */
export class SipPhone {
  readonly o: SipPhoneOptions;
  readonly calls = new Map<string, Call>();
  readonly suites: readonly Suite[];
  flow!: SipFlow;
  private readonly table: TransactionTable<Flow>;
  private readonly timers = new TimerQueue();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly pending = new Map<string, Pending>();
  private registerCallId = newRegisterCallId();
  /** Resets and restarts carried out, and the NOTIFYs refused (for tests and `sbd phone register`). */
  readonly control = { resets: 0, restarts: 0, refused: 0, refetchFailures: 0, lastEvent: '' };
  private obeying = false;
  private readonly registerTag = makeTag();
  private cseq = 1;
  private closed = false;
  /** The server's answer to the last DeviceTLInfo REFER (202 when taken). */
  lastTrustReport: SipResponse | undefined;

  private constructor(o: SipPhoneOptions) {
    this.o = o;
    this.suites = o.suites ?? CALL_PRIORITY;
    this.table = new TransactionTable<Flow>({ reliable: () => this.flow.transport !== 'udp' });
  }

  static async connect(o: SipPhoneOptions): Promise<SipPhone> {
    const p = new SipPhone(o);
    p.flow = await SipFlow.connect(
      o.flow,
      (m) => p.onMessage(m),
      (err) => {
        p.onFlowClosed(err);
        if (!p.closed) p.o.onFlowLost?.(err);
      },
    );
    return p;
  }

  get domain(): string {
    return this.o.domain ?? this.o.flow.host;
  }

  /** Our Via for a new request (§8.1.1.7: a fresh branch each time). */
  via(): { transport: string; host: string; port: number; rport: boolean } {
    return { transport: this.flow.transport.toUpperCase(), host: this.flow.localAddress, port: this.flow.localPort, rport: true };
  }

  viaHeader(): HeaderField {
    const v = this.via();
    return { name: 'Via', value: `SIP/2.0/${v.transport} ${v.host}:${v.port};branch=${makeBranch()};rport` };
  }

  contact(): string {
    return `sip:${this.o.line}@${this.flow.localAddress}:${this.flow.localPort};transport=${this.flow.transport}`;
  }

  userAgent(): string {
    return this.o.userAgent ?? 'Cisco-CP8845/14.2.1';
  }

  /** REGISTER (expires 0: unregister); answers challenges; the final 2xx, or a typed error. */
  async register(expires = 600): Promise<SipResponse> {
    const build = (auth?: HeaderField): SipRequest =>
      new Request('REGISTER', parseUri(`sip:${this.domain}`), [
        this.viaHeader(),
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `<sip:${this.o.line}@${this.domain}>;tag=${this.registerTag}` },
        { name: 'To', value: `<sip:${this.o.line}@${this.domain}>` },
        { name: 'Call-ID', value: this.registerCallId },
        { name: 'CSeq', value: `${this.cseq++} REGISTER` },
        { name: 'Contact', value: `<${this.contact()}>` },
        { name: 'Expires', value: String(expires) },
        { name: 'User-Agent', value: this.userAgent() },
        ...(this.o.itlSha256
          ? [{ name: ITL_HASH_HEADER, value: `${this.o.itlSha256}${this.o.itlStatus === 'not-installed' ? ';status=not-installed' : ''}` }]
          : []),
        ...(auth ? [auth] : []),
        { name: 'Content-Length', value: '0' },
      ]);
    const res = await this.withAuth(build);
    if (res.status >= 300)
      throw new SipUaError(SipUaErrorCode.refused, `REGISTER refused: ${res.status} ${res.reason}`, { status: res.status });
    if (expires > 0 && this.o.trustLists) this.lastTrustReport = await reportTrustLists(this, this.o.trustLists);
    return res;
  }

  /**
   * Sends what `build` makes; a 401/407 is answered from the credentials with a new request (new CSeq, new
   * branch) at most twice (a second challenge is only accepted with stale=true, RFC 2617 §3.2.1).
   */
  async withAuth(
    build: (auth?: HeaderField) => SipRequest,
    onProvisional?: (r: SipResponse) => void,
    onRequest?: (r: SipRequest) => void,
  ): Promise<SipResponse> {
    let req = build();
    onRequest?.(req);
    let res = await this.request(req, onProvisional);
    for (let round = 0; round < 2 && (res.status === 401 || res.status === 407); round++) {
      const creds = this.o.credentials;
      if (!creds)
        throw new SipUaError(SipUaErrorCode.auth, `${req.method} challenged (${res.status}) and the phone has no credentials`, {
          status: res.status,
        });
      const challenges = res.getAll(res.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate');
      if (challenges.length === 0) throw new SipUaError(SipUaErrorCode.auth, `${res.status} without a challenge`, { status: res.status });
      if (round > 0 && !challenges.some((c) => /stale\s*=\s*"?true/i.test(c))) {
        throw new SipUaError(SipUaErrorCode.auth, `${req.method} refused: credentials for ${creds.username} not accepted (${res.status})`, {
          status: res.status,
        });
      }
      let value: string | undefined;
      let lastErr: unknown;
      for (const challenge of challenges) {
        try {
          value = answerChallenge({
            challenge,
            method: req.method,
            uri: formatUri(req.uri),
            username: creds.username,
            secret: { password: creds.password },
            cnonce: randomBytes(8).toString('hex'),
            nc: 1,
          });
          break;
        } catch (err) {
          lastErr = err; // RFC 8760 §2.4: skip challenges with an algorithm we do not support
        }
      }
      if (value === undefined)
        throw new SipUaError(SipUaErrorCode.auth, `no challenge we can answer: ${(lastErr as Error)?.message}`, { cause: lastErr });
      req = build({ name: res.status === 401 ? 'Authorization' : 'Proxy-Authorization', value });
      onRequest?.(req);
      res = await this.request(req, onProvisional);
    }
    return res;
  }

  /** One client transaction: resolves with its final response (for INVITE the first 2xx, or the error). */
  request(req: SipRequest, onProvisional?: (r: SipResponse) => void): Promise<SipResponse> {
    if (this.closed) return Promise.reject(new SipUaError(SipUaErrorCode.transport, 'the phone is closed'));
    const { id, actions } = this.table.sendRequest(req, 'server', Date.now());
    return new Promise<SipResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SipUaError(SipUaErrorCode.timeout, `${req.method} got no final response in ${this.o.requestTimeoutMs ?? 40_000} ms`));
      }, this.o.requestTimeoutMs ?? 40_000);
      this.pending.set(id, { resolve, reject, timer, ...(onProvisional ? { onProvisional } : {}) });
      this.run(actions);
    });
  }

  /** Sends a message outside any transaction (the ACK for a 2xx, §13.2.2.4). */
  sendRaw(m: SipMessage): void {
    this.flow.send(serializeMessage(m));
  }

  /** Answers a server transaction. */
  respond(id: string, res: SipResponse): void {
    this.run(this.table.respond(id, res, Date.now()));
  }

  /** Places a call to `target` (a number at our domain, or a full SIP URI). */
  call(target: string): Promise<Call> {
    return placeCall(this, target);
  }

  private onMessage(m: SipMessage): void {
    try {
      this.run(this.table.receive(m, 'server', Date.now()));
    } catch {
      // A message the layer cannot take (limit): the peer retransmits or gives up; never the phone's crash.
    }
  }

  private run(actions: TransactionAction<Flow>[]): void {
    this.timers.apply(actions);
    for (const a of actions) {
      if (a.type === 'send') {
        try {
          this.flow.send(a.bytes);
        } catch (err) {
          this.settle(a.id, undefined, err as Error);
        }
      } else if (a.type === 'deliver') this.deliver(a);
      else if (a.type === 'timeout' || a.type === 'transport-error') {
        this.settle(
          a.id,
          undefined,
          new SipUaError(
            a.type === 'timeout' ? SipUaErrorCode.timeout : SipUaErrorCode.transport,
            `transaction ${a.type === 'timeout' ? `timed out (Timer ${a.timer})` : 'lost its transport'}`,
          ),
        );
      }
    }
    this.rearm();
  }

  private deliver(a: Extract<TransactionAction<Flow>, { type: 'deliver' }>): void {
    const m = a.message;
    if (m.kind === 'response') {
      if (a.id === undefined) {
        // A 2xx retransmitted after the INVITE transaction ended: ACK it again (§13.2.2.4).
        for (const c of this.calls.values()) c.onStray2xx(m);
        return;
      }
      const p = this.pending.get(a.id);
      if (!p) {
        for (const c of this.calls.values()) c.onStray2xx(m);
        return;
      }
      if (m.status < 200) p.onProvisional?.(m);
      else this.settle(a.id, m);
      return;
    }
    if (a.id === undefined) {
      if (m.method === 'ACK') for (const c of this.calls.values()) c.onAck(m);
      return;
    }
    if (a.cancels !== undefined) {
      this.respond(a.id, makeResponse(m, 200, 'OK'));
      for (const c of this.calls.values()) c.onCancel(a.cancels, m);
      return;
    }
    const inDialog = m.to().params.get('tag') !== undefined;
    if (m.method === 'INVITE' && !inDialog) {
      if (this.o.autoAnswer === false) {
        this.respond(a.id, makeResponse(m, 486, 'Busy Here'));
        return;
      }
      void answerIncoming(this, a.id, m).then((call) => {
        if (call) this.o.onCall?.(call);
      });
      return;
    }
    if (inDialog) {
      for (const c of this.calls.values()) if (c.handlesRequest(a.id, m)) return;
      this.respond(a.id, makeResponse(m, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    if (m.method === 'NOTIFY') {
      // The flow is the phone's connection to its server: only its registrar can put a request on it.
      const d = judgeControlNotify(m, this.registerCallId);
      this.respond(a.id, makeResponse(m, d.status, d.reason));
      if (d.obey) {
        this.control.lastEvent = m.get('Event') ?? '';
        void this.obey(d.obey);
      } else this.control.refused++;
      return;
    }
    if (m.method === 'OPTIONS')
      this.respond(a.id, makeResponse(m, 200, 'OK', [{ name: 'Allow', value: 'INVITE, ACK, CANCEL, BYE, OPTIONS' }]));
    else this.respond(a.id, makeResponse(m, 405, 'Method Not Allowed', [{ name: 'Allow', value: 'INVITE, ACK, CANCEL, BYE, OPTIONS' }]));
  }

  /** Carries out a reset/restart: unregister, (reset) re-fetch files, register with a new Call-ID, as a phone after power-on. */
  private async obey(kind: 'reset' | 'restart'): Promise<void> {
    if (this.obeying || this.closed) return;
    this.obeying = true;
    try {
      // Spec §2: a phone resets or restarts only once its active calls have ended.
      while (this.calls.size > 0 && !this.closed) await Promise.race([...this.calls.values()].map((c) => c.ended));
      await this.register(0).catch(() => undefined); // the old binding goes; a failure here must not stop the reset
      // A phone that cannot fetch new files keeps what it holds and registers anyway (as after any boot).
      let refetchError: Error | undefined;
      if (kind === 'reset')
        await this.o.refetch?.().catch((err: Error) => {
          refetchError = err;
          this.control.refetchFailures++;
        });
      this.registerCallId = newRegisterCallId();
      await this.register();
      if (kind === 'reset') this.control.resets++;
      else this.control.restarts++;
      this.o.onControl?.(kind, refetchError);
    } catch (err) {
      this.o.onControl?.(kind, err as Error);
    } finally {
      this.obeying = false;
    }
  }

  /** The Call-ID of the phone's current registration (what a service-control NOTIFY must name). */
  get currentRegisterCallId(): string {
    return this.registerCallId;
  }

  private settle(id: string, res: SipResponse | undefined, err?: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (res) p.resolve(res);
    else p.reject(err ?? new SipUaError(SipUaErrorCode.transport, 'request failed'));
  }

  private rearm(): void {
    const at = this.timers.nextAt();
    if (at === undefined || at >= this.timerAt || this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        const now = Date.now();
        for (const d of this.timers.due(now)) this.run(this.table.timerFired(d.id, d.timer, now));
        this.rearm();
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref();
  }

  private onFlowClosed(err?: Error): void {
    for (const id of [...this.pending.keys()])
      this.settle(
        id,
        undefined,
        new SipUaError(SipUaErrorCode.transport, `the flow to the SIP server closed${err ? `: ${err.message}` : ''}`, { cause: err }),
      );
  }

  /** Hangs up nothing by itself: call `hangup()` on calls first when a clean end matters. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const c of this.calls.values()) c.media.close();
    this.onFlowClosed();
    this.flow.close();
  }
}

function newRegisterCallId(): string {
  return `${randomBytes(8).toString('hex')}@sbd-phone`;
}
