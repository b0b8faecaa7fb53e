/**
 * SIP over TCP and TLS (RFC 3261 §18, RFC 5630 for TLS): a listener whose connections each run a core
 * `StreamFramer`. Thin shell: limits are options, the core does the parsing. Responses go back on the connection
 * the request came on (§18.2.2), and connections are indexed by peer address:port for reuse; every slot is bounded
 * (connections in all and per source, handshake, message and idle timeouts, pending writes: issue 16 row 8); TLS
 * settings come from lib/tls-service.ts and client certificates are asked for and required separately; `send`
 * dials trunks (TLS verified against the trunk's CA bundle; on the engine when the TLS listener runs there, see
 * dialOnEngine). Details: docs/sip-theory.md "Stream transport".
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect as connectTcp, createServer as createTcpServer, isIP, type Server, type Socket } from 'node:net';
import {
  connect as connectTls,
  createServer as createTlsServer,
  rootCertificates,
  type SecureContextOptions,
  type Server as TlsServer,
  type TLSSocket,
} from 'node:tls';
import { errorResponseFor } from '../core/messages/error-response.js';
import { SipParseError } from '../core/messages/errors.js';
import { parseMessage, type ParseOptions } from '../core/messages/parser.js';
import { stampReceived } from '../core/messages/response-routing.js';
import { StreamFramer, type FramerOptions } from '../core/messages/stream-framer.js';
import { tlsProtocolDefaults, tlsProtocolSettings, type TlsProtocolOptions } from '../../lib/tls-service.js';
import { emptyStats, type MessageHandler, type MessageSource, type TransportStats } from './types.js';
import { defaultTlsEngine } from '../../tls/engine-library.js';
import type { EngineSocket, TlsEngineService } from '../../tls/engine-service.js';
import { countEngineRefusals, engineContext, engineListener, enginePeerCertificate } from './tls-engine-listener.js';

export const defaultTlsCiphers = tlsProtocolDefaults.ciphers;

/** `ciphers` (TLS 1.2 list, OpenSSL syntax) and `minVersion` ('1.0' | '1.1' | '1.2', default '1.2') come from TlsProtocolOptions. */
export interface TlsSettings extends TlsProtocolOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** CAs that client certificates must chain to (the CAPF certificate for LSCs). */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * Ask every client for a certificate (TLS CertificateRequest) and verify what it sends against `ca`; a client
   * may still send none, or one that does not verify, and the connection stays up without `peerCertificate`.
   * Default false.
   */
  requestClientCertificate?: boolean;
  /** Refuse the handshake unless the client presents a certificate that chains to `ca` (implies request); default false. */
  requireClientCertificate?: boolean;
}

export interface StreamTransportOptions {
  /** Address to bind; default 0.0.0.0. */
  host?: string;
  /** Port; default 5060 for TCP, 5061 for TLS; 0 picks a free one. */
  port?: number;
  /** Present for TLS. */
  tls?: TlsSettings;
  /** Who runs the TLS listener: 'node' (node:tls) or 'native' (the C engine, src/tls; docs/tls.md). Default 'native' where libsbdtls.so is built, else 'node'. */
  tlsEngine?: 'node' | 'native';
  /** With tlsEngine 'native': ask OpenSSL for kernel TLS (SSL_OP_ENABLE_KTLS; the kernel's `tls` module). Default false. */
  ktls?: boolean;
  /** Inbound sockets open at once, TLS handshakes in progress included; default 20000. */
  maxConnections?: number;
  /** Inbound sockets open at once from one peer address; default 100. */
  maxConnectionsPerSource?: number;
  /** Milliseconds a TLS handshake may take before the socket is closed; default 10000 (Node's own is 120 s). */
  handshakeTimeout?: number;
  /**
   * Milliseconds an inbound connection has to complete its first message once open (after the TLS handshake),
   * and any connection to complete a message once its first bytes arrived; default 10000. Keep-alive CRLFs do
   * not count as a message.
   */
  messageTimeout?: number;
  /** Bytes queued towards a peer that does not read before the connection is dropped; default 1 MiB. */
  maxPendingWriteBytes?: number;
  /** Milliseconds without traffic before a connection is closed; default 600000 (10 min). */
  idleTimeout?: number;
  framer?: FramerOptions;
  parse?: ParseOptions;
  /** Milliseconds for an outbound connection (TCP connect and TLS handshake) before it is given up; default 10000. */
  connectTimeout?: number;
  /** Outbound connections open or opening at once; default 1000 (a send past it fails). */
  maxOutboundConnections?: number;
  /** CA bundle for outbound TLS when the target gives none; default the file /etc/ssl/certs/ca-certificates.crt, else Node's. */
  systemCaFile?: string;
  /** Told when an outbound connection fails (refused, timed out, certificate not trusted): the daemon logs it. */
  onConnectError?: (target: { address: string; port: number }, err: Error) => void;
}

