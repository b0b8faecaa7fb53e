/**
 * Phone security profiles, created and edited field by field (CUCM's Phone Security Profile page): transport and
 * mode, digest and its challenge algorithms, encrypted config, nonce validity time, CAPF authentication mode.
 * Unnamed fields keep their value; a new profile starts from the default profile's. `sbd security-profile set`
 * and the console's `set security-profile` both call `setSecurityProfile`.
 */
import type { CapfAuthMode, SecurityProfileRow, Store } from '../store/index.js';
import { CAPF_AUTH_MODES, DEFAULT_SECURITY_PROFILE, DEVICE_SECURITY_MODES, PROFILE_LIMITS, PROFILE_TRANSPORTS } from '../store/index.js';
import type { DeviceSecurityMode, ProfileTransport } from '../store/index.js';
import { PROFILE_DIGEST_ALGORITHMS, type ProfileDigestAlgorithm } from '../store/security-profiles.js';

export { CAPF_AUTH_MODES, DEVICE_SECURITY_MODES, PROFILE_TRANSPORTS };
import { UsageError } from '../lib/errors.js';

export interface ProfileChanges {
  description?: string;
  deviceSecurityMode?: DeviceSecurityMode;
  transport?: ProfileTransport;
  tftpEncryptedConfig?: boolean;
  digestAuth?: boolean;
  digestAlgorithms?: ProfileDigestAlgorithm[];
  nonceValiditySeconds?: number;
  capfAuthMode?: CapfAuthMode;
}

export function setSecurityProfile(store: Store, name: string, c: ProfileChanges): SecurityProfileRow {
  return store.transaction(() => {
    const base = store.getSecurityProfile(name) ?? store.getSecurityProfile(DEFAULT_SECURITY_PROFILE)!;
    return store.putSecurityProfile({
      name,
      description: c.description ?? (base.name === name ? base.description : ''),
      deviceSecurityMode: c.deviceSecurityMode ?? base.deviceSecurityMode,
      transport: c.transport ?? base.transport,
      tftpEncryptedConfig: c.tftpEncryptedConfig ?? base.tftpEncryptedConfig,
      digestAuth: c.digestAuth ?? base.digestAuth,
      digestAlgorithms: c.digestAlgorithms ?? base.digestAlgorithms,
      nonceValiditySeconds: c.nonceValiditySeconds ?? base.nonceValiditySeconds,
      capfAuthMode: c.capfAuthMode ?? base.capfAuthMode,
    });
  });
}

/** One tab-separated line per profile (`list`; the columns scripts read since schema 6, unchanged). */
export function profileLine(p: SecurityProfileRow): string {
  return [
    p.name,
    p.deviceSecurityMode,
    p.transport,
    `config ${p.tftpEncryptedConfig ? 'encrypted' : 'signed'}`,
    `digest ${p.digestAuth ? p.digestAlgorithms.join(',') : 'off'}`,
  ].join('\t');
}

/** Every field of one profile (`show`), with how many phones use it. */
export function profileText(p: SecurityProfileRow, devices: number): string[] {
  return [
    `Name               : ${p.name}`,
    `Description        : ${p.description || '-'}`,
    `Device security    : ${p.deviceSecurityMode}`,
    `Transport          : ${p.transport}`,
    `TFTP encrypted cfg : ${p.tftpEncryptedConfig ? 'on' : 'off'}`,
    `Digest             : ${p.digestAuth ? `on (${p.digestAlgorithms.join(', ')})` : 'off'}`,
    `Nonce validity     : ${p.nonceValiditySeconds} s`,
    `CAPF authentication: ${p.capfAuthMode}`,
    `Devices            : ${devices}`,
  ];
}

export function profileDeviceCount(store: Store, name: string): number {
  return store.listDevices().filter((d) => d.securityProfile === name).length;
}

/** Field parsers both front ends use (each throws UsageError naming the field). */
export function parseOnOff(v: string, field: string): boolean {
  if (v === 'on') return true;
  if (v === 'off') return false;
  throw new UsageError(`${field} must be on or off`);
}

export function parseOneOf<T extends string>(v: string, field: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`${field} must be one of ${allowed.join(', ')}`);
  return v as T;
}

export function parseAlgorithms(v: string, field: string): ProfileDigestAlgorithm[] {
  const list = v.split(',').map((s) => s.trim().toUpperCase());
  for (const a of list)
    if (!(PROFILE_DIGEST_ALGORITHMS as readonly string[]).includes(a))
      throw new UsageError(`${field}: '${a}' is not one of ${PROFILE_DIGEST_ALGORITHMS.join(', ')}`);
  if (new Set(list).size !== list.length) throw new UsageError(`${field}: an algorithm is named twice`);
  return list as ProfileDigestAlgorithm[];
}

export function parseNonceValidity(v: string, field: string): number {
  const { minNonceValiditySeconds: min, maxNonceValiditySeconds: max } = PROFILE_LIMITS;
  const n = /^\d{1,5}$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${field} must be whole seconds from ${min} to ${max}`);
  return n;
}

/**
 * `KEY VALUE` pairs as the console takes them (`transport tls nonce-validity 120 …`), into changes. Keys: mode,
 * transport, encrypted-config, digest, digest-algorithms, nonce-validity, capf-auth, description.
 */
export function parseProfilePairs(words: readonly string[]): ProfileChanges {
  if (words.length % 2 !== 0) throw new UsageError('fields come in pairs: KEY VALUE');
  const c: ProfileChanges = {};
  for (let i = 0; i < words.length; i += 2) {
    const k = words[i]!.toLowerCase();
    const v = words[i + 1]!;
    if (k === 'mode') c.deviceSecurityMode = parseOneOf(v, k, DEVICE_SECURITY_MODES);
    else if (k === 'transport') c.transport = parseOneOf(v, k, PROFILE_TRANSPORTS);
    else if (k === 'encrypted-config') c.tftpEncryptedConfig = parseOnOff(v, k);
    else if (k === 'digest') c.digestAuth = parseOnOff(v, k);
    else if (k === 'digest-algorithms') c.digestAlgorithms = parseAlgorithms(v, k);
    else if (k === 'nonce-validity') c.nonceValiditySeconds = parseNonceValidity(v, k);
    else if (k === 'capf-auth') c.capfAuthMode = parseOneOf(v, k, CAPF_AUTH_MODES);
    else if (k === 'description') c.description = v;
    else
      throw new UsageError(
        `unknown field "${words[i]}": mode, transport, encrypted-config, digest, digest-algorithms, nonce-validity, capf-auth, description`,
      );
  }
  return c;
}
