/**
 * The SIP server: transports (UDP and TCP on one port, TLS on another) feed requests to the registrar (REGISTER)
 * or the router (everything else), and this file carries out what they return. The wiring (store, keys, TLS
 * identity, digest secret) is daemons/sipd.ts. Every request goes through the transaction layer, but only a
 * credentialed REGISTER's answer keeps its server transaction; every other answer goes out once, statelessly
 * (§8.2.7: one datagram out per datagram in), and forwarded requests stay stateless except onto UDP from a
 * reliable transport (routing/udp-leg.ts). Details: docs/sip-theory.md "SIP server".
 */
import type { SipRequest, SipResponse } from './core/messages/message.js';
import { serializeMessage } from './core/messages/serializer.js';
import { StreamTransport, type TlsSettings } from './transports/stream-transport.js';
import { UdpTransport } from './transports/udp-transport.js';
import type { InboundMessage, MessageSource, TransportKind } from './transports/types.js';
import type { Registrar, RegisterOutcome } from './registrar/registrar.js';
import { FloodGuard, type FloodGuardOptions } from './auth/flood-guard.js';
import type { Listener, Router, RouterAction, Target } from './routing/router.js';
import { makeResponse } from './core/messages/make-response.js';
import { TransactionTable, transactionTableDefaults } from './core/transactions/transaction-table.js';
import { timerDefaults } from './core/transactions/timers.js';
import { UdpLeg, udpLegDefaults } from './routing/udp-leg.js';
import { TimerQueue } from './core/transactions/timer-queue.js';
import type { TransactionAction } from './core/transactions/actions.js';
import { TransactionError } from './core/transactions/errors.js';
import { silentLogger, type Logger } from '../lib/log.js';

export interface SipServerOptions {
  registrar: Registrar;
  router: Router;
  /** The array the router reads Via/Record-Route listeners from: listen() fills it. */
  listeners: Listener[];
  /** Address to bind; default 0.0.0.0. */
  host?: string;
  /** UDP and TCP port; default 5060 (0: any free port, the same number for both is not guaranteed). */
  port?: number;
  /** The TLS listener (port, identity); absent: none. */
  tls?: { port: number; settings: TlsSettings };
  /** Address written into Via/Record-Route; default the bind address (127.0.0.1 when binding 0.0.0.0). */
  advertise?: string;
  /**
   * Most live transactions, server and client; default 100000 (a new request past it gets 503; a request for the
   * UDP leg past it is forwarded statelessly).
   */
  maxTransactions?: number;
  /** Most live server transactions for one source address; default 1000 (past it answers go out statelessly). */
  maxTransactionsPerSource?: number;
  /** Inbound TCP/TLS connections from one address (TLS handshakes included); default 100 (stream-transport.ts). */
  maxConnectionsPerSource?: number;
  /** Who runs the 5061 listener: 'node' (node:tls) or 'native' (the C TLS engine, docs/tls.md); default `streamTransportDefaults.tlsEngine`. */
  tlsEngine?: 'node' | 'native';
  /** With tlsEngine 'native': ask OpenSSL for kernel TLS (SSL_OP_ENABLE_KTLS; the kernel's `tls` module). Default false. */
  ktls?: boolean;
  /** TLS handshake timeout on 5061, ms; default 10000. */
  tlsHandshakeTimeout?: number;
  /** A TCP/TLS connection must complete a SIP message within this many ms of opening or of its first bytes; default 10000. */
  messageTimeout?: number;
  /** RFC 3261 §17.1.1.1 T1 (RTT estimate, ms); default 500. Retransmissions start at T1, Timers B/F/H/J are 64·T1. */
  t1?: number;
  /** T2 (longest retransmit interval for non-INVITE requests and INVITE responses, ms); default 4000. */
  t2?: number;
  /** T4 (longest time a message stays in the network, ms; Timers I and K); default 5000. */
  t4?: number;
  /** Timer C (ms): an INVITE forwarded onto UDP from TCP/TLS is CANCELled this long after its last provisional (§16.6 step 11); default 181000. */
  timerC?: number;
  /** Outbound TCP/TLS bounds: connect timeout (default 10000 ms) and connections open at once (default 1000). */
  connectTimeout?: number;
  maxOutboundConnections?: number;
  /**
   * Whether a request to this address (or to the trunk a route chose) may open a TCP/TLS connection: only to a
   * configured trunk, with the CA bundle its TLS certificate must chain to (undefined: the system's bundle).
   * Undefined: not a trunk, never dialled.
   */
  dialTrunk: (trunk: string | undefined, address: string) => { ca: string | Buffer | undefined } | undefined;
  /** Expired-binding sweep interval; default 5000 ms. */
  sweepMs?: number;
  /** Early drop of UDP sources that only earn refusals (src/sip/auth/flood-guard.ts); `false` turns it off. */
  floodGuard?: FloodGuardOptions | false;
  /** Phone resets (sip/phone-control): sees responses first (true: an answer to its NOTIFY) and every REGISTER that bound. */
  phoneControl?: { onResponse(res: SipResponse): boolean; registered(line: string, userAgent: string | undefined): void };
  logger?: Logger;
  now?: () => number;
}

