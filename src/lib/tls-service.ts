/**
 * The life cycle every sbd TLS daemon shares (TVS, CAPF): a node:tls server with a handshake timeout, a
 * connection cap that counts sockets from accept (handshakes in progress included: net.Server's maxConnections)
 * and a per-source cap (issue 16 row 8: one address must not hold every slot), a log line for each failed handshake, a periodic `reload` (the daemons swap their certificate
 * when the store changes), and a close that ends open connections after a grace period. The protocol itself stays
 * in the daemon's `onConnection`. The protocol policy (lowest version, TLS 1.2 cipher list) is `TlsProtocolOptions`,
 * shared with the SIP listener and turned into node:tls settings by `tlsProtocolSettings`.
 */
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import type { Logger } from './log.js';

/** Lowest TLS version a listener accepts, spelled as the enterprise parameter TLSMinVersion spells it. */
export type TlsMinVersion = '1.0' | '1.1' | '1.2';

export const TLS_MIN_VERSIONS: readonly TlsMinVersion[] = ['1.0', '1.1', '1.2'];

export const tlsProtocolDefaults = {
  minVersion: '1.2' as TlsMinVersion,
  /** TLS 1.2 suites, OpenSSL syntax, in priority order (the TLSCiphers parameter's default). */
  ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256',
  /** Appended (last) when the minimum is below 1.2: TLS_RSA_WITH_AES_128_CBC_SHA, the suite 7900-series phones speak. */
  legacyCiphers: 'AES128-SHA',
} as const;

/** What a TLS listener negotiates; read by node:tls here and by any other TLS engine from the same object. */
export interface TlsProtocolOptions {
  /** Default '1.2' (`tlsProtocolDefaults.minVersion`). */
  minVersion?: TlsMinVersion;
  /** TLS 1.2 cipher list, OpenSSL syntax; default `tlsProtocolDefaults.ciphers`. TLS 1.3 suites are not affected. */
  ciphers?: string;
}

const NODE_VERSION: Record<TlsMinVersion, tls.SecureVersion> = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2' };

/**
 * node:tls settings for a protocol policy. Below 1.2 the legacy suite is appended and the OpenSSL security level
 * set to 0: OpenSSL 3 refuses TLS 1.0/1.1 at level 1 and above, their handshakes being signed with MD5/SHA-1
 * (OpenSSL 3.0 CHANGES, "SSL 3, TLS 1.0, TLS 1.1 and DTLS 1.0 ... require security level 0").
 */
export function tlsProtocolSettings(o: TlsProtocolOptions = {}): { minVersion: tls.SecureVersion; ciphers: string } {
  const minVersion = o.minVersion ?? tlsProtocolDefaults.minVersion;
  const ciphers = o.ciphers ?? tlsProtocolDefaults.ciphers;
  if (minVersion === '1.2') return { minVersion: NODE_VERSION[minVersion], ciphers };
  const names = ciphers.split(':').filter((c) => c !== '' && !c.startsWith('@SECLEVEL='));
  for (const legacy of tlsProtocolDefaults.legacyCiphers.split(':')) if (!names.includes(legacy)) names.push(legacy);
  return { minVersion: NODE_VERSION[minVersion], ciphers: `${names.join(':')}:@SECLEVEL=0` };
}

/**
 * The policy the enterprise parameters TLSMinVersion and TLSCiphers set (read through any `getParam`, so every
 * room passes its own narrow store view); `minVersion` given by a daemon option wins over the parameter.
 */
export function storeTlsProtocol(params: { getParam(name: string): string }, minVersion?: TlsMinVersion): Required<TlsProtocolOptions> {
  const stored = params.getParam('TLSMinVersion');
  const min = minVersion ?? (TLS_MIN_VERSIONS as readonly string[]).find((v) => v === stored) ?? tlsProtocolDefaults.minVersion;
  return { minVersion: min as TlsMinVersion, ciphers: params.getParam('TLSCiphers') };
}

export interface TlsServiceOptions extends TlsProtocolOptions {
  /** The identity (cert, key; ca when client certificates are verified); version and ciphers come from the options. */
  secureContext: tls.SecureContextOptions;
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
  #protocol: TlsProtocolOptions;
  readonly #sockets = new Set<Socket>();
  readonly #bySource = new Map<string, number>();
  /** Sockets refused at accept by the per-source cap. */
  rejectedPerSource = 0;
  #reloadTimer: NodeJS.Timeout | undefined;

  constructor(o: TlsServiceOptions) {
    this.#o = o;
    this.#protocol = { ...(o.minVersion ? { minVersion: o.minVersion } : {}), ...(o.ciphers ? { ciphers: o.ciphers } : {}) };
    // No client certificate: phones authenticate inside the protocol (CAPF) or not at all (TVS).
    this.server = tls.createServer({
      ...o.secureContext,
      ...tlsProtocolSettings(this.#protocol),
      honorCipherOrder: true,
      handshakeTimeout: o.handshakeTimeoutMs,
      requestCert: false,
    });
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

  /** New identity and, when given, protocol policy for connections accepted from now on (open ones keep theirs). */
  setSecureContext(identity: tls.SecureContextOptions, protocol: TlsProtocolOptions = this.#protocol): void {
    this.#protocol = protocol;
    this.server.setSecureContext({ ...identity, ...tlsProtocolSettings(protocol), honorCipherOrder: true });
  }

  /** The protocol policy in force for new connections. */
  get protocol(): TlsProtocolOptions {
    return this.#protocol;
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
