/**
 * `TlsService` (src/lib/tls-service.ts) with the TLS work in the C engine (native/tls-*.c): the engine owns the
 * listening socket, accepts, makes the handshake on its worker threads (every core) and keeps the record layer —
 * or hands it to the kernel (kTLS) where the kernel has the TLS ULP. The daemon's `onConnection` gets a stream of
 * plaintext with the surface of a net.Socket (an `EngineStream` on the worker's shared stream; with kTLS the TCP
 * socket itself), with the peer's address and the session's facts attached (`tls`). Same options, caps, log lines
 * and close as `TlsService`, which stays the reference implementation (docs/tls.md says why).
 */
import type { AddressInfo, Socket } from 'node:net';
import { lookup } from 'node:dns/promises';
import fs from 'node:fs';
import net from 'node:net';
import { cpus } from 'node:os';
import type tls from 'node:tls';
import { tlsProtocolSettings, tlsServiceDefaults, type TlsProtocolOptions, type TlsServiceOptions } from '../lib/tls-service.js';
import { engineMessage, kernelTlsAvailable, tlsEngineApi } from './engine-library.js';
import { type EngineDialError, type EngineDialOptions, engineDialDefaults, engineDialError } from './engine-dial.js';
import { EngineLink, EngineStream, type EngineTlsInfo } from './engine-stream.js';
import { TlsEngineError, TlsEngineErrorCode } from './errors.js';
import { encodeDial, type Frame, FrameKind, parseDialError, parseFacts, parseHandshakeError, type SessionFacts } from './stream-codec.js';

export type { EngineDialOptions, EngineDialError } from './engine-dial.js';

interface PendingDial {
  resolve: (s: EngineStream) => void;
  reject: (e: EngineDialError) => void;
  facts: { address: string; port: number; name: string; timeoutMs: number };
}

export type { EngineTlsInfo } from './engine-stream.js';

export interface TlsEngineOptions {
  /** Handshake threads. Default: one per CPU. */
  workers?: number;
  /** After our close_notify, how long the peer may take to close. Default 10000 ms. */
  lingerMs?: number;
  /** Session ticket keys rotate this often; tickets resume for up to two periods. 0 never. Default 3600 s. */
  ticketRotationS?: number;
  /** Ask OpenSSL for kernel TLS (SSL_OP_ENABLE_KTLS; the engine then runs on the system libssl, see engine-library.ts); used only where the kernel has it. Default false. */
  ktls?: boolean;
  /** TLS 1.3 suites. Default AES-GCM only (`tlsEngineDefaults.tls13Ciphersuites`). */
  tls13Ciphersuites?: string;
  /**
   * Client certificates (mutual TLS): the CA certificates (PEM) they must chain to; `require` refuses a client
   * without one. `admitUnverified` lets a certificate that does not chain in and says so (`tls.peerVerified`
   * false), as node:tls's `rejectUnauthorized: false` (SIP's request mode: the registrar decides). Default false.
   */
  clientCertificates?: { ca: string; require: boolean; admitUnverified?: boolean };
  /** TCP listen backlog. Default 511 (Node's). */
  backlog?: number;
  /**
   * For a protocol whose client speaks first (SIP, TVS): an accepted connection reaches `onConnection` with its
   * first bytes (or 20 ms after the handshake, SBD_TLS_LAZY_MS), so Node wakes once for both. Default false (CAPF,
   * whose server speaks first: at once).
   */
  lazyOpen?: boolean;
  /**
   * Bytes in flight per connection and direction between the engine and Node (the flow-control window): what the
   * engine decrypted that the daemon has not read, and what the daemon wrote that TLS has not taken. Also the
   * engine's most per connection. Default 65536.
   */
  windowBytes?: number;
}

export const tlsEngineDefaults = {
  lingerMs: 10000,
  ticketRotationS: 3600,
  ktls: false,
  tls13Ciphersuites: 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256',
  backlog: 511,
  windowBytes: 65536,
} as const;

