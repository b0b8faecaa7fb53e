/**
 * Locally significant certificates: what CAPF issues to a phone for the key the phone generated
 * (spec cisco-trust-formats §3.2, the profile usecallmanager's capfd uses and phones accept):
 * CN = device name, SAN URI = device name, EKU serverAuth + clientAuth + ipsecEndSystem,
 * KU digitalSignature + keyEncipherment (whatever the key type: phones take this profile for EC keys too),
 * basicConstraints CA:false (critical); signed by CAPF with SHA-256.
 */
import { type BuiltCertificate, buildCertificate } from './certificate.js';
import { PkiError, PkiErrorCode } from './errors.js';
import { addYears } from './profiles.js';

export interface LscOptions {
  readonly capfCertPem: string;
  readonly capfKeyPem: string;
  /** `SEP` + 12 hex digits of the phone's MAC (the CAPF DEVICE_NAME element). */
  readonly deviceName: string;
  /** The phone's SubjectPublicKeyInfo (CAPF PUBLIC_KEY element): DER or PEM, RSA or EC. */
  readonly subjectPublicKey: Uint8Array | string;
  readonly serial: Uint8Array;
  readonly now: Date;
  /** Default 5. Whole years, 1..20. */
  readonly validityYears?: number;
}

export const defaultLscValidityYears = 5;
export const maxLscValidityYears = 20;

/** Device names CAPF serves: SEP + MAC (the phones' own naming; CUCM accepts upper-case hex). */
const deviceNamePattern = /^SEP[0-9A-F]{12}$/;

export function issueLsc(opts: LscOptions): BuiltCertificate {
  if (!deviceNamePattern.test(opts.deviceName)) {
    throw new PkiError(PkiErrorCode.dn, `device name ${JSON.stringify(opts.deviceName)} is not SEP followed by 12 upper-case hex digits`);
  }
  const years = opts.validityYears ?? defaultLscValidityYears;
  if (!Number.isInteger(years) || years < 1 || years > maxLscValidityYears) {
    throw new PkiError(PkiErrorCode.validity, `LSC validity must be 1..${maxLscValidityYears} whole years, not ${String(years)}`);
  }
  const notBefore = new Date(Math.floor(opts.now.getTime() / 1000) * 1000);
  if (Number.isNaN(notBefore.getTime())) throw new PkiError(PkiErrorCode.validity, '`now` is not a valid date');
  return buildCertificate({
    subject: [{ type: 'CN', value: opts.deviceName }],
    issuer: { certPem: opts.capfCertPem, privateKeyPem: opts.capfKeyPem },
    subjectPublicKey: opts.subjectPublicKey,
    serial: opts.serial,
    notBefore,
    notAfter: addYears(notBefore, years),
    hash: 'sha256',
    extensions: {
      basicConstraints: { ca: false },
      keyUsage: ['digitalSignature', 'keyEncipherment'],
      extKeyUsage: ['serverAuth', 'clientAuth', 'ipsecEndSystem'],
      subjectAltName: [{ uri: opts.deviceName }],
    },
  });
}
