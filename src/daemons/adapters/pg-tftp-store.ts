/**
 * TFTP's `ApplianceFiles` over the PostgreSQL engine (issue 21 item 1): the SQLite adapter (tftp-store.ts) run over
 * the node's local copy of its PostgreSQL (store/pg/store-copy.ts), so every trust list, config and signature is
 * built by the same code from the same rows. What differs is the one write TFTP makes, the trust list this node
 * serves: kept in the copy (read back at once by `servedSha256`) and queued for the publisher's primary
 * (store/pg/node-writes.ts), from where every node's ITL File Status sees it. And a config's delivered digest
 * password is decrypted with the phone-password key in this node's `keysDir` (the copy is no state folder), as the
 * copy holds it beside its rows (store/pg/key-pins.ts: never a key installed for rows the copy has not loaded yet).
 */
import { CLUSTER_KEYS } from '../../cluster/membership-keys.js';
import { PHONE_SECRET_KEY_FILE } from '../../credentials/phone-secret.js';
import type { Logger } from '../../lib/log.js';
import { connectPg } from '../../store/pg/connect.js';
import { PgNodeWriter } from '../../store/pg/node-writes.js';
import { PgStoreCopy } from '../../store/pg/store-copy.js';
import { printable, TftpError } from '../../tftp/core/errors.js';
import { ApplianceFileSource, type ApplianceSourceOptions } from '../../tftp/appliance-source.js';
import type { TrustListFile } from '../../tftp/appliance-files.js';
import type { Clock } from '../../lib/clock.js';
import { deviceConfigFile } from '../../config/cluster-configs.js';
import { phonePasswordLookup } from '../../credentials/phone-digest.js';
import type { NodeRow } from '../../store/index.js';
import type { DeviceConfigSuffix } from '../../tftp/appliance-files.js';
import { publisher } from '../../trust/cluster-lists.js';
import { StoreApplianceFiles } from './tftp-store.js';

export class PgApplianceFiles extends StoreApplianceFiles {
  readonly #copy: PgStoreCopy;
  readonly #writes: PgNodeWriter | undefined;
  readonly #node: string | undefined;
  readonly #keysDir: string | undefined;

  /**
   * `node`: the TFTP node this server is (default the publisher); `writes`: where its served lists go (none: kept
   * local); `keysDir`: this node's keys folder, for delivered digest passwords (none: configs carry none).
   */
  constructor(
    copy: PgStoreCopy,
    options: { node?: string | undefined; writes?: PgNodeWriter | undefined; keysDir?: string | undefined } = {},
  ) {
    super(copy.store, { node: options.node });
    this.#copy = copy;
    this.#writes = options.writes;
    this.#node = options.node;
    this.#keysDir = options.keysDir;
  }

  #nodeRow(): NodeRow {
    const store = this.#copy.store;
    return this.#node === undefined ? publisher(store) : (store.getNode(this.#node) ?? publisher(store));
  }

  override deviceConfig(name: string, suffix: DeviceConfigSuffix, clock: Clock): Buffer | undefined {
    if (this.#keysDir === undefined) return super.deviceConfig(name, suffix, clock);
    const store = this.#copy.store;
    const d = store.getDevice(name);
    const keysDir = this.#copy.keysDir ?? this.#keysDir;
    return d
      ? deviceConfigFile(store, d, suffix, clock, this.#nodeRow(), { phonePasswords: phonePasswordLookup(store, keysDir) })
      : undefined;
  }

  override recordServed(file: TrustListFile, bytes: Buffer | undefined, at: Date): void {
    super.recordServed(file, bytes, at);
    const server = this.#node ?? publisher(this.#copy.store).name;
    const row = bytes ? this.#copy.store.listServedTrustFiles(file).find((r) => r.server === server) : undefined;
    this.#writes?.servedTrustFile(file, row ?? null);
  }
}

export interface PgApplianceSourceOptions extends Omit<ApplianceSourceOptions, 'files'> {
  copy: PgStoreCopy;
  node?: string | undefined;
  writes?: PgNodeWriter | undefined;
  keysDir?: string | undefined;
}

/** The appliance's TFTP file source over a node's PostgreSQL copy. */
export function pgApplianceSource({ copy, node, writes, keysDir, ...options }: PgApplianceSourceOptions): ApplianceFileSource {
  return new ApplianceFileSource({ ...options, files: new PgApplianceFiles(copy, { node, writes, keysDir }) });
}

/**
 * For `sbd daemon tftp --store-url URL`: the node's copy of that PostgreSQL (password in PGPASSWORD), the writer of
 * its served lists to `primaryUrl` (default the same server: right on the publisher), the source over both.
 * `close()` flushes the writer and ends the connections once the server has stopped.
 */
export async function openPgApplianceSource(
  storeUrl: string,
  options: Omit<PgApplianceSourceOptions, 'copy' | 'writes'> & { primaryUrl?: string | undefined; writerLogger?: Logger },
): Promise<{ source: ApplianceFileSource; close: () => Promise<void> }> {
  const { primaryUrl, writerLogger, ...sourceOptions } = options;
  const sql = connectPg(storeUrl);
  const keys =
    options.keysDir === undefined ? {} : { keys: { dir: options.keysDir, files: { [CLUSTER_KEYS.phonePassword]: PHONE_SECRET_KEY_FILE } } };
  const copy = await PgStoreCopy.open(sql, { ...keys, ...(writerLogger ? { logger: writerLogger } : {}) }).catch(async (err: unknown) => {
    await sql.end({ timeout: 2 });
    throw err;
  });
  const primary = primaryUrl === undefined ? sql : connectPg(primaryUrl);
  const close = async () => {
    await writes.close();
    copy.close();
    await Promise.all([sql.end({ timeout: 2 }), primary === sql ? undefined : primary.end({ timeout: 2 })]);
  };
  const node = options.node ?? publisher(copy.store).name;
  const writes = new PgNodeWriter(primary, { node, ...(writerLogger ? { logger: writerLogger } : {}) });
  if (!copy.store.getNode(node)) {
    const known = copy.store.listNodes().map((n) => n.name);
    await close();
    throw new TftpError('ERR_TFTP_NODE', `--node ${printable(node)}: the store has no such node (nodes: ${known.join(', ')})`);
  }
  return { source: pgApplianceSource({ ...sourceOptions, copy, writes }), close };
}
