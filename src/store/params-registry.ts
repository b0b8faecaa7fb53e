import { createSecureContext } from 'node:tls';
import { checkServerNames, SERVER_NAMES_PARAM } from './server-names.js';
import { TLS_MIN_VERSIONS, tlsProtocolDefaults } from '../lib/tls-service.js';

/**
 * The enterprise parameters sbd knows: name → type, default, allowed values, description. Values are stored as
 * text in their normalised form (booleans 'true'/'false', integers in decimal). An unknown name is an error,
 * never a silently stored string, so a typo in the admin shell cannot create a parameter nobody reads.
 */

export type ParamType = 'bool' | 'int' | 'enum' | 'string';

export interface ParamDef {
  readonly name: string;
  readonly type: ParamType;
  readonly default: string;
  readonly description: string;
  /** For 'enum' and for 'int' parameters restricted to a set (key sizes, validity years). */
  readonly allowed?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Extra check for 'string' parameters; returns the normalised value or a reason. */
  readonly check?: (value: string) => { ok: true; value: string } | { ok: false; reason: string };
}

/** SRTP crypto suites sbd's media engine implements (RFC 4568 §6.2, RFC 7714 §14.2, RFC 3711 F8). */
export const SRTP_SUITES = [
  'AEAD_AES_256_GCM',
  'AEAD_AES_128_GCM',
  'AES_CM_128_HMAC_SHA1_80',
  'AES_CM_128_HMAC_SHA1_32',
  'F8_128_HMAC_SHA1_80',
] as const;

/** Bounds on parameter values. */
export const PARAM_LIMITS = { maxValueChars: 1024 } as const;