/** Per-target settings of an outbound TLS connection. */
export interface OutboundTls {
  /** CAs the far end's certificate must chain to (the trunk's bundle); default the system's. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** SNI and the name the certificate must carry; default the host when it is a name (an IP is checked as an IP). */
  servername?: string;
}

export const streamTransportDefaults = {
  connectTimeout: 10_000,
  maxOutboundConnections: 1000,
  systemCaFile: '/etc/ssl/certs/ca-certificates.crt',
  maxConnections: 20_000,
  maxConnectionsPerSource: 100,
  handshakeTimeout: 10_000,
  messageTimeout: 10_000,
  idleTimeout: 600_000,
  /** The TLS listener's path (`defaultTlsEngine`: the C engine where it is built). */
  tlsEngine: defaultTlsEngine(),
} as const;

interface Dialling {
  /** Gives the connection up (close): no error is reported. */
  cancel: () => void;
  queue: Buffer[];
  bytes: number;
}

interface Conn {
  id: number;
  socket: Socket;
  framer: StreamFramer;
  source: MessageSource;
  /** Runs while a message is awaited: from an inbound connection's opening, and from a partial message's first bytes. */
  messageTimer: NodeJS.Timeout | undefined;
}

export class StreamTransport {
  readonly stats: TransportStats = emptyStats();
  private server: Server | undefined;
  /** The TLS listener when it runs on the C engine (`tlsEngine: 'native'`). */
  private engine: TlsEngineService | undefined;
  private readonly conns = new Map<number, Conn>();
  private readonly byPeer = new Map<string, number>();
  /** address|port → connection being opened by us, with what waits for it. */
  private readonly dialling = new Map<string, Dialling>();
  private outbound = 0;
  /** Accepted sockets open now (handshaking or not), in all and by peer address. */
  private inbound = 0;
  /** The same sockets, so `close` also ends handshakes in progress. */
  private readonly accepted = new Set<Socket>();
  private readonly inboundBySource = new Map<string, number>();
  private systemCa: Buffer | undefined | null = null;
  private nextId = 1;
  private readonly opts: StreamTransportOptions;
  /** The TLS identity, CAs and policy for new connections (replaced by setTlsSettings). */
  private tlsSettings: TlsSettings | undefined;
  private readonly handler: MessageHandler;
  readonly kind: 'tcp' | 'tls';

