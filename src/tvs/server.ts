/**
 * sbd-tvsd's I/O shell: a TLS server (node:tls, OpenSSL) on TCP 2445 presenting the node's TVS certificate from
 * the store. One VERIFY_REQUEST and one VERIFY_RESPONSE per connection (spec §3.1); the response goes out in one
 * write and the connection is closed. A malformed or oversized frame, a wrong protocol id or a silent client
 * closes the connection with one log line; nothing a client sends can stop the server. When the store changes
 * (a TVS regeneration, a new cipher list) the certificate is swapped for new connections without a restart.
 */
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type tls from 'node:tls';
import { silentLogger, type Logger } from '../lib/log.js';
import { storeTlsProtocol, TlsService, type TlsMinVersion, type TlsProtocolOptions, type TlsServiceOptions } from '../lib/tls-service.js';
import { privateKeyOf } from '../pki/identity-store.js';
import { defaultTlsEngine } from '../tls/engine-library.js';
import { TlsEngineService } from '../tls/engine-service.js';
import type { CertRow } from '../store/index.js';
import type { TvsTrustView } from './trust-view.js';
import { TvsError, TvsErrorCode } from './core/errors.js';
import { TvsFrameReader, TVS_FRAME_READER_DEFAULTS } from './core/frame-reader.js';
import { buildVerifyResponse, parseVerifyRequest, TvsStatus } from './core/verify.js';
import { TRUST_ANSWER_DEFAULTS, TrustAnswerer, type TrustAnswerOptions } from './trust-answer.js';

export interface TvsServerOptions extends TrustAnswerOptions {
  /** The store, seen through TVS's narrow view (trust-view.ts). */
  store: TvsTrustView;
  /** Store node whose TVS certificate is presented. Default: the publisher if it runs TVS, else the first TVS node. */
  node?: string;
  /** Default '0.0.0.0'. */
  host?: string;
  /** Default 2445 (spec §3.1). 0 picks a free port. */
  port?: number;
  /** Largest request body. Default 16384 (see TvsFrameReader). */
  maxBodyBytes?: number;
  /** A TLS handshake must finish within this. Default 10000 ms (tvsd's socket timeout). */
  handshakeTimeoutMs?: number;
  /** The whole request must arrive within this after the handshake. Default 10000 ms. */
  requestTimeoutMs?: number;
  /** Connections beyond this are refused at accept. Default 4096 (the unit must allow the file descriptors). */
  maxConnections?: number;
  /** How often the store generation is checked for a new TVS certificate or cipher list. Default 2000 ms. */
  reloadIntervalMs?: number;
  /** Lowest TLS version. Default: the store's TLSMinVersion, read again on reload (7900-series phones need '1.0', spec §3.1). */
  minVersion?: TlsMinVersion;
  /** Who does TLS: 'node' (node:tls, the reference) or 'native' (the C engine, src/tls; docs/tls.md). Default 'native' where libsbdtls.so is built, else 'node' (`defaultTlsEngine`). */
  tlsEngine?: 'node' | 'native';
  /** With tlsEngine 'native': ask OpenSSL for kernel TLS (SSL_OP_ENABLE_KTLS; the kernel's `tls` module). Default false. */
  ktls?: boolean;
  logger?: Logger;
}

export const TVS_SERVER_DEFAULTS = {
  host: '0.0.0.0',
  port: 2445,
  maxBodyBytes: TVS_FRAME_READER_DEFAULTS.maxBodyBytes,
  handshakeTimeoutMs: 10000,
  requestTimeoutMs: 10000,
  maxConnections: 4096,
  reloadIntervalMs: 2000,
  tlsEngine: defaultTlsEngine(),
  ktls: false as boolean,
  ttlSeconds: TRUST_ANSWER_DEFAULTS.ttlSeconds,
} as const;

export interface TvsVerifyEvent {
  remote: string;
  deviceName: string;
  sha256: string;
  status: number;
  roles: number[];
}

