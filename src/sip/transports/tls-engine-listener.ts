/**
 * SIP over TLS (5061) on the C TLS engine (src/tls, issue 20) instead of node:tls: the stream transport's TLS
 * settings turned into the engine's options, and the peer certificate the engine reports turned into the
 * `MessageSource.peerCertificate` node:tls gives (subject and issuer as `K=V, …`, SHA-256 fingerprint), only
 * when it chained to the client CAs. Request mode (a certificate asked for, not required) admits one that does
 * not chain, unreported, as node:tls's `rejectUnauthorized: false` does: the registrar decides (RFC 5630 §3).
 */
import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { silentLogger } from '../../lib/log.js';
import type { TlsProtocolOptions } from '../../lib/tls-service.js';
import { type EngineSocket, type TlsEngineOptions, TlsEngineService } from '../../tls/engine-service.js';
import type { MessageSource, TransportStats } from './types.js';
import type { TlsSettings } from './stream-transport.js';

export interface EngineListenerOptions {
  host: string;
  port: number;
  settings: TlsSettings;
  handshakeTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerSource: number;
  /** Kernel TLS (TlsEngineOptions.ktls). */
  ktls: boolean;
  onConnection: (socket: EngineSocket) => void;
}

/** The engine's identity, protocol policy and client-certificate mode from the transport's settings. */
export function engineContext(t: TlsSettings): [tls.SecureContextOptions, TlsProtocolOptions, TlsEngineOptions['clientCertificates']] {
  const require = t.requireClientCertificate ?? false;
  const ask = require || (t.requestClientCertificate ?? false);
  const cas = t.ca === undefined ? [] : Array.isArray(t.ca) ? t.ca : [t.ca];
  const ca = cas.map((c) => c.toString()).join('\n');
  const protocol: TlsProtocolOptions = {
    ...(t.minVersion ? { minVersion: t.minVersion } : {}),
    ...(t.ciphers ? { ciphers: t.ciphers } : {}),
  };
  return [{ cert: t.cert, key: t.key }, protocol, ask && ca ? { ca, require, admitUnverified: !require } : undefined];
}

export function engineListener(o: EngineListenerOptions): TlsEngineService {
  const [identity, protocol, clientCertificates] = engineContext(o.settings);
  return new TlsEngineService({
    ...protocol,
    secureContext: identity,
    host: o.host,
    port: o.port,
    handshakeTimeoutMs: o.handshakeTimeoutMs,
    maxConnections: o.maxConnections,
    maxConnectionsPerSource: o.maxConnectionsPerSource,
    ktls: o.ktls,
    // A SIP client speaks first: its connection reaches the transport with its first REGISTER, one wake-up, not two.
    lazyOpen: true,
    // sbd-sipd follows the store itself (setTlsSettings); handshake failures are the peer's, not logged (as node:tls here).
    reloadIntervalMs: 0,
    reload: () => {},
    logger: silentLogger,
    ...(clientCertificates ? { clientCertificates } : {}),
    onConnection: (s) => o.onConnection(s as unknown as EngineSocket),
  });
}

/**
 * Refusals at accept happen in C: from now on `stats.rejectedConnections` reads them plus the transport's own
 * (none expected: it applies the same caps to fewer sockets); `++` on it still counts one of its own.
 */
export function countEngineRefusals(stats: TransportStats, engine: TlsEngineService): void {
  const inC = () => {
    const s = engine.stats();
    return (s.refusedMaxConnections ?? 0) + (s.refusedPerSource ?? 0);
  };
  let here = stats.rejectedConnections;
  Object.defineProperty(stats, 'rejectedConnections', {
    enumerable: true,
    get: () => here + inC(),
    set: (v: number) => void (here = v - inC()),
  });
}

/** node:tls's subject object joined as the transport's formatDn does: one `K=V` per key, repeated keys with '+'. */
function dn(lines: string): string {
  const byKey = new Map<string, string[]>();
  for (const line of lines.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const k = line.slice(0, eq);
    byKey.set(k, [...(byKey.get(k) ?? []), line.slice(eq + 1)]);
  }
  return [...byKey].map(([k, v]) => `${k}=${v.join('+')}`).join(', ');
}

/** The verified peer certificate of an engine connection, as node:tls's path reports it; else undefined. */
export function enginePeerCertificate(socket: EngineSocket): MessageSource['peerCertificate'] {
  const { peerVerified, peerCertificate } = socket.tls;
  if (!peerVerified || !peerCertificate) return undefined;
  const x = new X509Certificate(peerCertificate);
  return { subject: dn(x.subject), issuer: dn(x.issuer), fingerprint256: x.fingerprint256 };
}
