/**
 * Bulk ITL reset (`utils itl reset localkey`, DESIGN §2): the ITL is temporarily signed with the TFTP node's
 * CallManager key — which every phone holds as a SAST record of its current ITL — so phones that can no longer
 * verify the ITLRecovery signer accept the new ITL; `utils itl reset complete` hands signing back to ITLRecovery,
 * which the phones now hold from the reset ITL. Both steps rebuild the ITL at once and record its hash.
 */
import type { Clock } from '../lib/clock.js';
import { activateTftp } from './init.js';
import type { State } from './state.js';

export type ItlResetStep = 'localkey' | 'complete';

export interface ItlResetResult {
  signer: 'CallManager' | 'ITLRecovery';
  itlSha256: string;
  message: string;
}

export function itlReset(state: State, step: ItlResetStep, clock: Clock): ItlResetResult {
  const signer = step === 'localkey' ? 'CallManager' : 'ITLRecovery';
  state.store.setParam('ItlResetSigner', signer);
  const { itlSha256 } = activateTftp(state, clock);
  const message =
    step === 'localkey'
      ? 'The ITL is now signed by the CallManager key. Reset the phones; when they have all taken the new ITL (ITL File Status: Match), run "utils itl reset complete" so ITLRecovery signs it again.'
      : 'The ITL is signed by ITLRecovery again. Reset the phones so they take it.';
  return { signer, itlSha256, message };
}