  constructor(handler: MessageHandler, options: StreamTransportOptions = {}) {
    this.handler = handler;
    this.opts = options;
    this.tlsSettings = options.tls;
    this.kind = options.tls ? 'tls' : 'tcp';
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Which TLS path serves (for `status` lines): 'node', 'engine' or 'engine+ktls'; undefined for TCP. */
  get tlsPath(): string | undefined {
    if (this.kind !== 'tls') return undefined;
    return this.engine ? this.engine.path : 'node';
  }

  /** Which TLS path the trunk dial-out takes: the engine's while the TLS listener runs on it, else node:tls. */
  get tlsDialPath(): 'node' | 'engine' | undefined {
    if (this.kind !== 'tls') return undefined;
    return this.engine ? 'engine' : 'node';
  }

  /** Accepted sockets open now, TLS handshakes in progress included (on the engine: its count, from accept). */
  get inboundCount(): number {
    return this.engine ? (this.engine.stats().active ?? 0) : this.inbound;
  }

  async listen(): Promise<{ address: string; port: number }> {
    const t = this.tlsSettings;
    if (t && (this.opts.tlsEngine ?? streamTransportDefaults.tlsEngine) === 'native') return this.listenOnEngine(t);
    const server = t
      ? createTlsServer(
          {
            ...secureContextOf(t),
            requestCert: (t.requestClientCertificate ?? false) || (t.requireClientCertificate ?? false),
            rejectUnauthorized: t.requireClientCertificate ?? false,
            handshakeTimeout: this.opts.handshakeTimeout ?? streamTransportDefaults.handshakeTimeout,
          },
          (s) => this.adopt(s, s.remoteAddress ?? '', s.remotePort ?? 0, true),
        )
      : createTcpServer((s) => this.adopt(s, s.remoteAddress ?? '', s.remotePort ?? 0, true));
    // Counted at accept, before any TLS handshake: placed ahead of node:tls's own listener, so a refused socket is
    // destroyed before a handshake starts on it.
    server.prependListener('connection', (s: Socket) => this.admit(s));
    // Handshake failures and resets are the peer's problem, never the daemon's.
    server.on('tlsClientError', (_err: Error, s: TLSSocket) => s.destroy());
    server.on('error', () => {});
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? (t ? 5061 : 5060), this.opts.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address();
    if (a === null || typeof a === 'string') throw new Error('listener has no address');
    return { address: a.address, port: a.port };
  }

  /**
   * The engine counts, caps and handshakes in C; a socket it hands over is counted here too (so `close` ends it),
   * with the same caps, which therefore refuse nothing the engine admitted.
   */
  private async listenOnEngine(t: TlsSettings): Promise<{ address: string; port: number }> {
    const engine = engineListener({
      host: this.opts.host ?? '0.0.0.0',
      port: this.opts.port ?? 5061,
      settings: t,
      handshakeTimeoutMs: this.opts.handshakeTimeout ?? streamTransportDefaults.handshakeTimeout,
      maxConnections: this.opts.maxConnections ?? streamTransportDefaults.maxConnections,
      maxConnectionsPerSource: this.opts.maxConnectionsPerSource ?? streamTransportDefaults.maxConnectionsPerSource,
      ktls: this.opts.ktls ?? false,
      onConnection: (s) => {
        this.admit(s);
        this.adopt(s, s.remoteAddress ?? '', s.remotePort ?? 0, true);
      },
    });
    this.engine = engine;
    countEngineRefusals(this.stats, engine);
    const a = await engine.listen();
    return { address: a.address, port: a.port };
  }

  /**
   * New identity, CAs and protocol policy for connections from now on (sbd-sipd follows the store: a regenerated
   * CallManager certificate, a new CAPF, TLSMinVersion), inbound and outbound; open connections keep theirs.
   * Whether client certificates are asked for or required stays as it was at `listen`.
   */
  setTlsSettings(settings: TlsSettings): void {
    if (this.kind !== 'tls') throw new Error('setTlsSettings on a TCP transport');
    this.tlsSettings = {
      ...settings,
      requestClientCertificate: this.opts.tls?.requestClientCertificate,
      requireClientCertificate: this.opts.tls?.requireClientCertificate,
    };
    (this.server as TlsServer | undefined)?.setSecureContext(secureContextOf(settings));
    this.engine?.setSecureContext(...engineContext(this.tlsSettings));
  }

  /** Accept or refuse a new inbound socket against the total and per-source caps. */
  private admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    const fromSource = this.inboundBySource.get(address) ?? 0;
    if (
      this.inbound >= (this.opts.maxConnections ?? streamTransportDefaults.maxConnections) ||
      fromSource >= (this.opts.maxConnectionsPerSource ?? streamTransportDefaults.maxConnectionsPerSource)
    ) {
      this.stats.rejectedConnections++;
      socket.destroy();
      return;
    }
    this.inbound++;
    this.inboundBySource.set(address, fromSource + 1);
    this.accepted.add(socket);
    socket.once('close', () => {
      this.inbound--;
      this.accepted.delete(socket);
      const n = (this.inboundBySource.get(address) ?? 1) - 1;
      if (n <= 0) this.inboundBySource.delete(address);
      else this.inboundBySource.set(address, n);
    });
  }