export const sipServerDefaults = { host: '0.0.0.0', port: 5060, maxTransactions: 100_000, sweepMs: 5000 } as const;

export class SipServer {
  readonly registrar: Registrar;
  readonly router: Router;
  readonly udp: UdpTransport;
  readonly tcp: StreamTransport;
  readonly tls: StreamTransport | undefined;
  /** Client transactions for requests forwarded from TCP/TLS onto UDP (routing/udp-leg.ts). */
  readonly udpLeg: UdpLeg;
  readonly stats = { requests: 0, responses: 0, forwarded: 0, answered: 0, stateless: 0, retransmissions: 0, dropped: 0, errors: 0 };
  /** Undefined when turned off. */
  readonly floodGuard: FloodGuard | undefined;
  private readonly options: SipServerOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly listeners: Listener[];
  private readonly transactions: TransactionTable<MessageSource>;
  private readonly maxTransactions: number;

  /** Server and client transactions in the table now (for status output and tests). */
  get liveTransactions(): number {
    return this.transactions.size;
  }
  private readonly timerQueue = new TimerQueue();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(o: SipServerOptions) {
    this.options = o;
    this.registrar = o.registrar;
    this.router = o.router;
    this.listeners = o.listeners;
    this.log = o.logger ?? silentLogger;
    this.now = o.now ?? Date.now;
    this.maxTransactions = o.maxTransactions ?? sipServerDefaults.maxTransactions;
    this.transactions = new TransactionTable<MessageSource>({
      reliable: (f) => f.transport !== 'udp',
      maxTransactions: this.maxTransactions,
      sourceOf: (f) => f.address,
      maxPerSource: o.maxTransactionsPerSource ?? transactionTableDefaults.maxPerSource,
      t1: o.t1 ?? timerDefaults.t1,
      t2: o.t2 ?? timerDefaults.t2,
      t4: o.t4 ?? timerDefaults.t4,
    });
    this.udpLeg = new UdpLeg(this.transactions, { timerC: o.timerC ?? udpLegDefaults.timerC });
    const onMessage = (m: InboundMessage) => this.onMessage(m);
    const host = o.host ?? sipServerDefaults.host;
    const port = o.port ?? sipServerDefaults.port;
    this.floodGuard = o.floodGuard === false ? undefined : new FloodGuard(o.floodGuard);
    const guard = this.floodGuard;
    this.udp = new UdpTransport(onMessage, { host, port, ...(guard ? { admit: (a: string) => guard.admit(a, this.now()) } : {}) });
    const outbound = {
      ...(o.connectTimeout !== undefined ? { connectTimeout: o.connectTimeout } : {}),
      ...(o.maxOutboundConnections !== undefined ? { maxOutboundConnections: o.maxOutboundConnections } : {}),
      onConnectError: (t: { address: string; port: number }, err: Error) =>
        this.log.warn('connect-failed', { to: `${t.address}:${t.port}`, reason: err.message }),
      ...(o.maxConnectionsPerSource !== undefined ? { maxConnectionsPerSource: o.maxConnectionsPerSource } : {}),
      ...(o.tlsHandshakeTimeout !== undefined ? { handshakeTimeout: o.tlsHandshakeTimeout } : {}),
      ...(o.messageTimeout !== undefined ? { messageTimeout: o.messageTimeout } : {}),
    };
    this.tcp = new StreamTransport(onMessage, { host, port, ...outbound });
    this.tls =
      o.tls === undefined
        ? undefined
        : new StreamTransport(onMessage, {
            host,
            port: o.tls.port,
            tls: o.tls.settings,
            ...(o.tlsEngine ? { tlsEngine: o.tlsEngine } : {}),
            ...(o.ktls ? { ktls: true } : {}),
            ...outbound,
          });
  }