export type EngineSocket = Socket & { tls: EngineTlsInfo };

const VERSIONS: Record<tls.SecureVersion, number> = { TLSv1: 0x301, 'TLSv1.1': 0x302, 'TLSv1.2': 0x303, 'TLSv1.3': 0x304 };

function pem(v: unknown, what: string): string {
  const one = Array.isArray(v) ? v : [v];
  if (one.every((x) => typeof x === 'string' || Buffer.isBuffer(x))) return one.map((x) => x.toString()).join('\n');
  throw new TlsEngineError(TlsEngineErrorCode.identity, `${what}: the TLS engine takes PEM text only`);
}

export class TlsEngineService {
  readonly #o: TlsServiceOptions & TlsEngineOptions;
  #protocol: TlsProtocolOptions;
  #engine: unknown;
  #links: EngineLink[] = [];
  #address: AddressInfo | undefined;
  readonly #sockets = new Set<EngineSocket | EngineStream>();
  #reloadTimer: NodeJS.Timeout | undefined;
  #closing = false;
  #client: TlsEngineOptions['clientCertificates'];
  /** Dials under way by tag (the engine echoes it in dialed / dialError frames). */
  readonly #dials = new Map<number, PendingDial>();
  #tag = 0;
  /**
   * 'engine' (the engine keeps the record layer) or 'engine+ktls': kTLS asked for where the kernel has the ULP, or
   * once a connection went to the kernel.
   */
  path: 'engine' | 'engine+ktls' = 'engine';

  constructor(o: TlsServiceOptions & TlsEngineOptions) {
    this.#o = o;
    this.#client = o.clientCertificates;
    this.#protocol = { ...(o.minVersion ? { minVersion: o.minVersion } : {}), ...(o.ciphers ? { ciphers: o.ciphers } : {}) };
    const workers = o.workers ?? cpus().length;
    if (!Number.isInteger(workers) || workers < 1 || workers > 256)
      throw new TlsEngineError(TlsEngineErrorCode.option, `workers must be 1..256, not ${workers}`);
    const w = o.windowBytes ?? tlsEngineDefaults.windowBytes;
    if (!Number.isInteger(w) || w < 16384 || w > 1 << 24)
      throw new TlsEngineError(TlsEngineErrorCode.option, `windowBytes must be 16384..16777216, not ${w}`);
    tlsEngineApi({ ktls: o.ktls ?? tlsEngineDefaults.ktls }); // ERR_TLS_ENGINE_MISSING now, not at listen
    if ((o.ktls ?? tlsEngineDefaults.ktls) && kernelTlsAvailable()) this.path = 'engine+ktls';
  }

