/**
 * Per-phone configuration files derived from the store, as the TFTP server serves them:
 * - `SEP<MAC>.cnf.xml`          the full config, unsigned (never for a phone whose config is encrypted);
 * - `SEP<MAC>.cnf.xml.sgn`      the full config signed by the TFTP node's CallManager key, or, when the phone's
 *                               security profile encrypts configs, the signed companion stub (spec §2.2);
 * - `SEP<MAC>.cnf.xml.enc.sgn`  the encrypted full config, when the profile says so and the phone has a key
 *                               (its LSC's public key, or a manually configured symmetric key);
 * - `XMLDefault.cnf.xml[.sgn]`  the autoregistration default (signed only for models with Security by Default).
 * Where the line's digest password may go: `passwordAllowedIn`.
 */
import { X509Certificate } from 'node:crypto';
import { unixSeconds, type Clock } from '../lib/clock.js';
import type { DeviceRow, NodeRow, Store } from '../store/index.js';
import { parseServerNames, SERVER_NAMES_PARAM } from '../store/server-names.js';
import { buildSgn } from '../trust/sgn.js';
import { buildEncryptedConfig, type ConfigKey } from '../trust/enc-sgn.js';
import { publisher, signerOf } from '../trust/cluster-lists.js';
import type { Signer } from '../trust/build.js';
import type { HashName } from '../trust/tags.js';
import {
  renderDefaultConfig,
  renderDeviceConfig,
  renderStubConfig,
  type ClusterEndpoints,
  type DeviceConfigInput,
} from './device-config.js';
import { ConfigError, ConfigErrorCode } from './errors.js';
import { phoneCmGroup } from './cm-groups.js';
import { phonePasswordLookup, stateKeysDir, type PhonePasswordLookup } from '../credentials/phone-digest.js';

export interface ConfigBuildOptions {
  /**
   * Where the delivered digest passwords come from. Default: decrypted from the store with the key in
   * `<state>/keys` next to the store's `sbd.db`; none for a store elsewhere (e.g. in memory).
   */
  phonePasswords?: PhonePasswordLookup;
}

/** Where a config goes: whether a digest password may be written into it (see `passwordAllowedIn`). */
export type PasswordExposure = 'encrypted' | 'signed' | 'unsigned';

/**
 * May a config of this exposure carry the line's digest password?
 * The line's digest password (`<authPassword>`) goes only where a LAN attacker who fetches the file by guessing
 * the MAC cannot read it: into the `.enc.sgn`, always; into a signed-only `.sgn` only when the administrator set
 * SipDigestPasswordInSignedConfig (a signature proves origin, it hides nothing); never into the unsigned file.
 */
export function passwordAllowedIn(store: Store, exposure: PasswordExposure): boolean {
  return exposure === 'encrypted' || (exposure === 'signed' && store.getBoolParam('SipDigestPasswordInSignedConfig'));
}

function authPassword(store: Store, d: DeviceRow, exposure: PasswordExposure, o: ConfigBuildOptions): string | undefined {
  if (!d.digestUser || !d.directoryNumber || !passwordAllowedIn(store, exposure)) return undefined;
  const keysDir = stateKeysDir(store);
  const lookup = o.phonePasswords ?? (keysDir ? phonePasswordLookup(store, keysDir) : undefined);
  return lookup?.(d.digestUser, store.getParam('SipStationRealm'));
}

export const defaultPorts = { sipPort: 5060, sipTlsPort: 5061, tvsPort: 2445, capfPort: 3804 } as const;

/**
 * Where phones are sent for each node: the server name the owner set (ServerNames), else its IP address — a phone
 * on a LAN without DNS cannot resolve a host name — and its host name only when the store knows no address.
 * `device`: the phone's call-manager group decides the call managers (in order) and the TVS servers (those of the
 * group's nodes; every TVS when none of them runs one); without it, the default group (config/cm-groups.ts).
 */
export function clusterEndpoints(store: Store, device?: string): ClusterEndpoints {
  const nodes = store.listNodes();
  const parsed = parseServerNames(store.getParam(SERVER_NAMES_PARAM));
  const named = parsed.ok ? parsed.names : new Map<string, string>();
  const ep = (n: NodeRow) => ({ hostname: n.hostname, address: named.get(n.name) ?? n.ipv4 ?? n.ipv6 ?? n.hostname });
  const runs = (n: NodeRow, s: string) => (n.services as string[]).includes(s);
  const group = phoneCmGroup(store, device).nodes;
  const groupTvs = group.filter((n) => runs(n, 'tvs'));
  return {
    callManagers: group.map(ep).filter((v, i, a) => a.findIndex((x) => x.address === v.address) === i),
    tvs: (groupTvs.length > 0 ? groupTvs : nodes.filter((n) => runs(n, 'tvs'))).map(ep),
    capf: nodes.filter((n) => runs(n, 'capf')).map(ep),
    ...defaultPorts,
  };
}

