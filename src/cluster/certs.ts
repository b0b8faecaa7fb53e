/**
 * Certificate regeneration as an administrator does it (`set cert regen NAME`, `sbd cert regen NAME`), with the
 * warnings the seeds give: TVS before TFTP (CallManager) when both change; the CTL is rebuilt in mixed mode after a
 * CallManager regeneration; phones must be reset; a new encrypted backup must be taken; ITLRecovery is the
 * long-lived anchor phones hold as SAST.
 */
import type { Clock } from '../lib/clock.js';
import { UsageError } from '../lib/errors.js';
import { issueIdentity } from '../pki/identity-store.js';
import { identityNames, type IdentityName } from '../pki/profiles.js';
import type { CertRow } from '../store/index.js';
import { isMixedMode } from '../trust/cluster-lists.js';
import { activateTftp } from './init.js';
import type { State } from '../store/state.js';

export interface RegenResult {
  certificate: CertRow;
  replaced: CertRow | undefined;
  warnings: string[];
  itlSha256: string;
}

export function parseIdentityName(name: string): IdentityName {
  const hit = (identityNames as readonly string[]).find((n) => n.toLowerCase() === name.toLowerCase());
  if (!hit) throw new UsageError(`unknown certificate "${name}": one of ${identityNames.join(', ')}`);
  return hit as IdentityName;
}

export function regenWarnings(name: IdentityName, mixed: boolean): string[] {
  const w: string[] = [];
  if (name === 'TVS')
    w.push('If you also regenerate CallManager (TFTP), do it after TVS, never before: phones check the new ITL signer through TVS.');
  if (name === 'CallManager') {
    w.push(
      'Regenerate TVS before CallManager when both change; if TVS was regenerated after, phones that cannot verify the new ITL need "utils itl reset localkey".',
    );
    if (mixed) w.push('The cluster is in mixed mode: the CTL file has been rebuilt with the new CallManager certificate.');
  }
  if (name === 'ITLRecovery') {
    w.push(
      'ITLRecovery signs the ITL and is what phones hold to accept a new ITL. Phones that have the old ITLRecovery verify the new ITL only through TVS; keep TVS reachable and unchanged until every phone has the new ITL.',
    );
    w.push('Export the new key with "file get tftp ITLRecovery.p12" and keep it safe: without it, an ITL reset is not possible.');
  }
  if (name !== 'tomcat')
    w.push('Reset the phones so they download the new trust list, and take a new encrypted backup (utils disaster_recovery backup).');
  return w;
}

export function regenerateCertificate(state: State, nameText: string, clock: Clock, nodeName?: string): RegenResult {
  const name = parseIdentityName(nameText);
  const nodes = state.store.listNodes();
  const node = nodeName ? nodes.find((n) => n.name === nodeName) : (nodes.find((n) => n.isPublisher) ?? nodes[0]);
  if (!node) throw new UsageError(nodeName ? `no node named "${nodeName}"` : 'the store has no node: run "sbd init" first');
  const scope = name === 'ITLRecovery' ? null : node.name;
  const replaced = state.store.currentCertificate(name, scope);
  const validityYears = name === 'ITLRecovery' ? state.store.getIntParam('ITLRecoveryValidityYears') : undefined;
  const keyBits = state.store.getIntParam('KeySize') as 2048 | 3072 | 4096;
  if (keyBits === 3072 && (name === 'CallManager' || name === 'ITLRecovery')) {
    throw new UsageError(
      `${name} signs trust lists and configs, whose header (tag 11) can describe only 1024, 2048 or 4096-bit signatures: set KeySize to 2048 or 4096`,
    );
  }
  const certificate = issueIdentity(state.store, state.layout, {
    name,
    node,
    clock,
    keySpec: { type: 'rsa', bits: keyBits },
    ...(validityYears ? { validityYears } : {}),
  });
  const { itlSha256 } = activateTftp(state, clock);
  return { certificate, replaced, warnings: regenWarnings(name, isMixedMode(state.store)), itlSha256 };
}
