/**
 * The appliance's identities in their state folder: the certificate in the store, the private key in a file under
 * `<state>/keys/` (never under anything TFTP serves). Issuing a new identity keeps the old certificate as history
 * (the store does that in one transaction) so TVS can still vouch for it.
 *
 * Least privilege (issue 16, row 14): each key file belongs to its role's group `sbd-key-<role>` with mode 0640,
 * and each daemon is a member of the groups of the keys it uses and of no other (rootfs/usr/lib/sysusers.d), so
 * the TFTP process cannot read the CAPF or TVS key. Where that group does not exist (a host, tests) the file stays
 * 0600 for its owner alone.
 */
import { chmodSync, chownSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Clock } from '../lib/clock.js';
import type { CertRow, NodeRow, Store } from '../store/index.js';
import { readKeyFile, writeKeyFile, type KeySpec } from './keys.js';
import { PkiError, PkiErrorCode } from './errors.js';
import { generateIdentity, type IdentityName, type OrgInfo } from './profiles.js';
import type { StateLayout } from '../store/state.js';

/** Who may read a key file, by its name: the group `sbd-key-<role>`; undefined = the state's owner alone. */
const rolesByPrefix = {
  // TFTP signs configs (.sgn) with it; SIP-TLS serves with it.
  CallManager: 'callmanager',
  // TFTP signs the ITL with it (trust/cluster-lists.ts itlSigner).
  ITLRecovery: 'itlrecovery',
  TVS: 'tvs',
  CAPF: 'capf',
} as const;
/** The SIP daemon's secrets, and the phones' digest passwords' key (TFTP writes them into configs). */
const rolesByName = {
  'sip-trunk.key': 'sip',
  'sip-digest.secret': 'sip',
  'sip-route.key': 'sip',
  'sip-phone.key': 'phone',
} as const;
export type KeyRole = (typeof rolesByPrefix)[keyof typeof rolesByPrefix] | (typeof rolesByName)[keyof typeof rolesByName];

export function keyRoleOf(file: string): KeyRole | undefined {
  const name = basename(file);
  if (Object.hasOwn(rolesByName, name)) return rolesByName[name as keyof typeof rolesByName];
  const prefix = name.slice(0, Math.max(0, name.indexOf('-')));
  return Object.hasOwn(rolesByPrefix, prefix) ? rolesByPrefix[prefix as keyof typeof rolesByPrefix] : undefined;
}

export interface KeyAccessOptions {
  /** group(5) file the role groups are looked up in. Default /etc/group. */
  groupFile?: string;
}

function groupId(name: string, groupFile: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 3 && /^\d+$/.test(f[2]!)) return Number(f[2]);
  }
  return undefined;
}

/**
 * Gives a key file to its role's group, mode 0640, when that group exists; otherwise leaves it 0600. Returns the
 * group id applied. The caller must own the file and be a member of the group (the `sbd` user is, sysusers.d).
 */
export function applyKeyAccess(file: string, options: KeyAccessOptions = {}): number | undefined {
  const role = keyRoleOf(file);
  const gid = role === undefined ? undefined : groupId(`sbd-key-${role}`, options.groupFile ?? '/etc/group');
  try {
    if (gid !== undefined) chownSync(file, -1, gid);
    chmodSync(file, gid === undefined ? 0o600 : 0o640);
  } catch (err) {
    throw new PkiError(
      PkiErrorCode.keyFile,
      `cannot give key file ${file} to ${role ? `group sbd-key-${role}` : 'its owner alone'}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return gid;
}

/** ITLRecovery is one per cluster (store node = null); the others are per node. */
export function identityScope(name: IdentityName, node: NodeRow): string | null {
  return name === 'ITLRecovery' ? null : node.name;
}

export interface IssueOptions extends KeyAccessOptions {
  name: IdentityName;
  node: NodeRow;
  clock: Clock;
  keySpec?: KeySpec;
  /** A key made beforehand (`sbd init` makes its five in parallel); default: a new one of `keySpec`. */
  privateKeyPem?: string;
  validityYears?: number;
  org?: Partial<OrgInfo>;
}

export function issueIdentity(store: Store, layout: StateLayout, opts: IssueOptions): CertRow {
  const id = generateIdentity({
    name: opts.name,
    hostname: opts.node.hostname,
    ...(opts.node.ipv4 ? { ipv4: opts.node.ipv4 } : {}),
    ...(opts.keySpec ? { keySpec: opts.keySpec } : {}),
    ...(opts.privateKeyPem !== undefined ? { privateKeyPem: opts.privateKeyPem } : {}),
    ...(opts.validityYears ? { validityYears: opts.validityYears } : {}),
    ...(opts.org ? { org: opts.org } : {}),
    now: new Date(opts.clock.now()),
  });
  const scope = identityScope(opts.name, opts.node);
  const keyFile = join(layout.keysDir, `${opts.name}-${scope ?? 'cluster'}-${id.serial.toString('hex')}.key`);
  writeKeyFile(keyFile, id.privateKeyPem);
  try {
    applyKeyAccess(keyFile, opts);
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
