/**
 * sbd-sipd: the SIP server (sip/server.ts) wired to the store — the directory the registrar and router read, the
 * TLS identity, the trunks it may dial — then listen, tell systemd, stop on SIGTERM/SIGINT.
 * - Digest nonces are bound to a secret kept in `<state>/keys/sip-digest.secret` (created 0600 on first start),
 *   so nonces survive a restart and every node sharing the state folder accepts each other's.
 * - TLS identity: the CallManager certificate; LSCs chain to any CAPF certificate, current or earlier, or a CAPF-trust
 *   import; with TLSMinVersion/TLSCiphers it follows the store (`reloadTls`: new connections, no restart).
 * - Trunks: their 401/407 are answered with the stored (encrypted) credentials (routing/trunk-challenge.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DigestServer, type DigestAlgorithm } from '../sip/core/auth/digest.js';
import { Registrar, type RegistrarOptions } from '../sip/registrar/registrar.js';
import { ApplianceDirectory, StoreRoutingDirectory, storeTrunkCredentials, StorePhoneControlDirectory } from './adapters/sip-store.js';
import { Router, type Listener } from '../sip/routing/router.js';
import { routeKey } from '../sip/routing/route-key.js';
import { trunkPeerByIssuer } from '../sip/routing/trunk-peer.js';
import type { TrunkChallengeOptions } from '../sip/routing/trunk-challenge.js';
import type { TlsSettings } from '../sip/transports/stream-transport.js';
import { SipServer, sipServerDefaults, type SipServerOptions } from '../sip/server.js';
import { PROFILE_LIMITS, type Store } from '../store/index.js';
import { openState, stateLayout, type StateLayout } from '../store/state.js';
import { privateKeyOf } from '../pki/identity-store.js';
import { SbdError } from '../lib/errors.js';
import { storeTlsProtocol } from '../lib/tls-service.js';
import { createLogger, silentLogger, type Logger } from '../lib/log.js';
import { notifyReady } from '../lib/sd-notify.js';
import { waitForSignal } from '../lib/signals.js';
import { PhoneControl, type PhoneControlOptions } from '../sip/phone-control/phone-control.js';
import { ControlServer, controlSocketPath } from '../sip/phone-control/control-socket.js';

type ServerBounds = Omit<SipServerOptions, 'registrar' | 'router' | 'listeners' | 'tls' | 'dialTrunk'>;

export interface SipDaemonOptions extends ServerBounds {
  store: Store;
  layout: StateLayout;
  /** The registrar's and router's directory; default an ApplianceDirectory over `store` (PostgreSQL: PgDirectory). */
  directory?: ApplianceDirectory;
  /** Where the trunk-password key is read; default `layout.keysDir` (PostgreSQL: the one its copy holds beside its rows). */
  trunkKeysDir?: string;
  /** TLS port; default 5061; null: no TLS listener. */
  tlsPort?: number | null;
  /** Node whose CallManager certificate is the TLS identity; default the publisher, else the first node. */
  node?: string;
  /** Ask TLS clients for a certificate chained to CAPF (LSC), without refusing those that send none; default true. */
  requestClientCertificate?: boolean;
  /** Refuse TLS clients without a certificate chained to CAPF (mutual TLS for every TLS client); default false. */
  requireClientCertificate?: boolean;
  /** Store names whose certificates issue LSCs besides the CAPF identities; default ['CAPF-trust'] (as CAPF's). */
  lscCaNames?: readonly string[];
  /** How often the store generation is checked for a new TLS identity, CA or policy; default 2000 ms; 0: never. */
  tlsReloadIntervalMs?: number;
  /** Digest algorithms offered, most preferred first; default SHA-256, MD5. */
  digestAlgorithms?: readonly DigestAlgorithm[];
  /** Nonce lifetime in seconds for requests of no security profile (trunks); default 300. Phones: their profile's. */
  nonceLifetime?: number;
  registrar?: RegistrarOptions;
  /**
   * CA bundles (PEM) that a trunk's TLS certificate must chain to, by trunk name, when sbd dials the trunk;
   * used when the store holds none for the trunk (`sbd trunk add --ca`, `sbd trunk ca`); a trunk with neither is
   * verified against the system's bundle.
   */
  trunkTlsCa?: Record<string, string | Buffer>;
  /** Bounds of the table of requests forwarded to trunks, for answering their 401/407 (trunk-challenge.ts). */
  trunkChallenge?: TrunkChallengeOptions;
  /** The control socket `sbd phone reset` talks to (sip/phone-control/control-socket.ts); undefined: none. */
  controlSocket?: string;
  /** Timeouts and progress interval of reset waves (the pace comes with each request). */
  phoneControlOptions?: PhoneControlOptions;
}

