/**
 * `sbd init` and first boot: a new store with this node (publisher, every service), its identities (CallManager,
 * TVS, CAPF, tomcat; ITLRecovery for the cluster) and TFTP activation — the first ITL is built (and CTL in mixed
 * mode) and its hash recorded. Running it again on an initialised state changes nothing and says so.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import type { Clock } from '../lib/clock.js';
import { ClusterError, ClusterErrorCode } from './errors.js';
import { issueIdentity } from '../pki/identity-store.js';
import { identityNames, type IdentityName } from '../pki/profiles.js';
import { defaultKeySpec, generateKeyPairAsync, type KeySpec } from '../pki/keys.js';
import type { NodeRow } from '../store/index.js';
import { buildCtl, buildItl } from '../trust/cluster-lists.js';
import { openState, stateLayout, withState, type State } from '../store/state.js';

export interface InitOptions {
  dir: string;
  hostname: string;
  ipv4?: string | undefined;
  nodeName?: string | undefined;
  clock: Clock;
  keySpec?: KeySpec | undefined;
  /** Keys made beforehand for identities this run issues (`pregenerateKeys`); the others get new keys. */
  privateKeys?: Partial<Record<IdentityName, string>> | undefined;
}

/**
 * One new key per identity named (default: all), made in parallel on libuv's thread pool (first boot: five RSA
 * keys, most of its time under emulation, spread over the CPUs instead of one after another). Only in memory:
 * `issueIdentity` writes each to its key file as before.
 */
export async function pregenerateKeys(
  spec: KeySpec = defaultKeySpec,
  names: readonly IdentityName[] = identityNames,
): Promise<Partial<Record<IdentityName, string>>> {
  const pairs = await Promise.all(names.map(() => generateKeyPairAsync(spec)));
  return Object.fromEntries(names.map((n, i) => [n, pairs[i]!.privateKeyPem]));
}

/**
 * The identities `initAppliance` would issue on this state: every one on a new store, the missing ones on a store a
 * power cut left half made (first boot again), none on a complete one. When the store cannot be read here, all of
 * them (a key made for nothing is dropped; `initAppliance` then reports what is wrong with the store).
 */
export function missingIdentities(dir: string): IdentityName[] {
  if (!existsSync(stateLayout(dir).dbPath)) return [...identityNames];
  try {
    return withState(
      dir,
      ({ store }) => {
        const node = store.listNodes()[0];
        if (!node) return [...identityNames];
        return identityNames.filter((name) => !store.currentCertificate(name, name === 'ITLRecovery' ? null : node.name));
      },
      { readonly: true },
    );
  } catch {
    return [...identityNames];
  }
}

export interface InitResult {
  created: boolean;
  node: NodeRow;
  issued: string[];
  itlSha256: string;
  itlBytes: number;
}

export function initAppliance(opts: InitOptions): InitResult {
  mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
  const state = openState(opts.dir, { create: true });
  try {
    const { store } = state;
    let node = store.listNodes()[0];
    const created = !node;
    if (!node) {
      node = store.addNode({
        name: opts.nodeName ?? opts.hostname.split('.')[0]!,
        hostname: opts.hostname,
        ipv4: opts.ipv4 ?? null,
        isPublisher: true,
        services: ['tftp', 'tvs', 'capf', 'sip', 'media', 'callmanager'],
      });
    }
    const issued = ensureIdentities(state, node, opts.clock, opts.keySpec, opts.privateKeys);
    const activation = activateTftp(state, opts.clock);
    return { created, node, issued, ...activation };
  } finally {
    state.store.close();
  }
}

export function ensureIdentities(
  state: State,
  node: NodeRow,
  clock: Clock,
  keySpec?: KeySpec,
  privateKeys: Partial<Record<IdentityName, string>> = {},
): string[] {
  const issued: string[] = [];
  for (const name of identityNames as readonly IdentityName[]) {
    const scope = name === 'ITLRecovery' ? null : node.name;
    if (state.store.currentCertificate(name, scope)) continue;
    const validityYears = name === 'ITLRecovery' ? state.store.getIntParam('ITLRecoveryValidityYears') : undefined;
    issueIdentity(state.store, state.layout, {
      name,
      node,
      clock,
      ...(keySpec ? { keySpec } : {}),
      ...(privateKeys[name] !== undefined ? { privateKeyPem: privateKeys[name] } : {}),
      ...(validityYears ? { validityYears } : {}),
    });
    issued.push(name);
  }
  return issued;
}

/** TFTP activation: build the ITL (and CTL when mixed) now, so a broken store is found here, and record the hash. */
export function activateTftp(state: State, clock: Clock): { itlSha256: string; itlBytes: number } {
  const itl = buildItl(state.store, clock);
  buildCtl(state.store, clock);
  const sha = createHash('sha256').update(itl).digest('hex');
  const node = state.store.listNodes().find((n) => (n.services as string[]).includes('tftp'));
  if (!node) throw new ClusterError(ClusterErrorCode.noTftpNode, 'no node runs the TFTP service');
  state.store.recordServerItlHash(node.name, 'ITLFile.tlv', sha, new Date(clock.now()).toISOString());
  return { itlSha256: sha, itlBytes: itl.length };
}