  async listen(): Promise<{ udp: number; tcp: number; tls: number | undefined; address: string }> {
    const u = await this.udp.listen();
    const t = await this.tcp.listen();
    const s = this.tls ? await this.tls.listen() : undefined;
    const host = this.options.advertise ?? (u.address === '0.0.0.0' || u.address === '::' ? '127.0.0.1' : u.address);
    const h = host.includes(':') ? `[${host}]` : host;
    this.listeners.push({ transport: 'udp', host: h, port: u.port }, { transport: 'tcp', host: h, port: t.port });
    if (s) this.listeners.push({ transport: 'tls', host: h, port: s.port });
    this.sweepTimer = setInterval(() => this.registrar.sweep(this.now()), this.options.sweepMs ?? sipServerDefaults.sweepMs);
    this.sweepTimer.unref();
    return { udp: u.port, tcp: t.port, tls: s?.port, address: u.address };
  }

  private onMessage({ message, source }: InboundMessage): void {
    try {
      if (message.kind === 'response') {
        this.stats.responses++;
        if (this.options.phoneControl?.onResponse(message)) return;
        // Only while the UDP leg has client transactions does a response need matching (§17.1.3): the stateless
        // path stays as cheap as it was.
        if (this.udpLeg.size > 0) this.run(this.transactions.receive(message, source, this.now()));
        else this.act(this.router.handleResponse(message, source, this.now()));
        return;
      }
      this.stats.requests++;
      this.run(this.transactions.receive(message, source, this.now()));
    } catch (err) {
      if (err instanceof TransactionError && err.statusHint === 503 && message.kind === 'request' && message.method !== 'ACK') {
        this.sendTo({ kind: 'flow', source }, serializeMessage(makeResponse(message, 503, 'Service Unavailable')));
        return;
      }
      // A bug or a store failure must cost one request, never the daemon; answer 500 where we can.
      this.stats.errors++;
      this.log.error('request-failed', { err, from: `${source.address}:${source.port}` });
      if (message.kind === 'request' && message.method !== 'ACK') {
        try {
          this.sendTo({ kind: 'flow', source }, serializeMessage(makeResponse(message, 500, 'Server Internal Error')));
        } catch {
          /* the request was too broken even to answer */
        }
      }
    }
  }

  /** Carries out the transaction layer's actions; requests it delivers are answered or forwarded statelessly. */
  private run(actions: TransactionAction<MessageSource>[]): void {
    this.timerQueue.apply(actions);
    for (const a of actions) {
      if (a.type === 'send') {
        if (a.retransmission) this.stats.retransmissions++;
        this.sendTo({ kind: 'flow', source: a.flow }, a.bytes);
      } else if (a.type === 'deliver' && a.message.kind === 'request') {
        const req = a.message;
        const now = this.now();
        const outcome = req.method === 'REGISTER' ? this.register(req, a.flow, now) : undefined;
        const action: RouterAction = outcome
          ? { type: 'respond', response: outcome.response }
          : this.router.handleRequest(req, a.flow, now);
        this.judgeSource(a.flow, outcome, action, now);
        if (a.id === undefined) {
          // No transaction: an ACK, or a request past its source's transaction bound (answered statelessly).
          if (action.type === 'respond' && req.method !== 'ACK') this.answerStateless(action.response, a.flow);
          else this.act(action, a.flow.transport);
        } else if (action.type === 'respond' && !(outcome && this.keepsTransaction(req, outcome))) {
          this.run(this.transactions.abandon(a.id));
          this.answerStateless(action.response, a.flow);
        } else if (action.type === 'respond') {
          this.stats.answered++;
          this.run(this.transactions.respond(a.id, action.response, now));
        } else {
          this.run(this.transactions.abandon(a.id));
          this.act(action, a.flow.transport);
        }
      } else if (a.type === 'deliver') {
        // A response: matched to one of the UDP leg's client transactions (`id`), or to none (stateless as before).
        const res = a.message as SipResponse;
        if (a.id !== undefined) this.udpLeg.delivered(a.id, res, this.now());
        this.act(this.router.handleResponse(res, a.flow, this.now()));
      } else if (a.type === 'timeout') {
        // Timer B/F on the UDP leg: the phone gets 408 over its flow (§16.8), through the router like any response.
        const res = this.udpLeg.timedOut(a.id);
        if (res) this.act(this.router.handleResponse(res, undefined, this.now()));
      } else if (a.type === 'terminated') {
        this.udpLeg.forget(a.id);
      }
    }
    this.rearm();
  }

