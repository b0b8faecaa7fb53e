/**
 * sbd-tftpd: choose the file source (the appliance's generated files over the store, with a folder as its static
 * files, or a folder alone), start the native data plane (or the TypeScript reference server), tell systemd,
 * prebuild the trust lists and configs, stop on SIGTERM/SIGINT.
 */
import { UsageError } from '../lib/errors.js';
import { createLogger } from '../lib/log.js';
import { notifyReady } from '../lib/sd-notify.js';
import { waitForSignal } from '../lib/signals.js';
import { TftpServer, type TftpServerOptions } from '../tftp/server.js';
import type { TftpServerLike } from '../tftp/server-like.js';
import { NativeTftpServer } from '../tftp/native-server.js';
import { FolderFileSource, type OpenedFile, type TftpFileSource } from '../tftp/file-source.js';
import type { ApplianceFileSource } from '../tftp/appliance-source.js';

export interface TftpdOptions extends Omit<TftpServerOptions, 'source' | 'logger'> {
  /** The appliance state folder: serve the trust lists and configs from its store. */
  stateDir?: string;
  /**
   * The cluster node this TFTP server is (with `stateDir`): its CallManager key signs its ITL and configs, its served
   * ITL hash is recorded under its name (issue 21 item 4). Default: the publisher.
   */
  node?: string;
  /**
   * Serve from this PostgreSQL (the node's primary or hot standby; password in PGPASSWORD) instead of `stateDir`'s
   * SQLite (issue 21): a local copy reloaded when its generation moves (store/pg/store-copy.ts).
   */
  storeUrl?: string;
  /** With `storeUrl`: where this server's served ITL hash goes (the publisher's primary); default `storeUrl`. */
  primaryUrl?: string;
  /** With `storeUrl`: this node's keys folder (the phone-password key: configs then carry delivered digest passwords). */
  keysDir?: string;
  /** Static files: alone, or beside the appliance's files. */
  root?: string;
  /** Folder only: how long a read file is served from memory; default 1000 ms. */
  cacheMs?: number;
  /** 'auto' (default): the native data plane when libsbdtftp.so is built, else the TypeScript server. */
  engine?: 'auto' | 'native' | 'node';
}

/** Runs until a signal; resolves with the process exit code. */
export async function runTftpd({
  stateDir,
  storeUrl,
  primaryUrl,
  keysDir,
  node,
  root,
  cacheMs,
  engine = 'auto',
  ...options
}: TftpdOptions): Promise<number> {
  let source: TftpFileSource;
  let closeSource: () => void | Promise<void> = () => {};
  let appliance: ApplianceFileSource | undefined;
  const logger = createLogger('tftpd');
  if (storeUrl !== undefined) {
    // A node reading PostgreSQL: the ITL reset's end is the publisher's (its SQLite is the store of record).
    const { openPgApplianceSource } = await import('./adapters/pg-tftp-store.js');
    const opened = await openPgApplianceSource(storeUrl, {
      primaryUrl,
      node,
      keysDir,
      writerLogger: logger,
      ...(root !== undefined ? { staticRoot: root } : {}),
    });
    source = appliance = opened.source;
    closeSource = opened.close;
  } else if (stateDir !== undefined) {
    // A TFTP (re)start ends the temporary CallManager signing of `utils itl reset localkey` (DESIGN §2, the seed).
    const [{ withState }, { endTemporaryItlSigning }, { AuditAction, auditedSync }, { systemClock }] = await Promise.all([
      import('../store/state.js'),
      import('../cluster/itl-reset.js'),
      import('../cluster/audit.js'),
      import('../lib/clock.js'),
    ]);
    const ended = withState(stateDir, (s) =>
      s.store.getParam('ItlResetSigner') !== 'CallManager'
        ? undefined
        : auditedSync(s.store, { user: 'sbd-tftpd', action: AuditAction.itlReset, detail: 'tftp-restart' }, () =>
            endTemporaryItlSigning(s, systemClock),
          ),
    );
    if (ended)
      logger.info('itl-reset-ended', { message: 'TFTP restarted: the ITL is signed by ITLRecovery again', sha256: ended.itlSha256 });
    // Loaded only when asked for: the folder-only daemon needs no store.
    const { openApplianceSource } = await import('./adapters/tftp-store.js');
    const opened = openApplianceSource(stateDir, {
      ...(root !== undefined ? { staticRoot: root } : {}),
      ...(node !== undefined ? { node } : {}),
    });
    source = appliance = opened.source;
    closeSource = opened.close;
  } else if (root !== undefined) {
    source = new FolderFileSource(root, { cacheTtlMs: cacheMs ?? 1000 });
  } else {
    throw new UsageError('give --state DIR, --root DIR or both');
  }
  const native = engine === 'native' || (engine === 'auto' && NativeTftpServer.available());
  if (engine === 'auto' && !native)
    logger.warn('native-engine-missing', { message: 'libsbdtftp.so is not built: serving with the TypeScript server' });
  const Server = native ? NativeTftpServer : TftpServer;
  const server: TftpServerLike = new Server({ ...options, source, logger });
  try {
    await server.listen();
  } catch (err) {
    await closeSource();
    throw err;
  }
  const where = server
    .addresses()
    .map((a) => `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`)
    .join(', ');
  const systemd = notifyReady(`TFTP on ${where}`);
  if (appliance) {
    // The trust lists and every known phone's first config built now, not by the first phone of a boot storm
    // (and handed to the native data plane, which then serves them without asking).
    const started = Date.now();
    const publish = server instanceof NativeTftpServer ? (name: string, file: OpenedFile) => void server.publish(name, file) : undefined;
    appliance.prebuild({ onFile: publish }).then(
      (files) => logger.info('prebuilt', { files, ms: Date.now() - started }),
      (err: unknown) => logger.warn('prebuild-failed', { err }),
    );
  }
  return waitForSignal(async () => {
    systemd.stopping();
    await server.sync();
    logger.info('stopping', { ...server.counters, active: server.activeTransfers });
    await server.close();
    await closeSource();
  });
}
