/**
 * The appliance's identities in their state folder: the certificate in the store, the private key in a 0600 file
 * under `<state>/keys/` (never under anything TFTP serves). Issuing a new identity keeps the old certificate as
 * history (the store does that in one transaction) so TVS can still vouch for it.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../lib/clock.js';
import type { CertRow, NodeRow, Store } from '../store/index.js';
import { readKeyFile, writeKeyFile, type KeySpec } from './keys.js';
import { PkiError, PkiErrorCode } from './errors.js';
import { generateIdentity, type IdentityName, type OrgInfo } from './profiles.js';

export interface StateLayout {
  dir: string;
  dbPath: string;
  keysDir: string;
}

export function stateLayout(dir: string): StateLayout {
  return { dir, dbPath: join(dir, 'sbd.db'), keysDir: join(dir, 'keys') };
}

/** ITLRecovery is one per cluster (store node = null); the others are per node. */
export function identityScope(name: IdentityName, node: NodeRow): string | null {
  return name === 'ITLRecovery' ? null : node.name;
}

export interface IssueOptions {
  name: IdentityName;
  node: NodeRow;
  clock: Clock;
  keySpec?: KeySpec;
  validityYears?: number;
  org?: Partial<OrgInfo>;
}

export function issueIdentity(store: Store, layout: StateLayout, opts: IssueOptions): CertRow {
  const id = generateIdentity({
    name: opts.name,
    hostname: opts.node.hostname,
    ...(opts.node.ipv4 ? { ipv4: opts.node.ipv4 } : {}),
    ...(opts.keySpec ? { keySpec: opts.keySpec } : {}),
    ...(opts.validityYears ? { validityYears: opts.validityYears } : {}),
    ...(opts.org ? { org: opts.org } : {}),
    now: new Date(opts.clock.now()),
  });
  const scope = identityScope(opts.name, opts.node);
  const keyFile = join(layout.keysDir, `${opts.name}-${scope ?? 'cluster'}-${id.serial.toString('hex')}.key`);
  writeKeyFile(keyFile, id.privateKeyPem);
  try {
    return store.putCertificate({ name: opts.name, node: scope, pem: id.certPem, keyFile });
  } catch (err) {
    rmSync(keyFile, { force: true }); // the store refused: leave no orphan key behind
    throw err;
  }
}

export function privateKeyOf(row: CertRow): string {
  if (!row.keyFile) throw new PkiError(PkiErrorCode.keyFile, `certificate ${row.name} has no private key on this appliance`);
  return readKeyFile(row.keyFile);
}