  /**
   * Only the answer to a REGISTER with credentials keeps its transaction: it changed bindings or counted a
   * failure and used a nonce-count, so a retransmission must get the same answer, not be processed (and counted,
   * or seen as a replay) again. Every other answer sbd gives itself has no effect a retransmission could repeat:
   * sent once, statelessly (RFC 3261 §8.2.7), never resent on Timer G toward an unverified source.
   * A failed answer to credentials is kept only while the table is at most half full: REGISTERs with made-up
   * credentials from many (spoofed) sources then cannot crowd out the transactions of successful ones.
   */
  private keepsTransaction(req: SipRequest, outcome: RegisterOutcome): boolean {
    // The registrar's own word for what it did: a binding read or changed (its 200s) keeps the transaction.
    if (outcome.result === 'registered' || outcome.result === 'unregistered' || outcome.result === 'queried') return true;
    return req.has('Authorization') && this.transactions.size <= this.maxTransactions / 2;
  }

  /**
   * Feeds the flood guard: a REGISTER that bound (or read/removed bindings) or a request routed on verifies its
   * source; an authentication or authorization refusal over UDP counts against it.
   */
  private judgeSource(flow: MessageSource, outcome: RegisterOutcome | undefined, action: RouterAction, now: number): void {
    const guard = this.floodGuard;
    if (!guard) return;
    const ok = outcome
      ? outcome.result === 'registered' || outcome.result === 'unregistered' || outcome.result === 'queried'
      : action.type === 'forward' || action.type === 'several';
    if (ok) {
      guard.recordSuccess(flow.address, now);
      return;
    }
    if (flow.transport !== 'udp' || action.type !== 'respond') return;
    const status = action.response.status;
    if ((status === 401 || status === 403 || status === 407) && guard.recordRefusal(flow.address, now)) {
      this.log.warn('source-banned', { address: flow.address, status });
    }
  }

  private answerStateless(res: SipResponse, flow: MessageSource): void {
    this.stats.answered++;
    this.stats.stateless++;
    this.sendTo({ kind: 'flow', source: flow }, serializeMessage(res));
  }

