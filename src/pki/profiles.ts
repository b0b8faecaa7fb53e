/**
 * The appliance's own identities, as data: subject rule, extensions and validity of each, and
 * `generateIdentity`, which makes a fresh key pair and a self-signed certificate for one of them (CUCM's
 * identities are self-signed too; phones trust them through the ITL, not through a chain).
 *
 * Subject attribute order in the certificate: C, O, OU, CN, ST, L — the order CUCM itself writes (the CAPF,
 * ITLRecovery and 2013 CallManager certificates of the CUCM 10 CTL vector). The ITL/CTL DN strings are always
 * written CN→C whatever this order is (dn.ts).
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { type BuiltCertificate, buildCertificate, type DnAttr, randomSerial } from './certificate.js';
import { PkiError, PkiErrorCode } from './errors.js';
import type { ExtensionSpec } from './extensions.js';
import { defaultKeySpec, generateKeyPair, type KeyPair, keyPairFromPrivateKeyPem, type KeySpec } from './keys.js';
import type { DnAttrType, HashName } from './oids.js';

/** The organisation attributes of every identity's subject. */
export interface OrgInfo {
  readonly O: string;
  readonly OU: string;
  readonly L: string;
  readonly ST: string;
  readonly C: string;
}
/** Placeholders until the administrator sets the real ones (`sbd init` options later). */
export const defaultOrgInfo: OrgInfo = { O: 'sbd', OU: 'VOICE', L: 'San Jose', ST: 'CA', C: 'US' };

/** CUCM's attribute order (see the file comment). */
export const subjectOrder: readonly DnAttrType[] = ['C', 'O', 'OU', 'CN', 'ST', 'L'];

export const identityNames = ['CallManager', 'TVS', 'CAPF', 'ITLRecovery', 'tomcat'] as const;
export type IdentityName = (typeof identityNames)[number];

export interface ProfileContext {
  readonly hostname: string;
  readonly ipv4: string | undefined;
  /** The 8 lower-case hex digits of the CAPF name. */
  readonly capfId: string;
}

export interface IdentityProfile {
  readonly name: IdentityName;
  /** How the CN is made. */
  readonly commonName: (ctx: ProfileContext) => string;
  /** When set, replaces the organisation's OU (TVS: so its subject differs from CallManager's on the same node). */
  readonly ou?: string;
  readonly extensions: (ctx: ProfileContext) => ExtensionSpec;
  readonly validityYears: { readonly default: number; readonly allowed: readonly number[] };
}

const fiveYears = { default: 5, allowed: [5] } as const;

export const identityProfiles: Readonly<Record<IdentityName, IdentityProfile>> = {
  // The TFTP signer: signs configs (.sgn) and, during `utils itl reset`, the ITL; SIP-TLS server and client.
  CallManager: {
    name: 'CallManager',
    commonName: (c) => c.hostname,
    extensions: (c) => ({
      keyUsage: ['digitalSignature', 'keyEncipherment', 'dataEncipherment', 'keyAgreement'],
      extKeyUsage: ['serverAuth', 'clientAuth', 'ipsecEndSystem'],
      subjectAltName: [{ dNSName: c.hostname }],
    }),
    validityYears: fiveYears,
  },
  // One per node, the TLS server phones ask about unknown certificates. CN = host name (TLS name checks work),
  // OU = 'TVS' so its subject string in the ITL is not the CallManager's.
  TVS: {
    name: 'TVS',
    commonName: (c) => c.hostname,
    ou: 'TVS',
    extensions: (c) => ({
      keyUsage: ['digitalSignature', 'keyEncipherment', 'dataEncipherment', 'keyAgreement'],
      extKeyUsage: ['serverAuth', 'clientAuth'],
      subjectAltName: [{ dNSName: c.hostname }],
    }),
    validityYears: fiveYears,
  },
  // Issues LSCs, so it is a CA (pathlen 0: it signs end entities only). Its EKU lists every purpose an LSC has:
  // OpenSSL applies a CA's EKU to the chain below it (SIP-TLS client auth with an LSC needs clientAuth here).
  CAPF: {
    name: 'CAPF',
    commonName: (c) => `CAPF-${c.capfId}`,
    extensions: () => ({
      basicConstraints: { ca: true, pathLen: 0 },
      keyUsage: ['digitalSignature', 'keyCertSign', 'cRLSign'],
      extKeyUsage: ['serverAuth', 'clientAuth', 'ipsecEndSystem'],
    }),
    validityYears: fiveYears,
  },
  // Signs the ITL; phones keep it as SAST for years, hence the long validity (CUCM ≥ 12 defaults to 20 years).
  ITLRecovery: {
    name: 'ITLRecovery',
    commonName: (c) => `ITLRECOVERY_${c.hostname}`,
    extensions: () => ({
      keyUsage: ['digitalSignature', 'keyEncipherment'],
      extKeyUsage: ['serverAuth', 'clientAuth'],
    }),
    validityYears: { default: 20, allowed: [5, 10, 15, 20] },
  },
  // HTTPS (phone services, admin pages).
  tomcat: {
    name: 'tomcat',
    commonName: (c) => c.hostname,
    extensions: (c) => ({
      keyUsage: ['digitalSignature', 'keyEncipherment'],
      extKeyUsage: ['serverAuth'],
      subjectAltName: c.ipv4 === undefined ? [{ dNSName: c.hostname }] : [{ dNSName: c.hostname }, { iPAddress: c.ipv4 }],
    }),
    validityYears: fiveYears,
  },
};

