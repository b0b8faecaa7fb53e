/**
 * Who the phone is and what to do with it, from the store (spec §3.2; DESIGN "CAPF"): the device must exist; its
 * pending operation decides the session; its authentication mode decides the proof (`authenticateDevice` lists
 * them). Every failed proof answers END_SESSION{7} (invalid element): the phone cannot tell a wrong string from a
 * spent one, nor which check a certificate failed; the reason stays in the device's status and the log.
 */
import { X509Certificate, createHash, timingSafeEqual } from 'node:crypto';
import type { CertRow, DeviceRow } from '../store/index.js';
import type { CapfOperations } from './operations.js';
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

function anchors(store: CapfOperations, names: readonly string[], withCapf: boolean): CertRow[] {
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

/** Same work whatever the strings: both sides hashed first, so the comparison time says nothing about either. */
export function authStringMatches(got: string, want: string): boolean {
  const a = createHash('sha256').update(got, 'utf8').digest();
  const b = createHash('sha256').update(want, 'utf8').digest();
  return timingSafeEqual(a, b);
}

function sameCertificate(der: Buffer, pem: string | null): boolean {
  if (pem === null) return false;
  let current: Buffer;
  try {
    current = new X509Certificate(pem).raw;
  } catch {
    return false;
  }
  return current.length === der.length && timingSafeEqual(current, der);
}

function namesMac(cert: X509Certificate, deviceName: string): boolean {
  const mac = deviceName.slice(3).toLowerCase();
  return `${cert.subject} ${cert.subjectAltName ?? ''}`.toLowerCase().includes(mac);
}

function validAt(cert: X509Certificate, now: Date): boolean {
  const t = now.getTime();
  return t >= Date.parse(cert.validFrom) && t <= Date.parse(cert.validTo);
}

/**
 * Checks a certificate a phone handed over in FETCH_CERTIFICATE_RESPONSE before it becomes the device's LSC (the
 * certificate configs are encrypted to): DER X.509, issued by this cluster's CAPF (or a 'CAPF-trust' import),
 * valid now, naming the device's MAC. Returns its PEM; anything else is ERR_CAPF_FETCHED_CERT and nothing is stored.
 */
export function verifyFetchedLsc(store: CapfOperations, deviceName: string, der: Buffer | undefined, opts: AuthenticateOptions): string {
  const refuse = (why: string, cause?: unknown) =>
    new CapfError(CapfErrorCode.fetchedCertificate, `fetched certificate refused: ${why}`, cause === undefined ? {} : { cause });
  if (!der || der.length === 0) throw refuse('FETCH_CERTIFICATE_RESPONSE carries no CERTIFICATE');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch (err) {
    throw refuse('not a DER X.509 certificate', err);
  }
  if (!issuedBy(cert, anchors(store, opts.lscCaNames ?? AUTHENTICATE_DEFAULTS.lscCaNames, true)))
    throw refuse("not issued by this cluster's CAPF");
  if (!validAt(cert, opts.now)) throw refuse(`not valid now (${cert.validFrom} to ${cert.validTo})`);
  if (!namesMac(cert, deviceName)) throw refuse(`subject and SAN do not name ${deviceName}'s MAC`);
  return cert.toString();
}

/** Checks the certificate proof; returns 'lsc' or 'mic' by the anchor that issued it. */
export function verifyCertificateProof(
  store: CapfOperations,
  auth: CapfAuthResponse,
  mode: 'lsc' | 'mic',
  opts: AuthenticateOptions,
  device: DeviceRow,
): 'lsc' | 'mic' {
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
    throw authFail(
      mode === 'lsc'
        ? `certificate (${cert.subject.replace(/\n/g, ', ')}) is neither an LSC of this cluster's CAPF nor a MIC of a MIC-CA`
        : `certificate (${cert.subject.replace(/\n/g, ', ')}) is not issued by a MIC-CA in the store`,
    );
  }
  if (!validAt(cert, opts.now)) throw authFail(`certificate is not valid now (${cert.validFrom} to ${cert.validTo})`);
  if (!namesMac(cert, auth.deviceName))
    throw authFail(`certificate subject and SAN do not name ${auth.deviceName}'s MAC ${auth.deviceName.slice(3)}`);
  // Only the LSC the store holds now: a superseded one (an old handset, a leaked backup) opens nothing.
  if (kind === 'lsc' && !sameCertificate(auth.certificate.der, device.lscPem))
    throw authFail(`certificate is not ${auth.deviceName}'s current LSC`);
  verifyAuthData(cert.publicKey, auth.deviceName, auth.certificate.der, auth);
  return kind;
}

/**
 * The proof each authentication mode asks for:
 *   none      nothing
 *   password  the device's auth string (8–16 digits, store/devices.ts), single use: the shell clears it once it
 *             matched; compared as SHA-256 digests with timingSafeEqual so neither content nor length leaks
 *   lsc       the device's CURRENT LSC (byte for byte the one in the store, issued by this cluster's CAPF: current
 *             or history CAPF identity, or a 'CAPF-trust' import), falling back to a MIC (capfAuthMode 3 "LSC
 *             falling back to MIC"); an older LSC of the same phone, perhaps lifted from a discarded handset, is
 *             refused
 *   mic       a certificate issued by a CA the administrator imported under 'MIC-CA'
 * Certificate proofs also need both signatures over `device_name ‖ 0x00 ‖ cert` (signed-data.ts), a validity
 * period that covers now, and the device's MAC in the certificate's subject CN or SAN (a MIC's CN is
 * `CP-<model>-SEP<MAC>`, an LSC's is `SEP<MAC>`), so one phone's certificate cannot enroll another phone.
 * SUDI_DATA is accepted but not checked (not done: see docs/tvs-capf.md).
 */
export function authenticateDevice(store: CapfOperations, auth: CapfAuthResponse, opts: AuthenticateOptions): AuthResult {
  const device = store.getDevice(auth.deviceName);
  if (!device) {
    const failure = new CapfError(CapfErrorCode.unknownDevice, `unknown device ${auth.deviceName}`, { reason: CapfReason.unknownDevice });
    return {
      decision: { kind: 'reject', reason: CapfReason.unknownDevice, why: failure.message },
      device,
      consumePassword: false,
      method: 'none',
      failure,
    };
  }
  // Nothing pending: no proof needed, nothing to learn.
  if (device.capfOperation === 'none')
    return { decision: { kind: 'none' }, device, consumePassword: false, method: 'none', failure: undefined };
  let method = device.capfAuthMode as string;
  let consumePassword = false;
  try {
    switch (device.capfAuthMode) {
      case 'none':
        break;
      case 'password': {
        const want = device.capfAuthString;
        if (want === null) {
          authStringMatches(auth.password ?? '', ''); // the same work as a wrong string
          throw authFail('the authentication string was already used or never set');
        }
        if (!authStringMatches(auth.password ?? '', want)) throw authFail('wrong authentication string');
        consumePassword = true;
        break;
      }
      case 'lsc':
      case 'mic':
        method = verifyCertificateProof(store, auth, device.capfAuthMode, opts, device);
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