  private rearm(): void {
    const q = this.timerQueue.nextAt();
    const c = this.udpLeg.nextAt();
    const at = q === undefined ? c : c === undefined ? q : Math.min(q, c);
    if (at === undefined || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        const now = this.now();
        for (const d of this.timerQueue.due(now)) this.run(this.transactions.timerFired(d.id, d.timer, now));
        this.run(this.udpLeg.fireTimerC(now));
        this.rearm();
      },
      Math.max(0, at - this.now()),
    );
    this.timer.unref();
  }

  private register(req: SipRequest, source: MessageSource, now: number): RegisterOutcome {
    const r = this.registrar.handleRegister(req, source, now);
    if (r.result === 'registered' && r.user !== undefined) this.options.phoneControl?.registered(r.user, req.get('User-Agent'));
    if (r.result !== 'challenged')
      this.log.info('register', {
        result: r.result,
        status: r.response.status,
        aor: r.user,
        from: `${source.transport}:${source.address}:${source.port}`,
      });
    return r;
  }

  /**
   * `upstream`: the transport the request being routed came over; undefined for what a response brings (a
   * re-sent challenged request: its upstream is the Via below ours) and for what sbd originates (one Via).
   */
  private act(a: RouterAction, upstream?: TransportKind): void {
    if (a.type === 'several') {
      for (const x of a.actions) this.act(x, upstream);
      return;
    }
    if (a.type === 'drop') {
      this.stats.dropped++;
      return;
    }
    if (a.type === 'respond') {
      this.log.warn('unroutable-response');
      return;
    }
    if (a.type === 'log') {
      this.log.info(a.event, a.fields);
      return;
    }
    this.stats.forwarded++;
    if (
      a.message.kind === 'request' &&
      (a.target.kind === 'flow' ? a.target.source.transport : a.target.transport) === 'udp' &&
      this.toUdpLeg(a.message, a.target, upstream)
    )
      return;
    if (!this.sendTo(a.target, serializeMessage(a.message), a.message.kind === 'request')) {
      this.stats.dropped++;
      this.log.warn('no-route', {
        target:
          a.target.kind === 'flow'
            ? `${a.target.source.transport}:${a.target.source.address}:${a.target.source.port}`
            : `${a.target.transport}:${a.target.host}:${a.target.port}`,
      });
    }
  }

  /** A request for UDP: true when the UDP leg took it (a client transaction, or absorbed), false to send it bare. */
  private toUdpLeg(req: SipRequest, target: Target, upstream: TransportKind | undefined): boolean {
    if (req.method === 'ACK') {
      if (!this.udpLeg.absorbsAck(req)) return false;
      this.stats.dropped++;
      return true;
    }
    const from = upstream ?? (req.via()[1]?.transport.toLowerCase() as TransportKind | undefined);
    if (!UdpLeg.wants(req, 'udp', from)) return false;
    const flow: MessageSource = target.kind === 'flow' ? target.source : { transport: 'udp', address: target.host, port: target.port };
    const r = this.udpLeg.send(req, flow, this.now());
    if (r.kind === 'full') return false;
    if (r.kind === 'sent') this.run(r.actions);
    return true;
  }

  /**
   * Sends over the flow, or an open connection to the address. `dial`: a request to a trunk's address (the
   * trunk a route pattern chose, or a Route/Contact on a trunk's host) may open a TCP/TLS connection; other
   * addresses, flows (phones) and responses never do — a phone
   * whose connection is gone is reached again when it re-registers (RFC 5626 reasoning), and a response goes
   * back on the connection its request came on (§18.2.2).
   */
  private sendTo(target: Target, bytes: Buffer, dial = false): boolean {
    const t: TransportKind = target.kind === 'flow' ? target.source.transport : target.transport;
    const address = target.kind === 'flow' ? target.source.address : target.host;
    const port = target.kind === 'flow' ? target.source.port : target.port;
    if (t === 'udp') {
      this.udp.send(bytes, address, port);
      return true;
    }
    const stream = t === 'tls' ? this.tls : this.tcp;
    if (!stream) return false;
    if (target.kind === 'flow' && target.source.connectionId !== undefined && stream.sendOn(target.source.connectionId, bytes)) return true;
    const id = stream.findConnection(address, port);
    if (id !== undefined && stream.sendOn(id, bytes)) return true;
    if (!dial || target.kind !== 'address') return false;
    // Only towards a configured trunk (its address): a Request-URI or Route a phone wrote must not make the
    // appliance open connections to arbitrary hosts.
    const trunk = this.options.dialTrunk(target.trunk, address);
    if (trunk === undefined) return false;
    const ca = t === 'tls' ? trunk.ca : undefined;
    return stream.send(address, port, bytes, ca !== undefined ? { ca } : {});
  }

  /** Sends bytes sbd originates over a phone's registered flow; false when the flow is gone (phone-control). */
  sendOnFlow(flow: MessageSource, bytes: Buffer): boolean {
    return this.sendTo({ kind: 'flow', source: flow }, bytes);
  }

  /** Where this server listens on a transport (after listen()). */
  listenerFor(transport: TransportKind): { host: string; port: number } | undefined {
    return this.listeners.find((l) => l.transport === transport);
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    await Promise.all([this.udp.close(), this.tcp.close(), this.tls?.close()]);
  }
}