  #config(): string {
    const o = this.#o;
    const lines = {
      host: o.host,
      port: o.port,
      workers: o.workers ?? cpus().length,
      max_connections: o.maxConnections,
      max_per_source: o.maxConnectionsPerSource ?? tlsServiceDefaults.maxConnectionsPerSource,
      handshake_timeout_ms: o.handshakeTimeoutMs,
      linger_ms: o.lingerMs ?? tlsEngineDefaults.lingerMs,
      ticket_rotation_s: o.ticketRotationS ?? tlsEngineDefaults.ticketRotationS,
      ktls: (o.ktls ?? tlsEngineDefaults.ktls) ? 1 : 0,
      lazy_open: o.lazyOpen ? 1 : 0,
      backlog: o.backlog ?? tlsEngineDefaults.backlog,
      window: o.windowBytes ?? tlsEngineDefaults.windowBytes,
    };
    return Object.entries(lines)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
  }

  #applyIdentity(identity: tls.SecureContextOptions, protocol: TlsProtocolOptions): void {
    const settings = tlsProtocolSettings(protocol);
    // node:tls takes TLS 1.3 suite names inside `ciphers`; so does the engine, else its AES-GCM default.
    const names = settings.ciphers.split(':');
    const suites =
      names.filter((n) => n.startsWith('TLS_')).join(':') || (this.#o.tls13Ciphersuites ?? tlsEngineDefaults.tls13Ciphersuites);
    const client = this.#client;
    const err = Buffer.alloc(512);
    const rc = tlsEngineApi().setIdentity(
      this.#engine,
      pem(identity.cert, 'certificate'),
      pem(identity.key, 'key'),
      client ? client.ca : '',
      names.filter((n) => !n.startsWith('TLS_')).join(':'),
      suites,
      VERSIONS[settings.minVersion],
      (client?.require ? 1 : 0) | (client?.admitUnverified ? 2 : 0),
      err,
      err.length,
    );
    if (rc !== 0) throw new TlsEngineError(TlsEngineErrorCode.identity, `TLS engine identity: ${engineMessage(err)}`);
  }

  /**
   * New identity and, when given, protocol policy and client CAs (a new CAPF) for connections accepted from now
   * on (open ones keep theirs).
   */
  setSecureContext(
    identity: tls.SecureContextOptions,
    protocol: TlsProtocolOptions = this.#protocol,
    clientCertificates: TlsEngineOptions['clientCertificates'] = this.#client,
  ): void {
    const before = this.#client;
    this.#client = clientCertificates;
    try {
      this.#applyIdentity(identity, protocol);
    } catch (e) {
      this.#client = before;
      throw e;
    }
    this.#protocol = protocol;
  }

  get protocol(): TlsProtocolOptions {
    return this.#protocol;
  }

  async listen(): Promise<AddressInfo> {
    const api = tlsEngineApi();
    const err = Buffer.alloc(512);
    const engine = api.create(this.#config(), err, err.length);
    if (!engine) throw new TlsEngineError(TlsEngineErrorCode.start, `TLS engine: ${engineMessage(err)}`);
    this.#engine = engine;
    try {
      this.#applyIdentity(this.#o.secureContext, this.#protocol);
    } catch (e) {
      api.free(engine);
      this.#engine = undefined;
      throw e;
    }
    if (api.start(engine) !== 0) {
      await this.close();
      throw new TlsEngineError(TlsEngineErrorCode.start, 'TLS engine: could not start its worker threads');
    }
    const window = this.#o.windowBytes ?? tlsEngineDefaults.windowBytes;
    const onError = (e: unknown) => this.#o.logger.error('engine-stream-error', { error: e });
    for (let i = 0; i < api.workers(engine); i++) {
      const socket = new net.Socket({ fd: api.streamFd(engine, i), readable: true, writable: true });
      this.#links.push(new EngineLink(socket, window, (link, f) => this.#onFrame(link, f), onError));
    }
    const buf = Buffer.alloc(128);
    const [fam, address, port] = buf.toString('latin1', 0, Math.max(0, api.local(engine, buf, buf.length))).split(' ');
    this.#address = { family: fam === '6' ? 'IPv6' : 'IPv4', address: address!, port: Number(port) };
    if (this.#o.reloadIntervalMs > 0) {
      this.#reloadTimer = setInterval(this.#o.reload, this.#o.reloadIntervalMs);
      this.#reloadTimer.unref();
    }
    this.#o.logger.info('listening', { address: this.#address.address, port: this.#address.port, tls: 'engine' });
    return this.#address;
  }

  /**
   * The trunk dial-out: a TLS connection to `address`:`port` made by the engine's workers (connect, handshake
   * with SNI and the name check, the peer verified against `ca`, this service's certificate as the client's),
   * then relayed as an accepted one. Rejects with the error node:tls gives for the same failure (engine-dial.ts).
   */
  async dial(o: EngineDialOptions): Promise<EngineStream> {
    const engine = this.#engine;
    if (!engine || this.#closing || this.#links.length === 0)
      throw new TlsEngineError(TlsEngineErrorCode.notRunning, 'the TLS engine is not running: no dial');
    const err = Buffer.alloc(512);
    const trust = tlsEngineApi().trust(engine, o.ca, err, err.length);
    if (trust < 0) throw new TlsEngineError(TlsEngineErrorCode.trust, `CA bundle for ${o.address}:${o.port}: ${engineMessage(err)}`);
    const timeoutMs = o.timeoutMs ?? engineDialDefaults.timeoutMs;
    const until = Date.now() + timeoutMs;
    // RFC 6066 §3: SNI carries names only; an IP literal is checked against the certificate's IP addresses.
    const name = o.servername ?? o.address;
    const sni = o.servername ?? (net.isIP(o.address) === 0 ? o.address : undefined);
    const ips = net.isIP(o.address) ? [o.address] : (await lookup(o.address, { all: true })).map((a) => a.address);
    let last: unknown;
    for (const ip of ips) {
      o.signal?.throwIfAborted();
      try {
        const facts = { address: o.address, port: o.port, name, timeoutMs };
        return await this.#dialOne(ip, o.port, name, sni && net.isIP(sni) === 0 ? sni : undefined, trust, until, facts, o.signal);
      } catch (e) {
        last = e;
        if ((e as EngineDialError).what !== 'connect') throw e; // as net.connect: the next address only when refused
      }
    }
    throw last;
  }

  #dialOne(
    ip: string,
    port: number,
    name: string,
    sni: string | undefined,
    trust: number,
    until: number,
    facts: PendingDial['facts'],
    signal: AbortSignal | undefined,
  ): Promise<EngineStream> {
    const tag = (this.#tag = (this.#tag % 0x7fffffff) + 1);
    const link = this.#links[tag % this.#links.length]!;
    return new Promise<EngineStream>((resolve, reject) => {
      const onAbort = () => {
        this.#dials.delete(tag); // a late dialed frame for it is closed at once
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => signal?.removeEventListener('abort', onAbort);
      this.#dials.set(tag, {
        resolve: (s) => (settle(), resolve(s)),
        reject: (e) => (settle(), reject(e)),
        facts,
      });
      link.send(encodeDial({ tag, address: ip, port, name, sni, trust, timeoutMs: Math.max(1, until - Date.now()) }));
    });
  }

  #onDialFrame(link: EngineLink, f: Frame): void {
    if (f.kind === FrameKind.dialError) {
      const ev = parseDialError(f.payload);
      const pending = this.#dials.get(ev.tag);
      this.#dials.delete(ev.tag);
      return pending?.reject(engineDialError(ev, pending.facts));
    }
    const facts = parseFacts(FrameKind.dialed, f.payload);
    const stream = new EngineStream(link, f.id, facts.address, facts.port, tlsInfo(facts));
    const pending = this.#dials.get(facts.tag!);
    this.#dials.delete(facts.tag!);
    if (!pending || this.#closing) return void stream.destroy();
    this.#sockets.add(stream);
    stream.once('close', () => this.#sockets.delete(stream));
    pending.resolve(stream);
  }

  #onFrame(link: EngineLink, f: Frame): void {
    if (f.kind === FrameKind.dialed || f.kind === FrameKind.dialError) {
      try {
        return this.#onDialFrame(link, f);
      } catch (e) {
        return this.#o.logger.error('engine-stream-error', { error: e });
      }
    }
    if (f.id !== 0) {
      if (f.kind !== FrameKind.open) return link.streams.get(f.id)?.onFrame(f.kind, f.payload);
      let facts: SessionFacts;
      try {
        facts = parseFacts(FrameKind.open, f.payload);
      } catch (e) {
        this.#o.logger.error('engine-stream-error', { error: e });
        facts = {
          fd: undefined,
          address: '?',
          port: 0,
          version: '?',
          cipher: '?',
          resumed: false,
          ktls: false,
          peerVerified: false,
          peerCertificate: undefined,
        };
      }
      const stream = new EngineStream(link, f.id, facts.address, facts.port, tlsInfo(facts));
      if (this.#closing) return void stream.destroy();
      return this.#adopt(stream);
    }
    if (f.kind === FrameKind.error) {
      const ev = parseHandshakeError(f.payload);
      const remote = `${ev.address}:${ev.port}`;
      this.#o.logger.info('tls-error', { remote, reason: ev.reason });
      this.#o.onTlsError?.(Object.assign(new Error(ev.reason), { remote }));
    } else if (f.kind === FrameKind.ktls) {
      let facts: SessionFacts;
      try {
        facts = parseFacts(FrameKind.ktls, f.payload);
      } catch (e) {
        return this.#o.logger.error('engine-stream-error', { error: e });
      }
      if (this.#closing) return fs.close(facts.fd!, () => {});
      this.#onKtls(facts);
    }
  }

  /** Kernel TLS: the TCP socket itself, as an ordinary net.Socket with the TLS peer's facts. */
  #onKtls(ev: SessionFacts): void {
    const socket = new net.Socket({ fd: ev.fd!, readable: true, writable: true }) as EngineSocket;
    // Node's own view of an fd-wrapped socket may lack the peer: the engine's is authoritative.
    Object.defineProperties(socket, {
      remoteAddress: { value: ev.address },
      remotePort: { value: ev.port },
      remoteFamily: { value: ev.address.includes(':') ? 'IPv6' : 'IPv4' },
    });
    socket.tls = tlsInfo(ev);
    this.path = 'engine+ktls';
    this.#adopt(socket);
  }

  #adopt(socket: EngineSocket | EngineStream): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    this.#o.onConnection(socket as unknown as tls.TLSSocket);
  }

  address(): AddressInfo {
    if (!this.#address) throw new TlsEngineError(TlsEngineErrorCode.start, 'the TLS engine is not listening');
    return { ...this.#address };
  }

  /** The engine's counters (native/tls-engine.c sbd_tls_engine_stats). */
  stats(): Record<string, number> {
    if (!this.#engine) return {};
    const buf = Buffer.alloc(1024);
    const n = tlsEngineApi().stats(this.#engine, buf, buf.length);
    const out: Record<string, number> = {};
    for (const line of buf.toString('latin1', 0, Math.max(0, n)).split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) out[line.slice(0, eq)] = Number(line.slice(eq + 1));
    }
    return out;
  }

  get rejectedPerSource(): number {
    return this.stats().refusedPerSource ?? 0;
  }

  /** Open connections: accepted, handshaking or in a session (kTLS sockets Node holds included). */
  async connectionCount(): Promise<number> {
    let ktls = 0;
    for (const s of this.#sockets) if (s.tls.ktls) ktls++;
    return (this.stats().active ?? 0) + ktls;
  }

  /** A new ticket key now (the previous one still resumes); for tests and an operator's "rotate". */
  rotateTicketKeys(): void {
    if (this.#engine) tlsEngineApi().rotateTickets(this.#engine);
  }

  /** Stops accepting; open connections are ended after `graceMs` (default at once). */
  async close(graceMs = 0): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#reloadTimer) clearInterval(this.#reloadTimer);
    const engine = this.#engine;
    if (!engine) return;
    const api = tlsEngineApi();
    api.stopAccepting(engine);
    const until = Date.now() + graceMs;
    // No event tells "the last connection ended": the engine's count is polled during the grace period.
    while (Date.now() < until && (await this.connectionCount()) > 0) await new Promise((r) => setTimeout(r, 20));
    this.#engine = undefined;
    api.free(engine);
    for (const s of this.#sockets) s.destroy();
    for (const l of this.#links) l.destroy();
    for (const d of this.#dials.values()) {
      const f = d.facts;
      d.reject(Object.assign(new Error(`no connection to ${f.address}:${f.port}: the TLS engine closed`), { what: 'tls' as const }));
    }
    this.#dials.clear();
  }
}

function tlsInfo(f: SessionFacts): EngineTlsInfo {
  const { version, cipher, resumed, ktls, peerVerified, peerCertificate } = f;
  return { version, cipher, resumed, ktls, peerVerified, peerCertificate };
}