  private adopt(socket: Socket, address: string, port: number, inbound = false): Conn | undefined {
    // A socket refused by `admit` (or reset during the handshake) is already gone.
    if (socket.destroyed) return undefined;
    const id = this.nextId++;
    const source: MessageSource = { transport: this.kind, address, port, connectionId: id };
    const tlsSocket = socket as TLSSocket;
    // Only a certificate that verified against `ca` is handed up; one that did not is treated as none.
    if ((socket as Partial<EngineSocket>).tls !== undefined) source.peerCertificate = enginePeerCertificate(socket as EngineSocket);
    else if (this.kind === 'tls' && tlsSocket.authorized) {
      const c = tlsSocket.getPeerCertificate();
      if (c?.fingerprint256) {
        source.peerCertificate = { subject: formatDn(c.subject), issuer: formatDn(c.issuer), fingerprint256: c.fingerprint256 };
      }
    }
    const conn: Conn = { id, socket, framer: new StreamFramer(this.opts.framer), source, messageTimer: undefined };
    this.conns.set(id, conn);
    this.byPeer.set(`${address}|${port}`, id);
    this.stats.connections++;
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.idleTimeout ?? streamTransportDefaults.idleTimeout, () => socket.destroy());
    // A connection we accepted must say something complete soon (an outbound one waits for us to speak first).
    if (inbound) this.awaitMessage(conn);
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (conn.messageTimer) clearTimeout(conn.messageTimer);
      this.conns.delete(id);
      if (this.byPeer.get(`${address}|${port}`) === id) this.byPeer.delete(`${address}|${port}`);
    });
    return conn;
  }

  /**
   * Sends to address:port over an open connection to it, or over a new one that we open (queued until it is
   * up). False when it cannot be sent: too many outbound connections, or the queue for the connection being
   * opened is full. A connection that then fails drops what was queued (reported through onConnectError).
   */
  send(address: string, port: number, bytes: Buffer, tls: OutboundTls = {}): boolean {
    const key = `${address}|${port}`;
    const open = this.byPeer.get(key);
    if (open !== undefined && this.sendOn(open, bytes)) return true;
    const pending = this.dialling.get(key);
    if (pending) {
      if (pending.bytes + bytes.length > (this.opts.maxPendingWriteBytes ?? 1 << 20)) return false;
      pending.queue.push(bytes);
      pending.bytes += bytes.length;
      return true;
    }
    if (this.outbound >= (this.opts.maxOutboundConnections ?? streamTransportDefaults.maxOutboundConnections)) {
      this.stats.rejectedConnections++;
      return false;
    }
    this.dial(address, port, tls).queue.push(bytes);
    this.dialling.get(key)!.bytes += bytes.length;
    return true;
  }

  private dial(address: string, port: number, tls: OutboundTls): Dialling {
    const key = `${address}|${port}`;
    const t = this.tlsSettings;
    if (t && this.engine) return this.dialOnEngine(address, port, tls);
    // RFC 6066 SNI carries names only; an IP literal is checked against the certificate's IP addresses.
    const servername = tls.servername ?? (isIP(address) === 0 ? address : undefined);
    const socket: Socket = t
      ? connectTls({
          host: address,
          port,
          ca: tls.ca ?? this.defaultCa(),
          cert: t.cert,
          key: t.key,
          ...tlsProtocolSettings(t),
          maxVersion: 'TLSv1.3',
          rejectUnauthorized: true,
          ...(servername !== undefined ? { servername } : {}),
        })
      : connectTcp({ host: address, port });
    const d: Dialling = { cancel: () => socket.destroy(), queue: [], bytes: 0 };
    this.dialling.set(key, d);
    this.outbound++;
    let settled = false; // connected, or its failure reported (once)
    const timer = setTimeout(
      () =>
        socket.destroy(
          new Error(`no connection to ${address}:${port} within ${this.opts.connectTimeout ?? streamTransportDefaults.connectTimeout} ms`),
        ),
      this.opts.connectTimeout ?? streamTransportDefaults.connectTimeout,
    );
    timer.unref();
    socket.once(t ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      settled = true;
      this.dialling.delete(key);
      this.stats.outboundConnections++;
      const conn = this.adopt(socket, address, port);
      if (!conn) return;
      socket.cork();
      for (const b of d.queue) this.sendOn(conn.id, b);
      if (!socket.destroyed) socket.uncork();
      d.queue = [];
    });
    socket.on('error', (err) => {
      if (settled) return;
      settled = true;
      this.stats.connectFailures++;
      this.opts.onConnectError?.({ address, port }, err);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      this.outbound--;
      if (this.dialling.get(key) === d) this.dialling.delete(key);
    });
    return d;
  }

  /**
   * The same dial on the TLS engine (issue 20 item 3), used when the TLS listener runs on it: the engine's workers
   * connect and handshake (SNI, name check, the trunk's CA bundle, the CallManager certificate as the client's,
   * the store's versions and suites), then the connection is an EngineStream adopted as a socket would be. A
   * failure is reported with the error node:tls gives for it (src/tls/engine-dial.ts).
   */
  private dialOnEngine(address: string, port: number, tls: OutboundTls): Dialling {
    const key = `${address}|${port}`;
    const engine = this.engine!;
    const timeoutMs = this.opts.connectTimeout ?? streamTransportDefaults.connectTimeout;
    const abort = new AbortController();
    const d: Dialling = { cancel: () => abort.abort(), queue: [], bytes: 0 };
    this.dialling.set(key, d);
    this.outbound++;
    let timedOut: Error | undefined;
    const timer = setTimeout(() => {
      timedOut = new Error(`no connection to ${address}:${port} within ${timeoutMs} ms`);
      abort.abort(timedOut);
    }, timeoutMs);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      if (this.dialling.get(key) === d) this.dialling.delete(key);
    };
    const ca = tls.ca ?? this.defaultCa() ?? rootCertificates;
    engine
      .dial({
        address,
        port,
        ca: (Array.isArray(ca) ? ca : [ca]).map((c) => c.toString()).join('\n'),
        timeoutMs,
        signal: abort.signal,
        ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
      })
      .then(
        (stream) => {
          done();
          stream.once('close', () => this.outbound--);
          this.stats.outboundConnections++;
          const conn = this.adopt(stream as unknown as Socket, address, port);
          if (!conn) return;
          stream.cork();
          for (const b of d.queue) this.sendOn(conn.id, b);
          if (!stream.destroyed) stream.uncork();
          d.queue = [];
        },
        (err: Error) => {
          done();
          this.outbound--;
          if (abort.signal.aborted && abort.signal.reason !== timedOut) return; // closed by us: nothing to report, as node:tls's destroy()
          this.stats.connectFailures++;
          this.opts.onConnectError?.({ address, port }, err);
        },
      );
    return d;
  }

  private defaultCa(): Buffer | undefined {
    if (this.systemCa === null) {
      const f = this.opts.systemCaFile ?? streamTransportDefaults.systemCaFile;
      this.systemCa = existsSync(f) ? readFileSync(f) : undefined;
    }
    return this.systemCa;
  }

  private onData(conn: Conn, chunk: Buffer): void {
    // Answers to the messages of one chunk (a pipelining client sends many) leave in one write, not one each.
    conn.socket.cork();
    let completed = false;
    try {
      for (const ev of conn.framer.push(chunk)) {
        if (ev.type === 'ping') conn.socket.write('\r\n');
        else if (ev.type === 'error') {
          this.stats.parseErrors++;
          conn.socket.destroy();
          return;
        } else if (ev.type === 'message') {
          completed = true;
          this.onMessage(conn, ev.bytes);
        }
      }
    } finally {
      if (!conn.socket.destroyed) conn.socket.uncork();
    }
    if (completed && conn.messageTimer) {
      clearTimeout(conn.messageTimer);
      conn.messageTimer = undefined;
    }
    // A message has started (or the first one is still awaited): its clock runs from now, not per byte.
    if (conn.framer.buffered > 0 && conn.messageTimer === undefined && !conn.socket.destroyed) this.awaitMessage(conn);
  }

  private awaitMessage(conn: Conn): void {
    conn.messageTimer = setTimeout(() => {
      conn.messageTimer = undefined;
      this.stats.messageTimeouts++;
      conn.socket.destroy();
    }, this.opts.messageTimeout ?? streamTransportDefaults.messageTimeout);
    conn.messageTimer.unref();
  }

  private onMessage(conn: Conn, bytes: Buffer): void {
    let message;
    try {
      message = parseMessage(bytes, this.opts.parse, 'stream');
    } catch (err) {
      this.stats.parseErrors++;
      if (err instanceof SipParseError) {
        const answer = errorResponseFor(bytes, err);
        if (answer) this.sendOn(conn.id, answer);
      }
      return;
    }
    this.stats.received++;
    if (message.kind === 'request') stampReceived(message, conn.source);
    this.handler({ message, source: conn.source });
  }

  /** Send on an open connection; false when it is gone (the caller may then try `findConnection`). */
  sendOn(connectionId: number, bytes: Buffer): boolean {
    const c = this.conns.get(connectionId);
    if (!c || c.socket.destroyed) return false;
    this.stats.sent++;
    c.socket.write(bytes);
    // A peer that never reads must not make us hold its answers without bound.
    if (c.socket.writableLength > (this.opts.maxPendingWriteBytes ?? 1 << 20)) c.socket.destroy();
    return true;
  }

  /** The open connection from that peer address and port, if any (reuse for requests towards a phone). */
  findConnection(address: string, port: number): number | undefined {
    return this.byPeer.get(`${address}|${port}`);
  }

  async close(): Promise<void> {
    for (const d of this.dialling.values()) d.cancel();
    for (const c of this.conns.values()) c.socket.destroy();
    for (const a of this.accepted) a.destroy();
    await this.engine?.close();
    this.engine = undefined;
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** What a TLS listener's context holds: identity, client CAs, version range and suites. */
function secureContextOf(t: TlsSettings): SecureContextOptions {
  return { cert: t.cert, key: t.key, ca: t.ca, ...tlsProtocolSettings(t), maxVersion: 'TLSv1.3', honorCipherOrder: true };
}

function formatDn(dn: object | undefined): string {
  if (!dn) return '';
  return Object.entries(dn as Record<string, string | string[]>)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ');
}
