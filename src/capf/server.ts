/**
 * sbd-capfd's I/O shell: TLS on TCP 3804 with the node's CAPF certificate from the store; one CapfServerSession per
 * connection. The shell does what the session's events ask: authenticate against the store (and spend a
 * single-use auth string), check the phone's key against the key asked for, issue the LSC with the CAPF key
 * (pki/lsc.ts), and record the outcome on the device: its LSC (what config encryption uses), the pending operation
 * cleared on success, and the attempt's result in capfStatus. A session ends with one log line. What an
 * unauthenticated peer can hold is bounded (issue 16 rows 8, 9): see `CapfServer`.
 */
import { EventEmitter } from 'node:events';
import { X509Certificate, randomInt } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import type tls from 'node:tls';
import type { Clock } from '../lib/clock.js';
import { systemClock } from '../lib/clock.js';
import { silentLogger, type Logger } from '../lib/log.js';
import { storeTlsProtocol, TlsService, type TlsMinVersion, type TlsProtocolOptions, type TlsServiceOptions } from '../lib/tls-service.js';
import { privateKeyOf } from '../pki/identity-store.js';
import type { CertRow } from '../store/index.js';
import { defaultTlsEngine } from '../tls/engine-library.js';
import { TlsEngineService } from '../tls/engine-service.js';
import type { CapfOperations } from './operations.js';
import { CAPF_AUTH_FAILURE_DEFAULTS, recordAuthFailure } from './auth-failures.js';
import { authenticateDevice, verifyFetchedLsc, type AuthenticateOptions } from './authenticate.js';
import { CapfError, CapfErrorCode, localError } from './core/errors.js';
import { CAPF_FRAME_READER_DEFAULTS } from './core/frame-reader.js';
import { CapfReason } from './core/frame.js';
import { checkPublicKey } from './core/key-spec.js';
import { CapfServerSession, type CapfServerEvent } from './core/server-session.js';
import { failedAttemptStatus, successStatus } from './operation-status.js';

export interface CapfServerOptions extends Omit<AuthenticateOptions, 'now'> {
  /** The appliance as CAPF sees it (operations.ts; src/daemons/adapters/capf-store.ts over the store). */
  store: CapfOperations;
  /** Node whose CAPF certificate is presented and signs LSCs. Default: the publisher if it runs CAPF, else the first CAPF node. */
  node?: string;
  /** Default '0.0.0.0'. */
  host?: string;
  /** Default 3804 (spec §3.2). 0 picks a free port. */
  port?: number;
  maxBodyBytes?: number;
  /** Default 10000 ms. */
  handshakeTimeoutMs?: number;
  /** A session with no traffic for this long is ended. Default 120000 ms: phones take their time making RSA keys. */
  idleTimeoutMs?: number;
  /**
   * A connection must have sent a whole AUTH_RESPONSE this long after its handshake, or it is closed. Default
   * 15000 ms: phones answer AUTH_REQUEST at once; a peer trickling bytes cannot hold one of `maxConnections`.
   */
  authTimeoutMs?: number;
  /** No session lasts longer than this, however busy. Default 600000 ms (an RSA 4096 key on an old phone). */
  sessionTimeoutMs?: number;
  /** Wrong authentications that cancel the pending operation. Default 5. */
  maxAuthFailures?: number;
  /** After END_SESSION the peer has this long to close before the connection is destroyed. Default 5000 ms. */
  endLingerMs?: number;
  /** Default 1024. */
  maxConnections?: number;
  /** How often the store generation is checked for a new CAPF certificate or cipher list. Default 2000 ms. */
  reloadIntervalMs?: number;
  /** Validity of issued LSCs in whole years. Default 5. */
  lscValidityYears?: number;
  /** Lowest TLS version. Default: the store's TLSMinVersion, read again on reload. */
  minVersion?: TlsMinVersion;
  /** Who does TLS: 'node' (node:tls, the reference) or 'native' (the C engine, src/tls; docs/tls.md). Default 'native' where libsbdtls.so is built, else 'node' (`defaultTlsEngine`). */
  tlsEngine?: 'node' | 'native';
  /** With tlsEngine 'native': ask OpenSSL for kernel TLS (SSL_OP_ENABLE_KTLS; the kernel's `tls` module). Default false. */
  ktls?: boolean;
  clock?: Clock;
  logger?: Logger;
}