/** The TVS identity a node presents: certificate row, key and the cipher list, from the store. */
export function tvsIdentity(store: TvsTrustView, node?: string): { row: CertRow; node: string } {
  const nodes = store.listNodes();
  const candidates =
    node !== undefined
      ? nodes.filter((n) => n.name === node)
      : [...nodes.filter((n) => n.isPublisher), ...nodes.filter((n) => !n.isPublisher)];
  if (node !== undefined && candidates.length === 0)
    throw new TvsError(TvsErrorCode.argument, `the store has no node named '${node}'`, { remote: false });
  for (const n of candidates) {
    if (node === undefined && !(n.services as string[]).includes('tvs')) continue;
    const row = store.currentCertificate('TVS', n.name);
    if (row) return { row, node: n.name };
  }
  throw new TvsError(
    TvsErrorCode.argument,
    `no TVS certificate in the store${node ? ` for node '${node}'` : ''}: run "sbd init" or "sbd cert regen TVS"`,
    { remote: false },
  );
}

function remoteOf(s: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
}

export class TvsServer extends EventEmitter {
  readonly options: Required<Omit<TvsServerOptions, 'node' | 'minVersion' | 'importRoles' | 'store' | 'logger'>> & {
    node: string | undefined;
    minVersion: TlsMinVersion | undefined;
  };
  readonly #store: TvsTrustView;
  readonly #log: Logger;
  readonly #answerer: TrustAnswerer;
  readonly #service: TlsService | TlsEngineService;
  #contextKey = '';
  #generation = -1;
  /** Presented certificate (SHA-256 hex), for tests and `status` lines. */
  certificateSha256 = '';
  readonly stats = { connections: 0, valid: 0, invalid: 0, malformed: 0, tlsErrors: 0, timeouts: 0 };

