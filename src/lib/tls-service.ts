/**
 * The life cycle every sbd TLS daemon shares (TVS, CAPF): a node:tls server with a handshake timeout, a
 * connection cap that counts sockets from accept (handshakes in progress included: net.Server's maxConnections)
 * and a per-source cap (issue 16 row 8: one address must not hold every slot), a log line for each failed handshake, a periodic `reload` (the daemons swap their certificate
 * when the store changes), and a close that ends open connections after a grace period. The protocol itself stays
 * in the daemon's `onConnection`.
 */
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import type { Logger } from './log.js';

export interface TlsServiceOptions {
  secureContext: tls.SecureContextOptions & { minVersion?: tls.SecureVersion };
  host: string;
  port: number;
  handshakeTimeoutMs: number;
  /** Sockets open at once, counted from accept (TLS handshakes in progress included). */
  maxConnections: number;
  /** Sockets open at once from one peer address; default 32 (`tlsServiceDefaults`). */
  maxConnectionsPerSource?: number;
  /** 0 disables the periodic reload. */
  reloadIntervalMs: number;
  reload: () => void;
  onConnection: (socket: tls.TLSSocket) => void;
  onTlsError?: (err: Error) => void;
  logger: Logger;
}

export const tlsServiceDefaults = { maxConnectionsPerSource: 32 } as const;

export class TlsService {
  readonly server: tls.Server;
  readonly #o: TlsServiceOptions;
  readonly #sockets = new Set<Socket>();
  readonly #bySource = new Map<string, number>();
  /** Sockets refused at accept by the per-source cap. */
  rejectedPerSource = 0;
  #reloadTimer: NodeJS.Timeout | undefined;

  constructor(o: TlsServiceOptions) {
    this.#o = o;
    // No client certificate: phones authenticate inside the protocol (CAPF) or not at all (TVS).
    this.server = tls.createServer({ ...o.secureContext, handshakeTimeout: o.handshakeTimeoutMs, requestCert: false });
    this.server.maxConnections = o.maxConnections;
    const perSource = o.maxConnectionsPerSource ?? tlsServiceDefaults.maxConnectionsPerSource;
    // Placed before node:tls's own listener, so a refused socket is destroyed before any handshake work.
    this.server.prependListener('connection', (s: Socket) => {
      const address = s.remoteAddress ?? '';
      const n = this.#bySource.get(address) ?? 0;
      if (n >= perSource) {
        this.rejectedPerSource++;
        s.destroy();
        return;
      }
      this.#bySource.set(address, n + 1);
      this.#sockets.add(s);
      s.once('close', () => {
        this.#sockets.delete(s);
        const left = (this.#bySource.get(address) ?? 1) - 1;
        if (left <= 0) this.#bySource.delete(address);
        else this.#bySource.set(address, left);
      });
    });
    this.server.on('secureConnection', o.onConnection);
    this.server.on('tlsClientError', (err, socket) => {
      // node:tls only reports a handshake timeout (or failure) here; without destroy the socket stays open.
      socket.destroy();
      o.logger.info('tls-error', { remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, reason: err.message });
      o.onTlsError?.(err);
    });
    this.server.on('error', (err) => o.logger.error('server-error', { error: err }));
  }

  setSecureContext(options: tls.SecureContextOptions): void {
    this.server.setSecureContext(options);
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.#o.port, this.#o.host, () => {
        this.server.off('error', onError);
        if (this.#o.reloadIntervalMs > 0) {
          this.#reloadTimer = setInterval(this.#o.reload, this.#o.reloadIntervalMs);
          this.#reloadTimer.unref();
        }
        const addr = this.server.address() as AddressInfo;
        this.#o.logger.info('listening', { address: addr.address, port: addr.port });
        resolve(addr);
      });
    });
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Open connections: accepted, handshaking or in a session. */
  connectionCount(): Promise<number> {
    return new Promise((resolve, reject) => this.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  }

  /** Stops accepting; open connections are destroyed after `graceMs` (default at once). */
  close(graceMs = 0): Promise<void> {
    if (this.#reloadTimer) clearInterval(this.#reloadTimer);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const s of this.#sockets) s.destroy();
      }, graceMs);
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