export const CAPF_SERVER_DEFAULTS = {
  host: '0.0.0.0',
  port: 3804,
  maxBodyBytes: CAPF_FRAME_READER_DEFAULTS.maxBodyBytes,
  handshakeTimeoutMs: 10000,
  idleTimeoutMs: 120000,
  authTimeoutMs: 15000,
  sessionTimeoutMs: 600000,
  maxAuthFailures: CAPF_AUTH_FAILURE_DEFAULTS.maxAuthFailures,
  endLingerMs: 5000,
  maxConnections: 1024,
  reloadIntervalMs: 2000,
  lscValidityYears: 5,
  tlsEngine: defaultTlsEngine(),
  ktls: false as boolean,
} as const;

export interface CapfSessionSummary {
  remote: string;
  sessionId: number;
  deviceName: string | undefined;
  /** installed | fetched | deleted | none | rejected | failed | aborted */
  result: string;
  method?: string;
  code?: string;
  reason?: string;
}

export function capfIdentity(store: CapfOperations, node?: string): { row: CertRow; node: string } {
  const nodes = store.listNodes();
  const ordered =
    node !== undefined
      ? nodes.filter((n) => n.name === node)
      : [...nodes.filter((n) => n.isPublisher), ...nodes.filter((n) => !n.isPublisher)];
  for (const n of ordered) {
    if (node === undefined && !(n.services as string[]).includes('capf')) continue;
    const row = store.currentCertificate('CAPF', n.name);
    if (row) return { row, node: n.name };
  }
  throw localError(
    CapfErrorCode.argument,
    `no CAPF certificate in the store${node ? ` for node '${node}'` : ''}: run "sbd init" or "sbd cert regen CAPF"`,
  );
}