  constructor(opts: TvsServerOptions) {
    super();
    const o = {
      ...TVS_SERVER_DEFAULTS,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as TvsServerOptions & typeof TVS_SERVER_DEFAULTS;
    this.options = {
      host: o.host,
      port: o.port,
      maxBodyBytes: o.maxBodyBytes,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs,
      maxConnections: o.maxConnections,
      reloadIntervalMs: o.reloadIntervalMs,
      minVersion: opts.minVersion,
      tlsEngine: o.tlsEngine,
      ktls: o.ktls,
      ttlSeconds: o.ttlSeconds,
      node: opts.node,
    };
    this.#store = opts.store;
    this.#log = opts.logger ?? silentLogger;
    this.#answerer = new TrustAnswerer(opts.store, {
      ttlSeconds: o.ttlSeconds,
      ...(opts.importRoles ? { importRoles: opts.importRoles } : {}),
    });
    new TvsFrameReader({ maxBodyBytes: o.maxBodyBytes }); // validates the bound before anything listens
    const { identity, protocol } = this.#secureOptions();
    const service: TlsServiceOptions = {
      secureContext: identity,
      ...protocol,
      host: o.host,
      port: o.port,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      maxConnections: o.maxConnections,
      reloadIntervalMs: o.reloadIntervalMs,
      reload: () => this.reload(),
      onConnection: (socket) => this.#onConnection(socket),
      logger: this.#log,
      onTlsError: (err) => {
        this.stats.tlsErrors++;
        this.emit('tlsError', err);
      },
    };
    // On the engine a phone's request comes right behind its handshake: with lazyOpen the connection reaches
    // Node with its first bytes (or 20 ms after the handshake), one wake-up of Node's thread instead of two.
    this.#service = o.tlsEngine === 'native' ? new TlsEngineService({ ...service, ktls: o.ktls, lazyOpen: true }) : new TlsService(service);
  }

  /** Which TLS path serves: 'node', 'engine' or 'engine+ktls' (for `status` lines). */
  get tlsPath(): string {
    return this.#service instanceof TlsEngineService ? this.#service.path : 'node';
  }

  #secureOptions(): { identity: tls.SecureContextOptions; protocol: Required<TlsProtocolOptions> } {
    const { row, node } = tvsIdentity(this.#store, this.options.node);
    const protocol = storeTlsProtocol(this.#store, this.options.minVersion);
    this.#contextKey = `${row.sha256Hex}|${protocol.minVersion}|${protocol.ciphers}`;
    this.certificateSha256 = row.sha256Hex;
    this.#generation = this.#store.generation();
    this.#log.info('tvs-certificate', { node, sha256: row.sha256Hex, subject: row.subject, minVersion: protocol.minVersion });
    return { identity: { cert: row.pem, key: privateKeyOf(row) }, protocol };
  }

  /** Re-reads the TVS certificate, minimum version and cipher list when the store changed; true when the context was replaced. */
  reload(): boolean {
    try {
      const g = this.#store.generation();
      if (g === this.#generation) return false;
      const { row } = tvsIdentity(this.#store, this.options.node);
      const protocol = storeTlsProtocol(this.#store, this.options.minVersion);
      const key = `${row.sha256Hex}|${protocol.minVersion}|${protocol.ciphers}`;
      this.#generation = g;
      if (key === this.#contextKey) return false;
      const next = this.#secureOptions();
      this.#service.setSecureContext(next.identity, next.protocol);
      return true;
    } catch (err) {
      // Keep serving with the previous identity: a half-finished regeneration must not take TVS down.
      this.#log.error('reload-failed', { error: err });
      return false;
    }
  }

  #onConnection(socket: Socket): void {
    this.stats.connections++;
    const remote = remoteOf(socket);
    const reader = new TvsFrameReader({ maxBodyBytes: this.options.maxBodyBytes });
    let done = false;
    const fail = (err: unknown) => {
      if (done) return;
      done = true;
      const e = err instanceof TvsError ? err : new TvsError(TvsErrorCode.connection, (err as Error).message, { cause: err });
      if (e.code === TvsErrorCode.timeout) this.stats.timeouts++;
      else this.stats.malformed++;
      this.#log.warn('request-rejected', { remote, code: e.code, reason: e.message });
      this.emit('rejected', { remote, code: e.code });
      socket.destroy();
    };
    socket.setTimeout(this.options.requestTimeoutMs, () =>
      fail(new TvsError(TvsErrorCode.timeout, `no complete request within ${this.options.requestTimeoutMs} ms`)),
    );
    socket.on('error', (err) => fail(err));
    socket.on('end', () => {
      if (done) return;
      try {
        reader.end();
        done = true; // closed before sending anything: nothing to answer, nothing malformed
        socket.destroy();
      } catch (err) {
        fail(err);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      try {
        const frames = reader.push(chunk);
        if (frames.length === 0) return;
        const request = parseVerifyRequest(frames[0]!);
        done = true;
        socket.setTimeout(0);
        const sha256 = createHash('sha256').update(request.certificate).digest('hex');
        const answer = this.#answerer.answerBySha256(sha256); // one hash per question, for the answer and the log
        const roles = answer.status === TvsStatus.valid ? answer.roles : [];
        if (answer.status === TvsStatus.valid) this.stats.valid++;
        else this.stats.invalid++;
        this.#log.info('verify', {
          remote,
          device: request.deviceName,
          sha256,
          status: answer.status === TvsStatus.valid ? 'valid' : 'invalid',
          roles,
          ...(answer.status === TvsStatus.valid ? { names: answer.names } : {}),
        });
        // One write carries header and body; end() closes after it is flushed (one request per connection).
        socket.end(
          buildVerifyResponse(
            answer.status === TvsStatus.valid
              ? { sessionId: request.sessionId, status: TvsStatus.valid, roles, ttl: answer.ttl }
              : { sessionId: request.sessionId, status: TvsStatus.invalid },
          ),
        );
        this.emit('verify', { remote, deviceName: request.deviceName, sha256, status: answer.status, roles } satisfies TvsVerifyEvent);
      } catch (err) {
        fail(err);
      }
    });
  }

  listen(): Promise<AddressInfo> {
    return this.#service.listen();
  }

  address(): AddressInfo {
    return this.#service.address();
  }

  /** Open connections (accepted, handshaking or answering). */
  connectionCount(): Promise<number> {
    return this.#service.connectionCount();
  }

  /** Stops accepting; open connections are destroyed after `graceMs` (default at once). */
  close(graceMs = 0): Promise<void> {
    return this.#service.close(graceMs);
  }
}

export async function startTvsServer(options: TvsServerOptions): Promise<TvsServer> {
  const server = new TvsServer(options);
  await server.listen();
  return server;
}
