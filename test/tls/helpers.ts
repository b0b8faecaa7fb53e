/** TLS engine test helpers: an echo service over the engine or node:tls with the store's TVS identity, and peers. */
import type net from 'node:net';
import tls from 'node:tls';
import { createLogger, type Logger } from '../../src/lib/log.js';
import { TlsService, type TlsServiceOptions } from '../../src/lib/tls-service.js';
import { privateKeyOf } from '../../src/pki/identity-store.js';
import { tlsEngineAvailable } from '../../src/tls/engine-library.js';
import { TlsEngineService, type TlsEngineOptions } from '../../src/tls/engine-service.js';
import { tempState } from '../tvs/helpers.js';

/** Why the engine tests skip, or false: `make check` on a checkout without libssl-dev still runs the rest. */
export const engineMissing = tlsEngineAvailable() ? false : 'libsbdtls.so is not built (make -C native; needs libssl-dev)';

export type Path = 'engine' | 'node';

export interface EchoService {
  service: TlsEngineService | TlsService;
  port: number;
  errors: Error[];
  /** The sockets the daemon side got, in order. */
  sockets: net.Socket[];
  state: ReturnType<typeof tempState>;
}

/** A service answering every chunk with the same bytes (half-close: the server ends when the client does). */
export async function echoService(
  t: { after: (fn: () => Promise<void> | void) => void },
  path: Path,
  extra:
    | Partial<TlsServiceOptions & TlsEngineOptions>
    | ((state: ReturnType<typeof tempState>) => Partial<TlsServiceOptions & TlsEngineOptions>) = {},
): Promise<EchoService> {
  const state = tempState(t);
  const row = state.store.currentCertificate('TVS', 'cucm-pub')!;
  const errors: Error[] = [];
  const sockets: net.Socket[] = [];
  const logger: Logger = createLogger('tls-test', { write: () => {} });
  const o: TlsServiceOptions & TlsEngineOptions = {
    secureContext: { cert: row.pem, key: privateKeyOf(row) },
    host: '127.0.0.1',
    port: 0,
    handshakeTimeoutMs: 10000,
    maxConnections: 4096,
    reloadIntervalMs: 0,
    reload: () => {},
    logger,
    onTlsError: (e) => errors.push(e),
    onConnection: (s: net.Socket) => {
      sockets.push(s);
      s.on('error', () => {});
      s.on('data', (d: Buffer) => s.write(d));
      s.on('end', () => s.end());
    },
    ...(typeof extra === 'function' ? extra(state) : extra),
  };
  const service = path === 'engine' ? new TlsEngineService(o) : new TlsService(o);
  const { port } = await service.listen();
  t.after(() => service.close());
  return { service, port, errors, sockets, state };
}

/** Connects, sends `bytes`, ends, and collects everything until the server closes. */
export function roundTrip(
  port: number,
  bytes: Buffer,
  options: tls.ConnectionOptions = {},
): Promise<{ data: Buffer; protocol: string | null; cipher: string; reused: boolean; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    const got: Buffer[] = [];
    let session: Buffer | undefined;
    let facts = { protocol: null as string | null, cipher: '', reused: false };
    s.on('session', (v: Buffer) => (session = v));
    s.on('secureConnect', () => {
      // Read now: a closed TLSSocket no longer knows its session.
      facts = { protocol: s.getProtocol(), cipher: s.getCipher().name, reused: s.isSessionReused() };
      s.end(bytes);
    });
    s.on('data', (d: Buffer) => got.push(d));
    // TLS 1.2 announces no 'session' for a resumption whose ticket the server renewed; the session object has it.
    s.on('end', () => (session ??= facts.reused ? s.getSession() : undefined));
    s.on('error', reject);
    s.on('close', () => resolve({ data: Buffer.concat(got), ...facts, session }));
  });
}