function remoteOf(s: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  return `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
}

/**
 * Bounds on what an unauthenticated peer can hold (issue 16 rows 8, 9): the phone answers AUTH_REQUEST at once,
 * so a connection that has not authenticated within `authTimeoutMs` is closed however it trickles bytes (the
 * idle timeout alone resets on every byte); no session outlives `sessionTimeoutMs`; `maxAuthFailures` wrong
 * proofs cancel the pending operation (auth-failures.ts); a fetched certificate is stored only when it is an LSC
 * of this CAPF for this device (authenticate.ts verifyFetchedLsc).
 */
export class CapfServer extends EventEmitter {
  readonly options: typeof CAPF_SERVER_DEFAULTS & { node: string | undefined; minVersion: TlsMinVersion | undefined };
  readonly #opts: CapfServerOptions;
  readonly #store: CapfOperations;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #service: TlsService | TlsEngineService;
  #identity!: { cert: CertRow; keyPem: string };
  #contextKey = '';
  #generation = -1;
  #nextSessionId = randomInt(1, 0x7fffffff);
  readonly stats = { sessions: 0, installed: 0, fetched: 0, deleted: 0, none: 0, rejected: 0, failed: 0, aborted: 0, tlsErrors: 0 };

  constructor(opts: CapfServerOptions) {
    super();
    const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    this.options = {
      ...CAPF_SERVER_DEFAULTS,
      ...(defined as Partial<typeof CAPF_SERVER_DEFAULTS>),
      node: opts.node,
      minVersion: opts.minVersion,
    };
    this.#opts = opts;
    this.#store = opts.store;
    this.#log = opts.logger ?? silentLogger;
    this.#clock = opts.clock ?? systemClock;
    const o = this.options;
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
    this.#service = o.tlsEngine === 'native' ? new TlsEngineService({ ...service, ktls: o.ktls }) : new TlsService(service);
  }

  /** Which TLS path serves: 'node', 'engine' or 'engine+ktls' (for `status` lines). */
  get tlsPath(): string {
    return this.#service instanceof TlsEngineService ? this.#service.path : 'node';
  }

  get certificate(): CertRow {
    return this.#identity.cert;
  }

  #secureOptions(): { identity: tls.SecureContextOptions; protocol: Required<TlsProtocolOptions> } {
    const { row, node } = capfIdentity(this.#store, this.options.node);
    const keyPem = privateKeyOf(row);
    const protocol = storeTlsProtocol(this.#store, this.options.minVersion);
    this.#identity = { cert: row, keyPem };
    this.#contextKey = `${row.sha256Hex}|${protocol.minVersion}|${protocol.ciphers}`;
    this.#generation = this.#store.generation();
    this.#log.info('capf-certificate', { node, sha256: row.sha256Hex, subject: row.subject, minVersion: protocol.minVersion });
    return { identity: { cert: row.pem, key: keyPem }, protocol };
  }

  /** Re-reads the CAPF certificate, minimum version and cipher list when the store changed; true when they were replaced. */
  reload(): boolean {
    try {
      const g = this.#store.generation();
      if (g === this.#generation) return false;
      const { row } = capfIdentity(this.#store, this.options.node);
      const protocol = storeTlsProtocol(this.#store, this.options.minVersion);
      this.#generation = g;
      if (`${row.sha256Hex}|${protocol.minVersion}|${protocol.ciphers}` === this.#contextKey) return false;
      const next = this.#secureOptions();
      this.#service.setSecureContext(next.identity, next.protocol);
      return true;
    } catch (err) {
      this.#log.error('reload-failed', { error: err });
      return false;
    }
  }

  #onConnection(socket: Socket): void {
    this.stats.sessions++;
    const remote = remoteOf(socket);
    const sessionId = this.#nextSessionId;
    this.#nextSessionId = (this.#nextSessionId % 0xfffffffe) + 1;
    const session = new CapfServerSession({ sessionId, maxBodyBytes: this.options.maxBodyBytes });
    const summary: CapfSessionSummary = { remote, sessionId, deviceName: undefined, result: 'aborted' };
    let issuedPem: string | undefined;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      summary.deviceName ??= session.deviceName;
      this.stats[summary.result as 'installed']++;
      this.#log[summary.result === 'failed' || summary.result === 'aborted' ? 'warn' : 'info']('session', { ...summary });
      this.emit('session', summary);
    };
    const setFailure = (err: CapfError, result = 'failed', recordOnDevice = true) => {
      summary.result = result;
      summary.code = err.code;
      summary.reason = err.message;
      const name = recordOnDevice ? session.deviceName : undefined;
      const device = name ? this.#store.getDevice(name) : undefined;
      if (device) {
        try {
          this.#store.updateDevice(device.name, {
            capfStatus: failedAttemptStatus(
              device.capfStatus,
              device.capfOperation,
              new Date(this.#clock.now()),
              `${result === 'rejected' ? 'Authentication Failed' : 'Failed'}: ${err.message}`,
            ),
          });
        } catch (e) {
          this.#log.error('store-write-failed', { device: device.name, error: e });
        }
      }
    };
    const handle = (events: CapfServerEvent[]): void => {
      for (const e of events) {
        switch (e.type) {
          case 'send':
            socket.write(e.bytes);
            break;
          case 'authenticate': {
            clearTimeout(authTimer);
            const now = new Date(this.#clock.now());
            const r = authenticateDevice(this.#store, e.auth, { ...this.#opts, now });
            summary.deviceName = e.auth.deviceName;
            summary.method = r.method;
            if (r.failure) {
              setFailure(r.failure, 'rejected', false);
              if (r.device) {
                const counted = recordAuthFailure(this.#store, {
                  deviceName: r.device.name,
                  remote,
                  why: r.failure.message,
                  now,
                  maxAuthFailures: this.options.maxAuthFailures,
                });
                if (counted.cancelled) summary.code = CapfErrorCode.authLimit;
              }
            } else if (r.decision.kind === 'none') summary.result = 'none';
            else if (r.consumePassword || r.device!.capfAuthFailures !== 0) {
              this.#store.updateDevice(e.auth.deviceName, { ...(r.consumePassword ? { capfAuthString: null } : {}), capfAuthFailures: 0 });
            }
            handle(session.decide(r.decision));
            break;
          }
          case 'publicKey':
            try {
              checkPublicKey(e.spki, e.keySpec);
              const lsc = this.#store.issueLsc({
                capfCertPem: this.#identity.cert.pem,
                capfKeyPem: this.#identity.keyPem,
                deviceName: session.deviceName!,
                subjectPublicKey: e.spki,
                now: new Date(this.#clock.now()),
                validityYears: this.options.lscValidityYears,
              });
              issuedPem = lsc.pem;
              handle(session.certificateIssued(lsc.der));
            } catch (err) {
              const ce = err instanceof CapfError ? err : new CapfError(CapfErrorCode.keySpec, (err as Error).message, { cause: err });
              setFailure(ce);
              handle(session.fail(ce));
            }
            break;
          case 'stored':
            this.#record(
              session.deviceName!,
              e.reason,
              summary,
              () => {
                const serial = new X509Certificate(issuedPem!).serialNumber.toLowerCase();
                this.#store.updateDevice(session.deviceName!, {
                  lscPem: issuedPem!,
                  capfOperation: 'none',
                  capfStatus: successStatus('Upgrade', new Date(this.#clock.now()), `LSC serial ${serial}`),
                });
                summary.result = 'installed';
              },
              setFailure,
              'STORE_CERTIFICATE_RESPONSE',
            );
            break;
          case 'fetched':
            this.#record(
              session.deviceName!,
              e.reason,
              summary,
              () => {
                // Never store what we did not verify: configs get encrypted to this certificate's key.
                const pem = verifyFetchedLsc(this.#store, session.deviceName!, e.certificate, {
                  ...this.#opts,
                  now: new Date(this.#clock.now()),
                });
                this.#store.updateDevice(session.deviceName!, {
                  lscPem: pem,
                  capfOperation: 'none',
                  capfStatus: successStatus('Fetch', new Date(this.#clock.now())),
                });
                summary.result = 'fetched';
              },
              setFailure,
              'FETCH_CERTIFICATE_RESPONSE',
            );
            break;
          case 'deleted':
            this.#record(
              session.deviceName!,
              e.reason,
              summary,
              () => {
                this.#store.updateDevice(session.deviceName!, {
                  lscPem: null,
                  capfOperation: 'none',
                  capfStatus: successStatus('Delete', new Date(this.#clock.now())),
                });
                summary.result = 'deleted';
              },
              setFailure,
              'DELETE_CERTIFICATE_RESPONSE',
            );
            break;
          case 'phoneFailed':
            setFailure(
              new CapfError(
                CapfErrorCode.phoneFailed,
                `the phone could not make its key (KEY_GENERATE_RESPONSE reason ${e.reason ?? 'none'})`,
              ),
            );
            break;
          case 'protocolError':
            setFailure(e.error);
            break;
          case 'end':
            // END_SESSION is out; a peer that keeps the connection open after it holds a slot for endLingerMs at most.
            socket.setTimeout(0);
            clearTimeout(authTimer);
            setTimeout(() => socket.destroy(), this.options.endLingerMs).unref();
            socket.end();
            finish();
            break;
        }
      }
    };
    const timeout = (why: string) => {
      if (!finished && session.state !== 'done') {
        setFailure(new CapfError(CapfErrorCode.timeout, why));
        handle(session.fail(new CapfError(CapfErrorCode.timeout, why, { reason: CapfReason.invalidElement })));
      }
      socket.destroy();
      finish();
    };
    const { authTimeoutMs, sessionTimeoutMs, idleTimeoutMs } = this.options;
    const authTimer = setTimeout(() => timeout(`no AUTH_RESPONSE within ${authTimeoutMs} ms (state ${session.state})`), authTimeoutMs);
    const sessionTimer = setTimeout(
      () => timeout(`session not finished within ${sessionTimeoutMs} ms (state ${session.state})`),
      sessionTimeoutMs,
    );
    socket.setTimeout(idleTimeoutMs, () => timeout(`no traffic for ${idleTimeoutMs} ms in state ${session.state}`));
    socket.on('data', (chunk: Buffer) => {
      try {
        handle(session.receive(chunk));
      } catch (err) {
        // A store failure (disk full, locked): end the session, keep the server.
        setFailure(err instanceof CapfError ? err : new CapfError(CapfErrorCode.connection, (err as Error).message, { cause: err }));
        socket.destroy();
        finish();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(authTimer);
      clearTimeout(sessionTimer);
      handle(session.closed());
      finish();
    });
    handle(session.start());
  }

  /** Applies a phone's REASON: 1 → `onSuccess`; anything else → a failed attempt, the operation stays pending. */
  #record(
    device: string,
    reason: number,
    summary: CapfSessionSummary,
    onSuccess: () => void,
    setFailure: (e: CapfError) => void,
    what: string,
  ): void {
    if (reason !== CapfReason.updateCertificate) {
      setFailure(new CapfError(CapfErrorCode.phoneFailed, `${what} reason ${reason} (not 1, success)`));
      return;
    }
    try {
      onSuccess();
    } catch (err) {
      setFailure(
        err instanceof CapfError
          ? err
          : new CapfError(CapfErrorCode.connection, `recording ${device}: ${(err as Error).message}`, { cause: err }),
      );
      summary.result = 'failed';
    }
  }

  listen(): Promise<AddressInfo> {
    return this.#service.listen();
  }

  address(): AddressInfo {
    return this.#service.address();
  }

  connectionCount(): Promise<number> {
    return this.#service.connectionCount();
  }

  /** Stops accepting; open sessions are destroyed after `graceMs` (default at once). */
  close(graceMs = 0): Promise<void> {
    return this.#service.close(graceMs);
  }
}