function tftpSigner(store: Store, node: NodeRow): Signer {
  const row = store.currentCertificate('CallManager', node.name);
  if (!row) throw new ConfigError(ConfigErrorCode.noSigner, `node ${node.name} has no CallManager certificate to sign configs with`);
  return signerOf(row);
}

function deviceInput(store: Store, d: DeviceRow, encrConfig: boolean, password?: string): DeviceConfigInput {
  const profile = store.getSecurityProfile(d.securityProfile);
  const transport = profile?.transport === 'tls' ? 'tls' : profile?.transport === 'udp' ? 'udp' : 'tcp';
  return {
    name: d.name,
    model: d.model,
    description: d.description,
    securityMode: profile?.deviceSecurityMode ?? 'non-secure',
    transport,
    capfAuthMode: d.capfOperation === 'none' ? 'none' : d.capfAuthMode === 'none' ? 'null-string' : d.capfAuthMode,
    digestUser: d.digestUser,
    directoryNumber: d.directoryNumber,
    ...(password === undefined ? {} : { authPassword: password }),
    encrConfig,
  };
}

/** The phone's key for encrypted configs, or undefined when it has none yet (no LSC, no symmetric key). */
export function configKeyOf(d: DeviceRow): ConfigKey | undefined {
  if (d.lscPem) return { kind: 'public-key', publicKey: new X509Certificate(d.lscPem).publicKey };
  if (d.symmetricKeyHex) return { kind: 'symmetric', key: Buffer.from(d.symmetricKeyHex, 'hex') };
  return undefined;
}

export function wantsEncryptedConfig(store: Store, d: DeviceRow): boolean {
  return store.getSecurityProfile(d.securityProfile)?.tftpEncryptedConfig === true;
}

/** One served config file of a known device, or undefined when that name does not exist for it. */
export function deviceConfigFile(
  store: Store,
  d: DeviceRow,
  suffix: '.cnf.xml' | '.cnf.xml.sgn' | '.cnf.xml.enc.sgn',
  clock: Clock,
  node: NodeRow = publisher(store),
  options: ConfigBuildOptions = {},
): Buffer | undefined {
  const c = clusterEndpoints(store, d.name);
  const encrypted = wantsEncryptedConfig(store, d);
  const key = encrypted ? configKeyOf(d) : undefined;
  const hash = store.getParam('SignatureHash') as HashName;
  const timestamp = unixSeconds(clock);
  const filename = d.name + suffix;
  switch (suffix) {
    case '.cnf.xml':
      return encrypted ? undefined : Buffer.from(renderDeviceConfig(deviceInput(store, d, false), c));
    case '.cnf.xml.sgn': {
      if (encrypted && !key) return undefined; // encrypted profile without a key yet: nothing safe to serve in clear
      const body =
        encrypted && key
          ? renderStubConfig(deviceInput(store, d, true), c, d.lscPem ? new X509Certificate(d.lscPem).raw : undefined)
          : renderDeviceConfig(deviceInput(store, d, false, authPassword(store, d, 'signed', options)), c);
      return buildSgn({ body: Buffer.from(body), filename, signer: tftpSigner(store, node), timestamp, hash });
    }
    case '.cnf.xml.enc.sgn':
      if (!key) return undefined;
      return buildEncryptedConfig({
        plaintext: Buffer.from(renderDeviceConfig(deviceInput(store, d, true, authPassword(store, d, 'encrypted', options)), c)),
        filename,
        signer: tftpSigner(store, node),
        timestamp,
        key,
        signatureHash: hash,
      });
  }
}

/** XMLDefault.cnf.xml (unsigned) or XMLDefault.cnf.xml.sgn (signed). */
export function defaultConfigFile(store: Store, signed: boolean, clock: Clock, node: NodeRow = publisher(store)): Buffer {
  const body = Buffer.from(renderDefaultConfig(clusterEndpoints(store)));
  if (!signed) return body;
  return buildSgn({
    body,
    filename: 'XMLDefault.cnf.xml.sgn',
    signer: tftpSigner(store, node),
    timestamp: unixSeconds(clock),
    hash: store.getParam('SignatureHash') as HashName,
  });
}

/** Does this model take signed files (Security by Default)? Unknown models are assumed to (current phones do). */
export function supportsSecurityByDefault(store: Store, model: string): boolean {
  return store.getModelFeatures(model)?.securityByDefault ?? true;
}

/** The default config file an unknown (autoregistering) phone of `model` boots from: signed for Security by Default. */
export function defaultConfigNameFor(store: Store, model: string): 'XMLDefault.cnf.xml.sgn' | 'XMLDefault.cnf.xml' {
  return supportsSecurityByDefault(store, model) ? 'XMLDefault.cnf.xml.sgn' : 'XMLDefault.cnf.xml';
}
