import { nowIso, type StoreContext } from './context.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { bool, oneOf, text } from './fields.js';

/** Phone security profiles: how a device signals (transport, mode) and whether its config is encrypted. */

export const DEVICE_SECURITY_MODES = ['non-secure', 'authenticated', 'encrypted'] as const;
export const PROFILE_TRANSPORTS = ['udp', 'tcp', 'tls', 'tcp+udp'] as const;
export type DeviceSecurityMode = (typeof DEVICE_SECURITY_MODES)[number];
export type ProfileTransport = (typeof PROFILE_TRANSPORTS)[number];

/**
 * SIP digest algorithms a profile's phones are challenged with, most preferred first (one challenge each,
 * RFC 8760 §2.4). Default MD5 alone: sipp 3.6 refuses anything else, and baresip and Cisco phones answer the
 * first challenge they see and most understand only MD5. SHA-256 where the profile's phones can.
 */
export const PROFILE_DIGEST_ALGORITHMS = ['MD5', 'SHA-256'] as const;
export type ProfileDigestAlgorithm = (typeof PROFILE_DIGEST_ALGORITHMS)[number];
export const DEFAULT_PROFILE_DIGEST_ALGORITHMS: readonly ProfileDigestAlgorithm[] = ['MD5'];

export const DEFAULT_SECURITY_PROFILE = 'Universal Device Template - Model-independent Security Profile';

export interface SecurityProfileRow {
  name: string;
  description: string;
  deviceSecurityMode: DeviceSecurityMode;
  tftpEncryptedConfig: boolean;
  transport: ProfileTransport;
  digestAuth: boolean;
  /** Challenge order, e.g. ['MD5'] or ['SHA-256', 'MD5']. */
  digestAlgorithms: ProfileDigestAlgorithm[];
  updatedAt: string;
}

export interface SecurityProfileInput {
  name: string;
  description?: string;
  deviceSecurityMode: DeviceSecurityMode;
  tftpEncryptedConfig: boolean;
  transport: ProfileTransport;
  digestAuth: boolean;
  /** Default: unchanged for an existing profile, else DEFAULT_PROFILE_DIGEST_ALGORITHMS. */
  digestAlgorithms?: readonly ProfileDigestAlgorithm[];
}

interface Raw {
  name: string;
  description: string;
  device_security_mode: DeviceSecurityMode;
  tftp_encrypted_config: number;
  transport: ProfileTransport;
  digest_auth: number;
  digest_algorithms: string;
  updated_at: string;
}

const E = StoreErrorCode.profileInvalid;
const SELECT =
  'SELECT name, description, device_security_mode, tftp_encrypted_config, transport, digest_auth, digest_algorithms, updated_at FROM security_profiles';

function row(r: Raw): SecurityProfileRow {
  return {
    name: r.name,
    description: r.description,
    deviceSecurityMode: r.device_security_mode,
    tftpEncryptedConfig: r.tftp_encrypted_config === 1,
    transport: r.transport,
    digestAuth: r.digest_auth === 1,
    digestAlgorithms: r.digest_algorithms.split(',') as ProfileDigestAlgorithm[],
    updatedAt: r.updated_at,
  };
}

export function getSecurityProfile(ctx: StoreContext, name: string): SecurityProfileRow | undefined {
  const r = ctx.stmt(`${SELECT} WHERE name = ?`).get(name) as Raw | undefined;
  return r && row(r);
}

export function listSecurityProfiles(ctx: StoreContext): SecurityProfileRow[] {
  return (ctx.stmt(`${SELECT} ORDER BY name`).all() as Raw[]).map(row);
}

/** Creates or replaces a profile by name. */
export function putSecurityProfile(ctx: StoreContext, p: SecurityProfileInput): SecurityProfileRow {
  const name = text(E, 'profile name', p.name, 128);
  const description = text(E, 'description', p.description ?? '', 256, { empty: true });
  const mode = oneOf(E, 'deviceSecurityMode', p.deviceSecurityMode, DEVICE_SECURITY_MODES);
  const transport = oneOf(E, 'transport', p.transport, PROFILE_TRANSPORTS);
  const enc = bool(E, 'tftpEncryptedConfig', p.tftpEncryptedConfig);
  const digest = bool(E, 'digestAuth', p.digestAuth);
  const algorithms = p.digestAlgorithms === undefined ? undefined : digestAlgorithmList(p.digestAlgorithms);
  // Authenticated and encrypted signalling is SIP over TLS (RFC 3261 §26.2); anything else would be a lie.
  if (mode !== 'non-secure' && transport !== 'tls') {
    throw new StoreError(E, `a ${mode} profile needs transport 'tls', not '${transport}'`);
  }
  return ctx.write(() => {
    const kept = algorithms ?? getSecurityProfile(ctx, name)?.digestAlgorithms.join(',') ?? DEFAULT_PROFILE_DIGEST_ALGORITHMS.join(',');
    ctx
      .stmt(
        `INSERT INTO security_profiles (name, description, device_security_mode, tftp_encrypted_config, transport, digest_auth, digest_algorithms, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET description = excluded.description, device_security_mode = excluded.device_security_mode,
           tftp_encrypted_config = excluded.tftp_encrypted_config, transport = excluded.transport,
           digest_auth = excluded.digest_auth, digest_algorithms = excluded.digest_algorithms, updated_at = excluded.updated_at`,
      )
      .run(name, description, mode, enc ? 1 : 0, transport, digest ? 1 : 0, kept, nowIso(ctx.clock));
    return getSecurityProfile(ctx, name)!;
  });
}

/** Removes a profile no device uses. */
export function removeSecurityProfile(ctx: StoreContext, name: string): void {
  ctx.write(() => {
    if (!getSecurityProfile(ctx, name)) throw new StoreError(StoreErrorCode.profileUnknown, `no security profile named '${name}'`);
    const n = (ctx.stmt('SELECT count(*) AS n FROM devices WHERE security_profile = ?').get(name) as { n: number }).n;
    if (n > 0) throw new StoreError(StoreErrorCode.profileInUse, `security profile '${name}' is used by ${n} devices`);
    ctx.stmt('DELETE FROM security_profiles WHERE name = ?').run(name);
  });
}

/** 'MD5', 'SHA-256' or both in either order, without repeats: the column's CHECK, with a message. */
function digestAlgorithmList(list: readonly unknown[]): string {
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.length > PROFILE_DIGEST_ALGORITHMS.length ||
    new Set(list).size !== list.length ||
    !list.every((a) => (PROFILE_DIGEST_ALGORITHMS as readonly unknown[]).includes(a))
  ) {
    throw new StoreError(E, `digestAlgorithms must be one or both of ${PROFILE_DIGEST_ALGORITHMS.join(', ')} without repeats`);
  }
  return list.join(',');
}