export interface IdentityOptions {
  readonly name: IdentityName;
  /** The node's host name (RFC 1123), as phones reach it. */
  readonly hostname: string;
  /** The node's IPv4 address; written into the tomcat certificate's SAN. */
  readonly ipv4?: string;
  /** Default `defaultOrgInfo`; partial values are merged over it. */
  readonly org?: Partial<OrgInfo>;
  /** Default RSA 2048. */
  readonly keySpec?: KeySpec;
  /** Reuse this private key instead of generating one (golden tests; re-issuing a certificate for a key). */
  readonly privateKeyPem?: string;
  /** Default: the profile's (5; ITLRecovery 20). */
  readonly validityYears?: number;
  /** CAPF only: the 8 hex digits of `CAPF-xxxxxxxx`. Default: the first 4 bytes of SHA-256 over the SPKI DER. */
  readonly capfId?: string;
  readonly now: Date;
  /** Default `randomSerial()`. */
  readonly serial?: Uint8Array;
  /** Default sha256. */
  readonly hash?: HashName;
}

export interface Identity {
  readonly name: IdentityName;
  readonly certPem: string;
  readonly certDer: Buffer;
  readonly privateKeyPem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serial: Buffer;
}

/** RFC 1123 §2.1 host name: dot-separated labels of letters, digits and inner hyphens, 1..63 each, ≤ 253 total. */
export function assertHostname(hostname: string): void {
  const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  if (typeof hostname !== 'string' || hostname.length === 0 || hostname.length > 253 || !hostname.split('.').every((l) => label.test(l))) {
    throw new PkiError(PkiErrorCode.dn, `host name ${JSON.stringify(hostname)} is not an RFC 1123 host name`);
  }
}

/** Calendar years in UTC (29 February + 1 year = 1 March). */
export function addYears(date: Date, years: number): Date {
  const out = new Date(date.getTime());
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

function subjectOf(profile: IdentityProfile, org: OrgInfo, ctx: ProfileContext): DnAttr[] {
  const values: Record<DnAttrType, string> = {
    C: org.C,
    O: org.O,
    OU: profile.ou ?? org.OU,
    CN: profile.commonName(ctx),
    ST: org.ST,
    L: org.L,
  };
  return subjectOrder.map((type) => ({ type, value: values[type] }));
}

export function generateIdentity(opts: IdentityOptions): Identity {
  const profile = identityProfiles[opts.name];
  if (profile === undefined || !Object.hasOwn(identityProfiles, opts.name)) {
    throw new PkiError(PkiErrorCode.profile, `unknown identity ${JSON.stringify(opts.name)}: use ${identityNames.join(', ')}`);
  }
  assertHostname(opts.hostname);
  if (opts.ipv4 !== undefined && !net.isIPv4(opts.ipv4)) {
    throw new PkiError(PkiErrorCode.profile, `ipv4 ${JSON.stringify(opts.ipv4)} is not an IPv4 address`);
  }
  const years = opts.validityYears ?? profile.validityYears.default;
  if (!profile.validityYears.allowed.includes(years)) {
    throw new PkiError(
      PkiErrorCode.validity,
      `${profile.name} validity must be ${profile.validityYears.allowed.join(', ')} years, not ${String(years)}`,
    );
  }
  if (opts.capfId !== undefined && !/^[0-9a-f]{8}$/.test(opts.capfId)) {
    throw new PkiError(PkiErrorCode.profile, `capfId ${JSON.stringify(opts.capfId)} is not 8 lower-case hex digits`);
  }
  const keys: KeyPair =
    opts.privateKeyPem !== undefined ? keyPairFromPrivateKeyPem(opts.privateKeyPem) : generateKeyPair(opts.keySpec ?? defaultKeySpec);
  const ctx: ProfileContext = {
    hostname: opts.hostname,
    ipv4: opts.ipv4,
    capfId: opts.capfId ?? crypto.createHash('sha256').update(keys.spkiDer).digest('hex').slice(0, 8),
  };
  // Certificates carry whole seconds; report the dates as written.
  const notBefore = new Date(Math.floor(opts.now.getTime() / 1000) * 1000);
  if (Number.isNaN(notBefore.getTime())) throw new PkiError(PkiErrorCode.validity, '`now` is not a valid date');
  const notAfter = addYears(notBefore, years);
  const serial = Buffer.from(opts.serial ?? randomSerial());
  const cert: BuiltCertificate = buildCertificate({
    subject: subjectOf(profile, { ...defaultOrgInfo, ...opts.org }, ctx),
    subjectPublicKey: keys.spkiDer,
    signingKeyPem: keys.privateKeyPem,
    serial,
    notBefore,
    notAfter,
    hash: opts.hash ?? 'sha256',
    extensions: profile.extensions(ctx),
  });
  return {
    name: profile.name,
    certPem: cert.pem,
    certDer: cert.der,
    privateKeyPem: keys.privateKeyPem,
    notBefore,
    notAfter,
    serial,
  };
}
