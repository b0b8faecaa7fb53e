/**
 * The cluster's trust lists derived from the store: which certificates go in (TrustListInputs), who signs, and
 * the Prepare-Cluster-for-Rollback and ITL-reset parameters. Deterministic for a given store and clock.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { unixSeconds, type Clock } from '../lib/clock.js';
import type { CertRow, NodeRow, Store } from '../store/index.js';
import { privateKeyOf } from '../pki/identity-store.js';
import type { Signer } from './build.js';
import { TrustError, TrustErrorCode } from './errors.js';
import { buildTrustList, ctlRecordInputs, itlRecordInputs, type ServerCert, type TrustListInputs } from './lists.js';
import { signerIdentityOf } from './record.js';
import type { HashName } from './tags.js';

function need(row: CertRow | undefined, what: string): CertRow {
  if (!row)
    throw new TrustError(TrustErrorCode.content, `the store has no current ${what} certificate: run "sbd init" or "sbd cert regen"`);
  return row;
}

function serverCert(row: CertRow, node: NodeRow | undefined): ServerCert {
  return { der: row.der, hostname: node?.hostname, ipv4: node?.ipv4 ?? undefined };
}

// Key files never change once written (a regeneration writes a new file), so a parsed key is cached per path:
// a boot storm signs thousands of configs and must not read and parse the key file for each one.
const keyCache = new Map<string, KeyObject>();

export function signerOf(row: CertRow): Signer {
  let privateKey = row.keyFile ? keyCache.get(row.keyFile) : undefined;
  if (!privateKey) {
    privateKey = createPrivateKey(privateKeyOf(row));
    if (row.keyFile) keyCache.set(row.keyFile, privateKey);
  }
  return { ...signerIdentityOf(row.der), privateKey };
}

export function publisher(store: Store): NodeRow {
  const nodes = store.listNodes();
  const pub = nodes.find((n) => n.isPublisher) ?? nodes[0];
  if (!pub) throw new TrustError(TrustErrorCode.content, 'the store has no cluster node: run "sbd init" first');
  return pub;
}

/**
 * What goes into the trust lists. With `tftpNode`, the ITL that node serves: only its own CallManager certificate as
 * the TFTP server (each TFTP server builds its own ITL, issue 21 item 4), every TVS and CAPF of the cluster. Without
 * it, every TFTP node (the CTL lists every node).
 */
export function trustListInputs(store: Store, tftpNode?: NodeRow): TrustListInputs {
  const nodes = store.listNodes();
  const has = (n: NodeRow, s: string) => (n.services as string[]).includes(s);
  const cm = (n: NodeRow) => need(store.currentCertificate('CallManager', n.name), `CallManager (${n.name})`);
  const tftpNodes = tftpNode ? [tftpNode] : nodes.filter((n) => has(n, 'tftp'));
  return {
    itlRecovery: serverCert(need(store.currentCertificate('ITLRecovery', null), 'ITLRecovery'), publisher(store)),
    tftpServers: tftpNodes.map((n) => ({ ...serverCert(cm(n), n), ccm: has(n, 'callmanager') || has(n, 'sip') })),
    callManagers: nodes.filter((n) => !has(n, 'tftp') && (has(n, 'callmanager') || has(n, 'sip'))).map((n) => serverCert(cm(n), n)),
    tvs: nodes.filter((n) => has(n, 'tvs')).map((n) => serverCert(need(store.currentCertificate('TVS', n.name), `TVS (${n.name})`), n)),
    capf: nodes.filter((n) => has(n, 'capf')).map((n) => serverCert(need(store.currentCertificate('CAPF', n.name), `CAPF (${n.name})`), n)),
  };
}

/**
 * Who signs a TFTP node's ITL. The publisher: ITLRecovery, or its CallManager key during `utils itl reset` (DESIGN
 * §2). A subscriber: its own CallManager key, always: ITLRecovery's private key stays on the publisher (private keys
 * never leave a node, docs/cluster.md), so a subscriber signs as a TFTP server did before CUCM 12 (spec §1.5). Its
 * ITL still lists ITLRecovery as SAST; a phone that holds another node's ITL takes it because TVS vouches for the
 * signer (every TVS of the cluster is in every ITL).
 */
export function itlSigner(store: Store, tftpNode: NodeRow = publisher(store)): { signer: Signer; name: string } {
  const which = tftpNode.name === publisher(store).name ? store.getParam('ItlResetSigner') : 'CallManager';
  const row =
    which === 'CallManager'
      ? need(store.currentCertificate('CallManager', tftpNode.name), `CallManager (${tftpNode.name})`)
      : which === 'RemoteKey'
        ? need(store.currentCertificate(remoteKeyName, null), 'imported ITL reset key (utils itl reset remotekey)')
        : need(store.currentCertificate('ITLRecovery', null), 'ITLRecovery');
  return { signer: signerOf(row), name: row.name };
}

/** Store name of the key imported by `utils itl reset remotekey` (an ITLRecovery.p12 kept off the appliance). */
export const remoteKeyName = 'ITLResetRemoteKey';

function hashParam(store: Store): HashName {
  return store.getParam('SignatureHash') as HashName;
}

/** The ITL `tftpNode` serves (default the publisher's), signed by `itlSigner`. */
export function buildItl(store: Store, clock: Clock, filename = 'ITLFile.tlv', tftpNode: NodeRow = publisher(store)): Buffer {
  return buildTrustList(itlRecordInputs(trustListInputs(store, tftpNode)), {
    signer: itlSigner(store, tftpNode).signer,
    filename,
    timestamp: unixSeconds(clock),
    hash: hashParam(store),
    rollback: store.getBoolParam('PrepareClusterForRollback'),
  });
}

export function isMixedMode(store: Store): boolean {
  return store.getParam('ClusterSecurityMode') === 'mixed';
}

/** The tokenless CTL (mixed mode only), signed by the publisher's CallManager key. */
export function buildCtl(store: Store, clock: Clock, filename = 'CTLFile.tlv'): Buffer | undefined {
  if (!isMixedMode(store)) return undefined;
  const inputs = trustListInputs(store);
  const pub = publisher(store);
  const pubCm = need(store.currentCertificate('CallManager', pub.name), 'CallManager');
  // `utils ctl reset localkey`: the CTL is signed by ITLRecovery (a SAST record of the CTL itself) for a while.
  const signerRow =
    store.getParam('CtlResetSigner') === 'ITLRecovery' ? need(store.currentCertificate('ITLRecovery', null), 'ITLRecovery') : pubCm;
  return buildTrustList(ctlRecordInputs(inputs, serverCert(pubCm, pub)), {
    signer: signerOf(signerRow),
    filename,
    timestamp: unixSeconds(clock),
    hash: hashParam(store),
  });
}
