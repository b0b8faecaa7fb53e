/**
 * The life cycle every sbd TLS daemon shares (TVS, CAPF): a node:tls server with a handshake timeout and a
 * connection cap, a log line for each failed handshake, a periodic `reload` (the daemons swap their certificate
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
  maxConnections: number;
  /** 0 disables the periodic reload. */
  reloadIntervalMs: number;
  reload: () => void;
  onConnection: (socket: tls.TLSSocket) => void;
  onTlsError?: (err: Error) => void;
  logger: Logger;
}

export class TlsService {
  readonly server: tls.Server;
  readonly #o: TlsServiceOptions;
  readonly #sockets = new Set<Socket>();
  #reloadTimer: NodeJS.Timeout | undefined;

  constructor(o: TlsServiceOptions) {
    this.#o = o;
    // No client certificate: phones authenticate inside the protocol (CAPF) or not at all (TVS).
    this.server = tls.createServer({ ...o.secureContext, handshakeTimeout: o.handshakeTimeoutMs, requestCert: false });
    this.server.maxConnections = o.maxConnections;
    this.server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    this.server.on('secureConnection', o.onConnection);
    this.server.on('tlsClientError', (err, socket) => {
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
