/**
 * The cluster's trust stores for application servers (CUCM's `set cert import trust tomcat-trust|phone-sast-trust`):
 * a certificate imported into tomcat-trust is one TVS vouches for with role APP-SERVER (a phone then opens that
 * server's HTTPS service), into phone-sast-trust with role SAST (it may sign files the phone accepts through TVS).
 * TVS reads the store's trusted imports by name (src/tvs/trust-answer.ts importRoles) and rebuilds its answers
 * when the store's generation changes, so an import takes effect, and a removal stops it, without a restart.
 */
import { readFileSync, statSync } from 'node:fs';
import type { CertRow, Store } from '../store/index.js';
import { CERT_LIMITS } from '../store/certificates.js';
import { UsageError } from '../lib/errors.js';

/** The trust stores an administrator imports into, with what TVS then vouches for. */
export const TRUST_STORE_UNITS = {
  'tomcat-trust': 'APP-SERVER (HTTPS phone services)',
  'phone-sast-trust': 'SAST (signs files phones accept)',
} as const;
export type TrustStoreUnit = keyof typeof TRUST_STORE_UNITS;

export function parseTrustUnit(text: string): TrustStoreUnit {
  const unit = Object.keys(TRUST_STORE_UNITS).find((u) => u === text.toLowerCase());
  if (!unit) throw new UsageError(`no trust store "${text}": ${Object.keys(TRUST_STORE_UNITS).join(' or ')}`);
  return unit as TrustStoreUnit;
}

/** Imports one PEM certificate (the store refuses anything but one readable certificate). Same bytes twice: one row. */
export function importTrustedCertificate(store: Store, unit: TrustStoreUnit, pem: string, purpose?: string): CertRow {
  return store.addTrustedCertificate({ name: unit, node: null, pem, ...(purpose ? { purpose } : {}) });
}

/** Every imported certificate of the units above (`unit`: one of them only). */
export function listTrustedCertificates(store: Store, unit?: TrustStoreUnit): CertRow[] {
  const units = unit ? [unit] : (Object.keys(TRUST_STORE_UNITS) as TrustStoreUnit[]);
  return store.listCertificates({ includeHistory: true }).filter((c) => c.kind === 'trust' && (units as string[]).includes(c.name));
}

/**
 * Removes one import, named by its store id or by a prefix of its SHA-256 (at least 8 hex digits, matching one
 * certificate of the unit).
 */
export function removeTrustedCertificate(store: Store, unit: TrustStoreUnit, which: string): CertRow {
  return store.transaction(() => {
    const rows = listTrustedCertificates(store, unit);
    let hits: CertRow[];
    if (/^\d{1,9}$/.test(which)) hits = rows.filter((c) => c.id === Number(which));
    else if (/^[0-9a-f]{8,64}$/i.test(which)) hits = rows.filter((c) => c.sha256Hex.startsWith(which.toLowerCase()));
    else throw new UsageError(`"${which}" is neither a certificate id nor a SHA-256 prefix of 8 or more hex digits`);
    if (hits.length === 0) throw new UsageError(`no certificate ${which} in ${unit}`);
    if (hits.length > 1) throw new UsageError(`${which} matches ${hits.length} certificates in ${unit}: give more digits`);
    store.removeCertificate(hits[0]!.id);
    return hits[0]!;
  });
}

export function trustLine(c: CertRow): string {
  return `${String(c.id).padStart(4)}  ${c.name.padEnd(16)} ${c.sha256Hex.slice(0, 16)}  ${c.notAfter}  ${c.subject.replace(/\n/g, ', ')}`;
}

/** A PEM file's text, its size checked before reading (the store then checks the certificate itself). */
export function readPemFile(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (size > CERT_LIMITS.maxPemBytes)
    throw new UsageError(`${path}: ${size} bytes; a certificate PEM holds at most ${CERT_LIMITS.maxPemBytes}`);
  return readFileSync(path, 'utf8');
}