export const sipDaemonDefaults = { ...sipServerDefaults, tlsPort: 5061, lscCaNames: ['CAPF-trust'], tlsReloadIntervalMs: 2000 } as const;

export const SipDaemonErrorCode = {
  secret: 'ERR_SIP_SECRET',
  noNode: 'ERR_SIP_NO_NODE',
  noIdentity: 'ERR_SIP_NO_IDENTITY',
} as const;
export type SipDaemonErrorCode = (typeof SipDaemonErrorCode)[keyof typeof SipDaemonErrorCode];

export class SipDaemonError extends SbdError {
  declare readonly code: SipDaemonErrorCode;
  constructor(code: SipDaemonErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Reads (or creates, 0600, temp + rename) the digest nonce secret of this state folder. */
export function digestSecret(layout: StateLayout): Buffer {
  const path = join(layout.keysDir, 'sip-digest.secret');
  if (!existsSync(path)) {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    renameSync(tmp, path);
  }
  const hex = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new SipDaemonError(SipDaemonErrorCode.secret, `${path} is not 64 hex digits: remove it to make a new one`);
  return Buffer.from(hex, 'hex');
}

/**
 * The TLS listener's identity, the CAs its clients (LSCs) and inbound trunks chain to, and the protocol policy, as the
 * store has them now; `key` names all of it, so a reload swaps the context only when something changed.
 */
function tlsSettings(o: SipDaemonOptions): { settings: TlsSettings; key: string; sha256: string } {
  const store = o.store;
  const nodes = store.listNodes();
  const node = o.node !== undefined ? nodes.find((n) => n.name === o.node) : (nodes.find((n) => n.isPublisher) ?? nodes[0]);
  if (!node)
    throw new SipDaemonError(
      SipDaemonErrorCode.noNode,
      o.node ? `the store has no node named '${o.node}'` : 'the store has no node: run "sbd init" first',
    );
  const cert = store.currentCertificate('CallManager', node.name);
  if (!cert)
    throw new SipDaemonError(SipDaemonErrorCode.noIdentity, `no CallManager certificate for node '${node.name}': run "sbd init" first`);
  // LSCs chain to a CAPF certificate: any node's (a cluster's phones enrol anywhere), earlier ones too (a phone keeps
  // its LSC across `set cert regen CAPF` until it enrols again; the registrar still matches the device's own LSC
  // by fingerprint), or an imported CAPF-trust issuer: the anchors capf/authenticate.ts accepts.
  const lscNames = (o.lscCaNames ?? sipDaemonDefaults.lscCaNames).map((n) => n.toLowerCase());
  const capf = store
    .listCertificates({ includeHistory: true })
    .filter((c) => (c.kind === 'identity' && c.name === 'CAPF') || (c.kind === 'trust' && lscNames.includes(c.name.toLowerCase())))
    .map((c) => c.pem);
  // TLS trunks' own CAs: a trunk that opens the connection is verified too, and the router knows it by its
  // certificate's issuer (routing/trunk-peer.ts), never by its address alone.
  const trunkCas = store.sip
    .listTrunks()
    .filter((t) => t.transport === 'tls')
    .flatMap((t) => {
      const pem = t.tlsCaPem ?? o.trunkTlsCa?.[t.name];
      return pem === undefined ? [] : [pem.toString()];
    });
  const ca = [...new Set([...capf, ...trunkCas])];
  const protocol = storeTlsProtocol(store);
  const settings: TlsSettings = {
    cert: cert.pem,
    key: privateKeyOf(cert),
    ...protocol,
    ...(ca.length > 0 ? { ca } : {}),
    // Ask every TLS client for its LSC, require it only when told to: the registrar refuses devices whose
    // security profile needs mutual TLS and came without their LSC, while line users connect without one.
    requestClientCertificate: ca.length > 0 && (o.requestClientCertificate ?? true),
    requireClientCertificate: o.requireClientCertificate ?? false,
  };
  const cas = createHash('sha256').update(ca.join('\n')).digest('hex');
  return { settings, key: `${cert.sha256Hex}|${cas}|${protocol.minVersion}|${protocol.ciphers}`, sha256: cert.sha256Hex };
}

/** The registrar, router and transports over the store of one state folder. */
function wire(o: SipDaemonOptions, tls: TlsSettings | undefined): SipServerOptions {
  const {
    store,
    layout,
    directory: givenDirectory,
    trunkKeysDir,
    tlsPort: _tlsPort,
    node: _node,
    requestClientCertificate: _req,
    requireClientCertificate: _reqd,
    lscCaNames: _lscCaNames,
    tlsReloadIntervalMs: _tlsReloadIntervalMs,
    controlSocket: _controlSocket,
    phoneControlOptions: _phoneControlOptions,
    digestAlgorithms,
    nonceLifetime,
    registrar: registrarOptions,
    trunkTlsCa,
    trunkChallenge,
    ...bounds
  } = o;
  const log = o.logger ?? silentLogger;
  const directory = givenDirectory ?? new ApplianceDirectory(store, { now: o.now ?? Date.now });
  // Each phone's nonce validity is its security profile's, applied by the registrar's DigestGate; the DigestServer's
  // own lifetime is only the ceiling (the longest a profile allows). `nonceLifetime` is for requests of no profile.
  const digest = new DigestServer({
    realm: directory.realm(),
    secret: digestSecret(layout),
    nonceLifetime: Math.max(PROFILE_LIMITS.maxNonceValiditySeconds, nonceLifetime ?? 0),
    algorithms: digestAlgorithms ?? ['SHA-256', 'MD5'],
  });
  const registrar = new Registrar(
    { digest, directory },
    { ...registrarOptions, gate: { ...(nonceLifetime ? { nonceLifetime } : {}), ...registrarOptions?.gate } },
  );
  const listeners: Listener[] = [];
  const router = new Router(
    {
      registrar,
      directory,
      routing: new StoreRoutingDirectory(store),
      digest,
      trunkCredentials: storeTrunkCredentials(store, trunkKeysDir ? { ...layout, keysDir: trunkKeysDir } : layout, log),
      routeKey: routeKey(layout.keysDir),
      trunkPeerVerified: (t, s) => trunkPeerByIssuer(t, s, t.tlsCaPem ?? trunkTlsCa?.[t.name]),
    },
    listeners,
    { ...(trunkChallenge ? { trunkChallenge } : {}) },
  );
  const tlsPort = o.tlsPort === undefined ? sipDaemonDefaults.tlsPort : o.tlsPort;
  return {
    ...bounds,
    registrar,
    router,
    listeners,
    ...(tlsPort === null || tls === undefined ? {} : { tls: { port: tlsPort, settings: tls } }),
    dialTrunk: (trunk, address) => {
      // Only towards a configured trunk (its address): a Request-URI or Route a phone wrote must not make the
      // appliance open connections to arbitrary hosts.
      const row = trunk !== undefined ? store.sip.getTrunk(trunk) : store.sip.findTrunkByHost(address);
      // The trunk's CA bundle from the store (read when dialling, so `sbd trunk ca` needs no restart; an open
      // connection keeps the certificate it verified), else the daemon option, else the system bundle.
      return row === undefined ? undefined : { ca: row.tlsCaPem ?? trunkTlsCa?.[row.name] };
    },
  };
}

/** The SIP server over a store: what sbd-sipd runs, and what tests start in-process. */
export class SipDaemon extends SipServer {
  /** Phone resets over registered flows, asked for on the control socket. */
  readonly phoneControl: PhoneControl;
  private readonly control: ControlServer | undefined;
  private readonly daemonOptions: SipDaemonOptions;
  /** The store generation and TLS context last seen (`reloadTls`). */
  private tlsSeen: { generation: number; key: string };
  private tlsTimer: NodeJS.Timeout | undefined;
  /** Times the 5061 context was swapped after a store change. */
  tlsReloads = 0;

  constructor(o: SipDaemonOptions) {
    const generation = o.store.generation();
    const tls = o.tlsPort === null ? undefined : tlsSettings(o);
    const w = wire(o, tls?.settings);
    const self: { server?: SipServer } = {};
    const phoneControl = new PhoneControl(
      {
        bindings: w.registrar.bindings,
        directory: new StorePhoneControlDirectory(o.store),
        send: (flow, bytes) => self.server?.sendOnFlow(flow, bytes) ?? false,
        listener: (t) => self.server?.listenerFor(t),
        ...(o.now ? { now: o.now } : {}),
      },
      o.phoneControlOptions,
    );
    super({ ...w, phoneControl });
    self.server = this;
    this.phoneControl = phoneControl;
    this.daemonOptions = o;
    this.tlsSeen = { generation, key: tls?.key ?? '' };
    this.control =
      o.controlSocket === undefined
        ? undefined
        : new ControlServer({ path: o.controlSocket }, (req, emit) => phoneControl.start(req, emit));
  }

  override async listen(): ReturnType<SipServer['listen']> {
    const ports = await super.listen();
    await this.control?.listen();
    const every = this.daemonOptions.tlsReloadIntervalMs ?? sipDaemonDefaults.tlsReloadIntervalMs;
    if (this.tls && every > 0) {
      this.tlsTimer = setInterval(() => this.reloadTls(), every);
      this.tlsTimer.unref();
    }
    return ports;
  }

  /**
   * When the store generation moved: the TLS identity, CAs and policy read again and, if any changed, swapped for new
   * connections (`set cert regen CallManager|CAPF`, a trunk CA, TLSMinVersion). True when swapped. A failed read
   * keeps the current context (a half-finished regeneration must not take 5061 down).
   */
  reloadTls(): boolean {
    if (!this.tls) return false;
    const o = this.daemonOptions;
    const log = o.logger ?? silentLogger;
    try {
      const generation = o.store.generation();
      if (generation === this.tlsSeen.generation) return false;
      const next = tlsSettings(o);
      this.tlsSeen = { generation, key: this.tlsSeen.key };
      if (next.key === this.tlsSeen.key) return false;
      this.tls.setTlsSettings(next.settings);
      this.tlsSeen = { generation, key: next.key };
      this.tlsReloads++;
      const ca = next.settings.ca;
      log.info('tls-reload', {
        sha256: next.sha256,
        cas: Array.isArray(ca) ? ca.length : ca ? 1 : 0,
        minVersion: next.settings.minVersion,
      });
      return true;
    } catch (err) {
      log.error('tls-reload-failed', { error: err });
      return false;
    }
  }

  override async close(): Promise<void> {
    if (this.tlsTimer) clearInterval(this.tlsTimer);
    this.phoneControl.close();
    await this.control?.close();
    await super.close();
  }
}

export interface SipdOptions extends Omit<SipDaemonOptions, 'store' | 'layout' | 'logger' | 'directory'> {
  /** The appliance state folder (store and keys; with `storeUrl`, the keys only). */
  stateDir: string;
  /** Read the store from this PostgreSQL (the node's primary or hot standby; password in PGPASSWORD) instead of SQLite. */
  storeUrl?: string;
  /** Where phones' reports go (the publisher's primary); default `storeUrl` (right on the publisher itself). */
  primaryUrl?: string;
}

/** The store over PostgreSQL (issue 21): the node's local copy, its directory, and the queue of node-local writes. */
async function openPgStore(storeUrl: string, primaryUrl: string | undefined, node: string | undefined, keysDir: string, logger: Logger) {
  const [{ connectPg }, { PgStoreCopy }, { PgNodeWriter }, { PgDirectory }, { publisher }, { CLUSTER_KEYS }, { TRUNK_SECRET_KEY_FILE }] =
    await Promise.all([
      import('../store/pg/connect.js'),
      import('../store/pg/store-copy.js'),
      import('../store/pg/node-writes.js'),
      import('./adapters/pg-sip-store.js'),
      import('../trust/cluster-lists.js'),
      import('../cluster/membership-keys.js'),
      import('../sip/auth/trunk-secret.js'),
    ]);
  const sql = connectPg(storeUrl);
  // The trunk-password key held beside the rows encrypted under it (store/pg/key-pins.ts).
  const copy = await PgStoreCopy.open(sql, {
    keys: { dir: keysDir, files: { [CLUSTER_KEYS.trunkPassword]: TRUNK_SECRET_KEY_FILE } },
    logger,
  });
  const primary = primaryUrl === undefined ? sql : connectPg(primaryUrl);
  const writes = new PgNodeWriter(primary, { node: node ?? publisher(copy.store).name, logger });
  return {
    store: copy.store,
    directory: new PgDirectory(copy, writes),
    ...(copy.keysDir ? { trunkKeysDir: copy.keysDir } : {}),
    close: async () => {
      await writes.close();
      copy.close();
      await Promise.all([sql.end({ timeout: 2 }), primary === sql ? undefined : primary.end({ timeout: 2 })]);
    },
  };
}

/** sbd-sipd: runs until a signal; resolves with the process exit code. */
export async function runSipd({ stateDir, storeUrl, primaryUrl, ...options }: SipdOptions): Promise<number> {
  const logger = createLogger('sipd');
  const opened =
    storeUrl === undefined
      ? { ...openState(stateDir), directory: undefined, trunkKeysDir: undefined, close: async () => {} }
      : {
          ...(await openPgStore(storeUrl, primaryUrl, options.node, stateLayout(stateDir).keysDir, logger)),
          layout: stateLayout(stateDir),
        };
  const { store, layout, directory, trunkKeysDir } = opened;
  const daemon = new SipDaemon({
    controlSocket: controlSocketPath(stateDir),
    ...options,
    store,
    layout,
    logger,
    ...(directory ? { directory } : {}),
    ...(trunkKeysDir ? { trunkKeysDir } : {}),
  });
  const ports = await daemon.listen();
  // One machine-readable line first: tests and scripts read the ports from it.
  process.stdout.write(JSON.stringify({ event: 'listening', ...ports }) + '\n');
  const tls = ports.tls ? ` tls ${ports.tls}, TLS: ${daemon.tls?.tlsPath ?? 'node'}` : '';
  const systemd = notifyReady(`SIP on ${ports.address} udp/tcp ${ports.udp}${tls}`);
  return waitForSignal(async () => {
    systemd.stopping();
    logger.info('stopping', daemon.stats);
    await daemon.close();
    store.close();
    await opened.close();
  });
}
