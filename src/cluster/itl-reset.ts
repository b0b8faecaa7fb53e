/**
 * Bulk trust-list resets (DESIGN §2): `utils itl reset localkey|remotekey|complete` (`itlReset`), `utils ctl reset
 * localkey|complete` (`ctlReset`) and `utils ctl update CTLFile` (`ctlUpdate`). Every step rebuilds the ITL at once
 * and records its hash. The CallManager signing of `localkey` is temporary, as the seed states: it lasts until
 * `complete` or until the TFTP service restarts — sbd-tftpd calls endTemporaryItlSigning when it starts, before it
 * serves anything.
 */
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { X509Certificate } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import { UsageError } from '../lib/errors.js';
import { writeKeyFile } from '../pki/keys.js';
import { importPkcs12 } from '../pki/pkcs12.js';
import { buildCtl, isMixedMode, remoteKeyName } from '../trust/cluster-lists.js';
import { activateTftp } from './init.js';
import type { State } from '../store/state.js';

export type ItlResetStep = 'localkey' | 'remotekey' | 'complete';

export interface ItlResetResult {
  signer: string;
  itlSha256: string;
  message: string;
}

/**
 * - `utils itl reset localkey`: the ITL is temporarily signed with the TFTP node's CallManager key — which every phone
 *   holds as a SAST record of its current ITL — so phones that can no longer verify the ITLRecovery signer accept
 *   the new ITL;
 * - `utils itl reset remotekey FILE.p12`: the same with a key kept off the appliance, typically an earlier
 *   ITLRecovery.p12 export, for phones that still hold that (lost or regenerated) ITLRecovery as SAST;
 * - `utils itl reset complete`: ITLRecovery signs again; the phones hold it from the reset ITL. (An imported remote
 *   key stays in the store as a record of what signed; it no longer signs anything.)
 */
export function itlReset(state: State, step: ItlResetStep, clock: Clock, remote?: { p12: Buffer; password: string }): ItlResetResult {
  const { store } = state;
  if (step === 'remotekey') {
    if (!remote) throw new UsageError('utils itl reset remotekey needs the PKCS#12 file of the remote key and its password');
    const { certPem, privateKeyPem } = importPkcs12(remote.p12, remote.password);
    const cert = new X509Certificate(certPem);
    if (cert.publicKey.asymmetricKeyType !== 'rsa')
      throw new UsageError('the remote key must be an RSA key (trust lists are signed with RSA)');
    const keyFile = join(state.layout.keysDir, `${remoteKeyName}-${cert.serialNumber.toLowerCase()}.key`);
    writeKeyFile(keyFile, privateKeyPem);
    store.transaction(() => {
      store.putCertificate({ name: remoteKeyName, node: null, pem: certPem, keyFile });
      store.setParam('ItlResetSigner', 'RemoteKey');
    });
  } else {
    store.setParam('ItlResetSigner', step === 'localkey' ? 'CallManager' : 'ITLRecovery');
  }
  const { itlSha256 } = activateTftp(state, clock);
  const signer = store.getParam('ItlResetSigner');
  const message =
    step === 'complete'
      ? 'The ITL is signed by ITLRecovery again. Reset the phones so they take it.'
      : `The ITL is now signed by the ${step === 'localkey' ? 'CallManager key' : 'imported remote key'}. Reset the phones; when they have all taken the new ITL (ITL File Status: Match), run "utils itl reset complete" so ITLRecovery signs it again.`;
  return { signer, itlSha256, message };
}

/**
 * At TFTP service start: an ITL left signed by the CallManager key (`utils itl reset localkey`) goes back to
 * ITLRecovery and is rebuilt. Returns whether it did. (A remote key stays until `complete`: the seed names only
 * localkey.)
 */
export function endTemporaryItlSigning(state: State, clock: Clock): { itlSha256: string } | undefined {
  if (state.store.getParam('ItlResetSigner') !== 'CallManager') return undefined;
  return state.store.transaction(() => {
    state.store.setParam('ItlResetSigner', 'ITLRecovery');
    return { itlSha256: activateTftp(state, clock).itlSha256 };
  });
}

export type CtlResetStep = 'localkey' | 'complete';

/** `utils ctl reset localkey|complete`: the CTL (mixed mode) signed by ITLRecovery for a while, then by CallManager. */
export function ctlReset(state: State, step: CtlResetStep, clock: Clock): { signer: string; message: string } {
  if (!isMixedMode(state.store))
    throw new UsageError('the cluster is not in mixed mode: there is no CTL to reset ("utils ctl set-cluster mixed-mode")');
  const signer = step === 'localkey' ? 'ITLRecovery' : 'CallManager';
  state.store.transaction(() => {
    state.store.setParam('CtlResetSigner', signer);
    buildCtl(state.store, clock); // a CTL that cannot be signed leaves the parameter as it was
  });
  return {
    signer,
    message:
      step === 'localkey'
        ? 'The CTL is now signed by ITLRecovery. Reset the phones; when they have taken it, run "utils ctl reset complete".'
        : 'The CTL is signed by the CallManager key again. Reset the phones so they take it.',
  };
}

/**
 * `utils ctl update CTLFile`: rebuild and re-sign the CTL from the certificates in the store now (tokenless CTL: the
 * publisher's CallManager key, spec §1.5; ITLRecovery during a CTL reset), e.g. after a regeneration. The write
 * bumps the store generation, so TFTP serves the freshly signed file from its next request on.
 */
export function ctlUpdate(state: State, clock: Clock): { signer: string; sha256: string; bytes: number; message: string } {
  const { store } = state;
  if (!isMixedMode(store))
    throw new UsageError('the cluster is not in mixed mode: there is no CTL to update ("utils ctl set-cluster mixed-mode")');
  return store.transaction(() => {
    const signer = store.getParam('CtlResetSigner');
    store.setParam('CtlResetSigner', signer); // the write that makes TFTP rebuild
    const ctl = buildCtl(store, clock);
    if (!ctl) throw new UsageError('no CTL could be built');
    return {
      signer,
      sha256: createHash('sha256').update(ctl).digest('hex'),
      bytes: ctl.length,
      message: 'The CTL is rebuilt from the current certificates and signed again. Reset the phones so they take it.',
    };
  });
}
