/**
 * Who the phone is and what to do with it, from the store (spec §3.2; DESIGN "CAPF"): the device must exist; its
 * pending operation decides the session; its authentication mode decides the proof:
 *   none      nothing
 *   password  the device's auth string (CUCM: 4–10 digits), single use: the shell clears it once it matched
 *   lsc       a certificate issued by this cluster's CAPF (current or history CAPF identity, or a 'CAPF-trust'
 *             import), falling back to a MIC (capfAuthMode 3 "LSC falling back to MIC")
 *   mic       a certificate issued by a CA the administrator imported under 'MIC-CA'
 * Certificate proofs also need both signatures over `device_name ‖ 0x00 ‖ cert` (signed-data.ts), a validity
 * period that covers now, and the device's MAC in the certificate's subject CN or SAN (a MIC's CN is
 * `CP-<model>-SEP<MAC>`, an LSC's is `SEP<MAC>`), so one phone's certificate cannot enroll another phone.
 * SUDI_DATA is accepted but not checked (not done: see docs/tvs-capf.md).
 */
import { X509Certificate, timingSafeEqual } from 'node:crypto';
import type { CertRow, DeviceRow, Store } from '../store/index.js';
import { CapfError, CapfErrorCode } from './core/errors.js';
import { CapfReason } from './core/frame.js';
import { DEFAULT_CAPF_KEY_SPEC, type CapfKeySpec } from './core/key-spec.js';
import type { CapfAuthResponse, CapfDecision } from './core/server-session.js';
import { verifyAuthData } from './core/signed-data.js';
import { pendingKeySpec } from './operation-status.js';

export interface AuthenticateOptions {
  now: Date;
  /** Store names whose certificates issue MICs. Default ['MIC-CA']. */
  micCaNames?: readonly string[];
  /** Store names whose certificates issue LSCs besides the CAPF identities. Default ['CAPF-trust']. */
  lscCaNames?: readonly string[];
  /** Key asked for when the pending status names none. Default RSA 2048 (CUCM's default). */
  defaultKeySpec?: CapfKeySpec;
}
export const AUTHENTICATE_DEFAULTS = { micCaNames: ['MIC-CA'], lscCaNames: ['CAPF-trust'], defaultKeySpec: DEFAULT_CAPF_KEY_SPEC } as const;

export interface AuthResult {
  decision: CapfDecision;
  device: DeviceRow | undefined;
  /** The auth string matched: the shell must clear it (single use). */
  consumePassword: boolean;
  /** How the phone proved itself, for the log ('password', 'lsc', 'mic', 'none'). */
  method: string;
  /** Set when authentication failed. */
  failure: CapfError | undefined;
}

function anchors(store: Store, names: readonly string[], withCapf: boolean): CertRow[] {
  const all = store.listCertificates({ includeHistory: true });
  const lower = names.map((n) => n.toLowerCase());
  return all.filter((c) => lower.includes(c.name.toLowerCase()) || (withCapf && c.kind === 'identity' && c.name === 'CAPF'));
}

function issuedBy(cert: X509Certificate, rows: readonly CertRow[]): CertRow | undefined {
  for (const row of rows) {
    const ca = new X509Certificate(row.pem);
    if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) return row;
  }
  return undefined;
}

function authFail(message: string): CapfError {
  return new CapfError(CapfErrorCode.auth, message, { reason: CapfReason.invalidElement });
}

/** Checks the certificate proof; returns 'lsc' or 'mic' by the anchor that issued it. */
export function verifyCertificateProof(store: Store, auth: CapfAuthResponse, mode: 'lsc' | 'mic', opts: AuthenticateOptions): 'lsc' | 'mic' {
  if (!auth.certificate) throw authFail(`authentication mode ${mode} needs a CERTIFICATE in AUTH_RESPONSE`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(auth.certificate.der);
  } catch (err) {
    throw new CapfError(CapfErrorCode.auth, 'CERTIFICATE is not a DER X.509 certificate', { cause: err });
  }
  const lscRows = mode === 'lsc' ? anchors(store, opts.lscCaNames ?? AUTHENTICATE_DEFAULTS.lscCaNames, true) : [];
  const micRows = anchors(store, opts.micCaNames ?? AUTHENTICATE_DEFAULTS.micCaNames, false);
  const kind = issuedBy(cert, lscRows) ? 'lsc' : issuedBy(cert, micRows) ? 'mic' : undefined;
  if (!kind) {
    throw authFail(mode === 'lsc' ? `certificate (${cert.subject.replace(/\n/g, ', ')}) is neither an LSC of this cluster's CAPF nor a MIC of a MIC-CA` : `certificate (${cert.subject.replace(/\n/g, ', ')}) is not issued by a MIC-CA in the store`);
  }
  const now = opts.now.getTime();
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) throw authFail(`certificate is not valid now (${cert.validFrom} to ${cert.validTo})`);
  const mac = auth.deviceName.slice(3).toLowerCase();
  const names = `${cert.subject} ${cert.subjectAltName ?? ''}`.toLowerCase();
  if (!names.includes(mac)) throw authFail(`certificate subject and SAN do not name ${auth.deviceName}'s MAC ${mac.toUpperCase()}`);
  verifyAuthData(cert.publicKey, auth.deviceName, auth.certificate.der, auth);
  return kind;
}

export function authenticateDevice(store: Store, auth: CapfAuthResponse, opts: AuthenticateOptions): AuthResult {
  const device = store.getDevice(auth.deviceName);
  if (!device) {
    const failure = new CapfError(CapfErrorCode.unknownDevice, `unknown device ${auth.deviceName}`, { reason: CapfReason.unknownDevice });
    return { decision: { kind: 'reject', reason: CapfReason.unknownDevice, why: failure.message }, device, consumePassword: false, method: 'none', failure };
  }
  // Nothing pending: no proof needed, nothing to learn.
  if (device.capfOperation === 'none') return { decision: { kind: 'none' }, device, consumePassword: false, method: 'none', failure: undefined };
  let method = device.capfAuthMode as string;
  let consumePassword = false;
  try {
    switch (device.capfAuthMode) {
      case 'none':
        break;
      case 'password': {
        const want = device.capfAuthString;
        if (want === null) throw authFail('the authentication string was already used or never set');
        const got = Buffer.from(auth.password ?? '', 'utf8');
        const expected = Buffer.from(want, 'utf8');
        if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw authFail('wrong authentication string');
        consumePassword = true;
        break;
      }
      case 'lsc':
      case 'mic':
        method = verifyCertificateProof(store, auth, device.capfAuthMode, opts);
        break;
    }
  } catch (err) {
    const failure = err instanceof CapfError ? err : authFail((err as Error).message);
    return { decision: { kind: 'reject', reason: failure.reason, why: failure.message }, device, consumePassword: false, method, failure };
  }
  const decision: CapfDecision =
    device.capfOperation === 'install'
      ? { kind: 'install', keySpec: pendingKeySpec(device.capfStatus) ?? opts.defaultKeySpec ?? AUTHENTICATE_DEFAULTS.defaultKeySpec }
      : { kind: device.capfOperation };
  return { decision, device, consumePassword, method, failure: undefined };
}