function checkTlsCiphers(value: string): { ok: true; value: string } | { ok: false; reason: string } {
  const list = value.trim();
  if (!/^[A-Za-z0-9!+@=._-]+(:[A-Za-z0-9!+@=._-]+)*$/.test(list)) {
    return { ok: false, reason: 'an OpenSSL cipher list: names separated by ":"' };
  }
  try {
    // Let OpenSSL itself decide: it refuses a list that selects no cipher at all.
    createSecureContext({ ciphers: list, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  } catch (err) {
    return { ok: false, reason: `a cipher list OpenSSL accepts (${(err as Error).message})` };
  }
  return { ok: true, value: list };
}

function checkSrtpSuites(value: string): { ok: true; value: string } | { ok: false; reason: string } {
  const list = value.split(',').map((s) => s.trim());
  if (list.length === 0 || list.some((s) => !(SRTP_SUITES as readonly string[]).includes(s))) {
    return { ok: false, reason: `a comma-separated priority list of ${SRTP_SUITES.join(', ')}` };
  }
  if (new Set(list).size !== list.length) return { ok: false, reason: 'a list without repeated suites' };
  return { ok: true, value: list.join(',') };
}

function checkDnRange(value: string): { ok: true; value: string } | { ok: false; reason: string } {
  const m = /^(\d{1,24})-(\d{1,24})$/.exec(value.trim());
  if (!m || m[1]!.length !== m[2]!.length || BigInt(m[1]!) > BigInt(m[2]!)) {
    return { ok: false, reason: "a range 'first-last' of directory numbers with the same number of digits, first <= last" };
  }
  return { ok: true, value: `${m[1]}-${m[2]}` };
}

function checkToken(value: string): { ok: true; value: string } | { ok: false; reason: string } {
  // A SIP realm is a quoted-string (RFC 3261 §25.1); keep to characters that need no quoting anywhere.
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(value)) return { ok: false, reason: 'letters, digits, ".", "_" or "-" (1 to 128)' };
  return { ok: true, value };
}

export const PARAMS: readonly ParamDef[] = [
  {
    name: 'ClusterSecurityMode',
    type: 'enum',
    default: 'non-secure',
    allowed: ['non-secure', 'mixed'],
    description: 'non-secure: ITL only; mixed: a CTL is built and phones may use authenticated/encrypted profiles',
  },
  {
    name: 'PrepareClusterForRollback',
    type: 'bool',
    default: 'false',
    description: 'true: TFTP serves an ITL with empty TVS and TFTP sections so phones accept any new ITL and config',
  },
  {
    name: 'TLSCiphers',
    type: 'string',
    default: tlsProtocolDefaults.ciphers,
    check: checkTlsCiphers,
    description: 'TLS 1.2 cipher list (OpenSSL syntax) for SIP, TVS and CAPF, in priority order',
  },
  // Issue 18 item 9: 7900-series phones (spec cisco-trust-formats §2.1, §3.1) and old gateways speak only TLS 1.0
  // with AES128-SHA. Lowering is the owner's choice: the console warns and asks first (admin/commands/params.ts).
  {
    name: 'TLSMinVersion',
    type: 'enum',
    default: tlsProtocolDefaults.minVersion,
    allowed: TLS_MIN_VERSIONS,
    description:
      'lowest TLS version SIP, TVS and CAPF accept; below 1.2 AES128-SHA is added (last) at OpenSSL security level 0, for 7900-series phones and old gateways',
  },
  {
    name: 'SRTPCiphers',
    type: 'string',
    default: 'AEAD_AES_256_GCM,AEAD_AES_128_GCM,AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32',
    check: checkSrtpSuites,
    description: 'SRTP crypto suites offered and accepted, in priority order',
  },
  {
    name: 'BlockUnencryptedCalls',
    type: 'bool',
    default: 'false',
    description: 'true: a call without a common SRTP suite is refused instead of falling back to RTP',
  },
  {
    name: 'ITLRecoveryValidityYears',
    type: 'int',
    default: '20',
    allowed: ['5', '10', '15', '20'],
    description: 'validity of a newly generated ITLRecovery certificate, in years',
  },
  {
    name: 'KeySize',
    type: 'int',
    default: '2048',
    allowed: ['2048', '3072', '4096'],
    description: 'RSA modulus size for newly generated appliance keys',
  },
  { name: 'SipStationRealm', type: 'string', default: 'ccmsipline', check: checkToken, description: 'digest realm phones authenticate in' },
  // A signed config is readable by anyone who can fetch it over TFTP (guess the MAC): a password in it is a password
  // handed to the LAN. Off: phones without an encrypted config get their password by hand (src/config).
  {
    name: 'SipDigestPasswordInSignedConfig',
    type: 'bool',
    default: 'false',
    description:
      "true: a phone's digest password also goes into its signed-only (not encrypted) SEP<MAC>.cnf.xml.sgn, where anyone who can fetch it over TFTP can read it",
  },
  {
    name: 'AutoRegistration',
    type: 'bool',
    default: 'false',
    description: 'true: unknown phones get XMLDefault.cnf.xml and a directory number from the range',
  },
  {
    name: 'AutoRegistrationDnRange',
    type: 'string',
    default: '1000-1999',
    check: checkDnRange,
    description: 'directory numbers handed to autoregistered phones',
  },
  {
    name: 'ItlResetSigner',
    type: 'enum',
    default: 'ITLRecovery',
    allowed: ['ITLRecovery', 'CallManager', 'RemoteKey'],
    description:
      "which key signs the ITL; 'CallManager' during `utils itl reset localkey`, 'RemoteKey' (an imported ITLRecovery.p12) during `remotekey`",
  },
  {
    name: 'CtlResetSigner',
    type: 'enum',
    default: 'CallManager',
    allowed: ['CallManager', 'ITLRecovery'],
    description: "which key signs the CTL; 'ITLRecovery' during `utils ctl reset localkey`",
  },
  {
    name: 'CredentialLockoutThreshold',
    type: 'int',
    default: '5',
    min: 0,
    max: 100,
    description: 'failed logins before an account is locked; 0 never locks',
  },
  {
    name: 'CredentialLockoutMinutes',
    type: 'int',
    default: '30',
    min: 1,
    max: 1440,
    description: 'how long a locked account stays locked',
  },
  // Issue 18 item 8: a phone on a LAN without DNS cannot resolve a host name, so configs give addresses by default.
  {
    name: SERVER_NAMES_PARAM,
    type: 'string',
    default: '',
    check: checkServerNames,
    description:
      "per node, the name configs give phones for it (call control, TVS, CAPF): 'NODE=HOST,...' with an IP address or a DNS name; a node not listed is named by its IP address",
  },
  {
    name: 'SignatureHash',
    type: 'enum',
    default: 'sha1',
    allowed: ['sha1', 'sha256', 'sha512'],
    description: 'digest used to sign ITL, CTL and .sgn files (SHA-1 for older phones)',
  },
];

export const PARAMS_BY_NAME: ReadonlyMap<string, ParamDef> = new Map(PARAMS.map((p) => [p.name, p]));

/** Normalises `value` for `def` or returns why it is not acceptable. */
export function normaliseParam(def: ParamDef, value: string): { ok: true; value: string } | { ok: false; reason: string } {
  const v = value.trim();
  switch (def.type) {
    case 'bool': {
      const l = v.toLowerCase();
      if (l === 'true' || l === '1' || l === 'yes') return { ok: true, value: 'true' };
      if (l === 'false' || l === '0' || l === 'no') return { ok: true, value: 'false' };
      return { ok: false, reason: 'true or false' };
    }
    case 'int': {
      if (!/^-?\d{1,15}$/.test(v)) return { ok: false, reason: def.allowed ? `one of ${def.allowed.join(', ')}` : 'an integer' };
      const n = String(Number(v));
      if (def.allowed && !def.allowed.includes(n)) return { ok: false, reason: `one of ${def.allowed.join(', ')}` };
      if ((def.min !== undefined && Number(n) < def.min) || (def.max !== undefined && Number(n) > def.max)) {
        return { ok: false, reason: `an integer from ${def.min} to ${def.max}` };
      }
      return { ok: true, value: n };
    }
    case 'enum':
      return def.allowed!.includes(v) ? { ok: true, value: v } : { ok: false, reason: `one of ${def.allowed!.join(', ')}` };
    case 'string':
      return def.check ? def.check(v) : { ok: true, value: v };
  }
}
