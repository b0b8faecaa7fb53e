/**
 * TFTP's `ApplianceFiles` (src/tftp/appliance-files.ts) over the SQLite store (issue 17 item 4): the trust lists
 * from trust/cluster-lists.ts, the configs from config/cluster-configs.ts, static `.sgn` signed with this node's
 * CallManager key, and the served ITL/CTL recorded per node. The only file that joins TFTP to the store.
 */
import { unixSeconds, type Clock } from '../../lib/clock.js';
import { defaultConfigFile, deviceConfigFile, supportsSecurityByDefault } from '../../config/cluster-configs.js';
import type { NodeRow, Store } from '../../store/index.js';
import { openState } from '../../store/state.js';
import { buildCtl, buildItl, publisher, signerOf } from '../../trust/cluster-lists.js';
import { buildSgn } from '../../trust/sgn.js';
import { PkiError, PkiErrorCode } from '../../pki/errors.js';
import type { HashName } from '../../trust/tags.js';
import type { ApplianceFiles, DeviceConfigSuffix, TftpDevice, TrustListFile } from '../../tftp/appliance-files.js';
import { ApplianceFileSource, type ApplianceSourceOptions } from '../../tftp/appliance-source.js';
import { printable, TftpError } from '../../tftp/core/errors.js';

export class StoreApplianceFiles implements ApplianceFiles {
  readonly #store: Store;
  readonly #nodeName: string | undefined;

  /** `node`: the TFTP node this server is (its CallManager key signs, its ITL hash is recorded); default the publisher. */
  constructor(store: Store, options: { node?: string | undefined } = {}) {
    this.#store = store;
    this.#nodeName = options.node;
  }

  /** Read on every use: the publisher (or the node's row) may change while the server runs. */
  #node(): NodeRow {
    if (this.#nodeName === undefined) return publisher(this.#store);
    const n = this.#store.getNode(this.#nodeName);
    if (!n) throw new TftpError('ERR_TFTP_NODE', `the store has no node named ${this.#nodeName}`);
    return n;
  }

  generation(): number {
    return this.#store.generation();
  }

  get generationFile(): string | undefined {
    return this.#store.generationFile;
  }

  snapshot<T>(read: () => T): T {
    return this.#store.snapshot(read);
  }

  /** This node's own ITL: its CallManager certificate, every TVS (issue 21 item 4; trust/cluster-lists.ts). */
  itl(clock: Clock): Buffer {
    return buildItl(this.#store, clock, 'ITLFile.tlv', this.#node());
  }

  /**
   * The CTL, signed by the publisher's CallManager key. A subscriber does not hold that key (private keys never leave
   * a node): it serves the CTL the publisher's TFTP served, from the store, as CUCM copies the publisher's CTL to
   * every TFTP node (issue 21 item 4); none until the publisher's TFTP has served one.
   */
  ctl(clock: Clock): Buffer | undefined {
    try {
      return buildCtl(this.#store, clock);
    } catch (err) {
      const pub = publisher(this.#store);
      if (!(err instanceof PkiError && err.code === PkiErrorCode.keyFile) || this.#node().name === pub.name) throw err;
      return this.#store.listServedTrustFiles('CTLFile.tlv').find((r) => r.server === pub.name)?.bytes;
    }
  }

  defaultConfig(signed: boolean, clock: Clock): Buffer {
    return defaultConfigFile(this.#store, signed, clock, this.#node());
  }

  device(name: string): TftpDevice | undefined {
    const d = this.#store.getDevice(name);
    return d && { name: d.name, securityByDefault: supportsSecurityByDefault(this.#store, d.model) };
  }

  devices(): TftpDevice[] {
    return this.#store.listDevices().map((d) => ({ name: d.name, securityByDefault: supportsSecurityByDefault(this.#store, d.model) }));
  }

  deviceConfig(name: string, suffix: DeviceConfigSuffix, clock: Clock): Buffer | undefined {
    const d = this.#store.getDevice(name);
    return d ? deviceConfigFile(this.#store, d, suffix, clock, this.#node()) : undefined;
  }

  signStatic(filename: string, body: Buffer, clock: Clock): Buffer {
    const node = this.#node();
    const cm = this.#store.currentCertificate('CallManager', node.name);
    if (!cm) throw new TftpError('ERR_TFTP_SOURCE', `node ${node.name} has no CallManager certificate to sign ${printable(filename)}`);
    return buildSgn({
      body,
      filename,
      signer: signerOf(cm),
      timestamp: unixSeconds(clock),
      hash: this.#store.getParam('SignatureHash') as HashName,
    });
  }

  servedSha256(file: TrustListFile): string | undefined {
    const node = this.#node();
    return this.#store.listServedTrustFiles(file).find((r) => r.server === node.name)?.sha256Hex;
  }

  recordServed(file: TrustListFile, bytes: Buffer | undefined, at: Date): void {
    const node = this.#node();
    if (bytes) this.#store.recordServedTrustFile(node.name, file, bytes, at.toISOString());
    else this.#store.removeServedTrustFile(node.name, file);
  }
}

export interface StoreApplianceSourceOptions extends Omit<ApplianceSourceOptions, 'files'> {
  store: Store;
  /** The TFTP node this server is. Default the publisher. */
  node?: string;
}

/** The appliance's TFTP file source over `store`. */
export function storeApplianceSource({ store, node, ...options }: StoreApplianceSourceOptions): ApplianceFileSource {
  return new ApplianceFileSource({ ...options, files: new StoreApplianceFiles(store, { node }) });
}

/**
 * For `sbd daemon tftp --state DIR`: the appliance source over the store in DIR (opened read-write: the server
 * records the ITL hash it serves). `close()` closes the store once the server has stopped.
 */
export function openApplianceSource(
  stateDir: string,
  options: Omit<StoreApplianceSourceOptions, 'store'> = {},
): { source: ApplianceFileSource; close: () => void } {
  const state = openState(stateDir);
  if (options.node !== undefined && !state.store.getNode(options.node)) {
    const known = state.store.listNodes().map((n) => n.name);
    state.store.close();
    // Refused at start: a TFTP server that cannot say which node it is would sign nothing.
    throw new TftpError('ERR_TFTP_NODE', `--node ${printable(options.node)}: the store has no such node (nodes: ${known.join(', ')})`);
  }
  return { source: storeApplianceSource({ ...options, store: state.store }), close: () => state.store.close() };
}
