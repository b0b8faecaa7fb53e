/**
 * TFTP's `ApplianceFiles` over the PostgreSQL engine (issue 21 item 1): the SQLite adapter (tftp-store.ts) run over
 * the node's local copy of its PostgreSQL (store/pg/store-copy.ts), so every trust list, config and signature is
 * built by the same code from the same rows. What differs is the one write TFTP makes, the trust list this node
 * serves: kept in the copy (read back at once by `servedSha256`) and queued for the publisher's primary
 * (store/pg/node-writes.ts), from where every node's ITL File Status sees it.
 */
import type { PgNodeWriter } from '../../store/pg/node-writes.js';
import type { PgStoreCopy } from '../../store/pg/store-copy.js';
import { ApplianceFileSource, type ApplianceSourceOptions } from '../../tftp/appliance-source.js';
import type { TrustListFile } from '../../tftp/appliance-files.js';
import { publisher } from '../../trust/cluster-lists.js';
import { StoreApplianceFiles } from './tftp-store.js';

export class PgApplianceFiles extends StoreApplianceFiles {
  readonly #copy: PgStoreCopy;
  readonly #writes: PgNodeWriter | undefined;
  readonly #node: string | undefined;

  /** `node`: the TFTP node this server is (default the publisher); `writes`: where its served lists go (none: kept local). */
  constructor(copy: PgStoreCopy, options: { node?: string | undefined; writes?: PgNodeWriter | undefined } = {}) {
    super(copy.store, { node: options.node });
    this.#copy = copy;
    this.#writes = options.writes;
    this.#node = options.node;
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
}

/** The appliance's TFTP file source over a node's PostgreSQL copy. */
export function pgApplianceSource({ copy, node, writes, ...options }: PgApplianceSourceOptions): ApplianceFileSource {
  return new ApplianceFileSource({ ...options, files: new PgApplianceFiles(copy, { node, writes }) });
}
