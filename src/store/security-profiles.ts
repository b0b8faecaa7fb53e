import { nowIso, type StoreContext } from './context.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { bool, oneOf, text } from './fields.js';
import { CAPF_AUTH_MODES, type CapfAuthMode } from './devices.js';

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

/**
 * Nonce validity time (CUCM's Phone Security Profile field): seconds a SIP digest nonce challenged to the profile's
 * phones is accepted; older answers get a new challenge with stale=true (RFC 7616 §3.3). CUCM's default is 600; sbd
 * keeps 300, its digest server's default before profiles carried one. CAPF authentication mode: what a CAPF
 * operation scheduled for the profile's phones uses when the administrator names none.
 */
export const PROFILE_LIMITS = {
  minNonceValiditySeconds: 15,
  maxNonceValiditySeconds: 3600,
} as const;
export const PROFILE_DEFAULTS = { nonceValiditySeconds: 300, capfAuthMode: 'password' } as const satisfies {
  nonceValiditySeconds: number;
  capfAuthMode: CapfAuthMode;
};

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
  /** Seconds a digest nonce is accepted (PROFILE_LIMITS). */
  nonceValiditySeconds: number;
  /** CAPF authentication mode for operations scheduled without one. */
  capfAuthMode: CapfAuthMode;
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
  /** Default: unchanged for an existing profile, else PROFILE_DEFAULTS.nonceValiditySeconds. */
  nonceValiditySeconds?: number;
  /** Default: unchanged for an existing profile, else PROFILE_DEFAULTS.capfAuthMode. */
  capfAuthMode?: CapfAuthMode;
}

interface Raw {
  name: string;
  description: string;
  device_security_mode: DeviceSecurityMode;
  tftp_encrypted_config: number;
  transport: ProfileTransport;
  digest_auth: number;
  digest_algorithms: string;
  nonce_validity_seconds: number;
  capf_auth_mode: CapfAuthMode;
  updated_at: string;
}

const E = StoreErrorCode.profileInvalid;
const SELECT =
  'SELECT name, description, device_security_mode, tftp_encrypted_config, transport, digest_auth, digest_algorithms, nonce_validity_seconds, capf_auth_mode, updated_at FROM security_profiles';

function row(r: Raw): SecurityProfileRow {
  return {
    name: r.name,
    description: r.description,
    deviceSecurityMode: r.device_security_mode,
    tftpEncryptedConfig: r.tftp_encrypted_config === 1,
    transport: r.transport,
    digestAuth: r.digest_auth === 1,
    digestAlgorithms: r.digest_algorithms.split(',') as ProfileDigestAlgorithm[],
    nonceValiditySeconds: r.nonce_validity_seconds,
    capfAuthMode: r.capf_auth_mode,
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
  const nonce = p.nonceValiditySeconds === undefined ? undefined : nonceValidity(p.nonceValiditySeconds);
  const capfAuth = p.capfAuthMode === undefined ? undefined : oneOf(E, 'capfAuthMode', p.capfAuthMode, CAPF_AUTH_MODES);
  // Authenticated and encrypted signalling is SIP over TLS (RFC 3261 §26.2); anything else would be a lie.
  if (mode !== 'non-secure' && transport !== 'tls') {
    throw new StoreError(E, `a ${mode} profile needs transport 'tls', not '${transport}'`);
  }
  return ctx.write(() => {
    const old = getSecurityProfile(ctx, name);
    const kept = algorithms ?? old?.digestAlgorithms.join(',') ?? DEFAULT_PROFILE_DIGEST_ALGORITHMS.join(',');
    ctx
      .stmt(
        `INSERT INTO security_profiles (name, description, device_security_mode, tftp_encrypted_config, transport, digest_auth, digest_algorithms,
           nonce_validity_seconds, capf_auth_mode, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET description = excluded.description, device_security_mode = excluded.device_security_mode,
           tftp_encrypted_config = excluded.tftp_encrypted_config, transport = excluded.transport,
           digest_auth = excluded.digest_auth, digest_algorithms = excluded.digest_algorithms,
           nonce_validity_seconds = excluded.nonce_validity_seconds, capf_auth_mode = excluded.capf_auth_mode, updated_at = excluded.updated_at`,
      )
      .run(
        name,
        description,
        mode,
        enc ? 1 : 0,
        transport,
        digest ? 1 : 0,
        kept,
        nonce ?? old?.nonceValiditySeconds ?? PROFILE_DEFAULTS.nonceValiditySeconds,
        capfAuth ?? old?.capfAuthMode ?? PROFILE_DEFAULTS.capfAuthMode,
        nowIso(ctx.clock),
      );
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

/** Whole seconds within PROFILE_LIMITS: the column's CHECK, with a message. */
function nonceValidity(value: unknown): number {
  const { minNonceValiditySeconds: min, maxNonceValiditySeconds: max } = PROFILE_LIMITS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new StoreError(E, `nonceValiditySeconds must be a whole number of seconds from ${min} to ${max}`);
  return value;
}
