import { createHash, X509Certificate } from 'node:crypto';
import { nowIso, type StoreContext } from './context.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { optionalText, text } from './fields.js';
import { nodeId } from './nodes.js';

/**
 * Certificates of the appliance and the ones it trusts.
 *
 * Two kinds share the table:
 *  - identity (putCertificate): CallManager, TVS, CAPF, ITLRecovery, tomcat… — one current certificate per
 *    (name, node). Putting a new one turns the old one into history (current = 0, replaced_at = now) in the same
 *    transaction; history stays so TVS can still vouch for files signed by a replaced signer.
 *  - trust (addTrustedCertificate): imports such as tomcat-trust, phone-sast-trust, CAPF-trust, MIC-CA — many
 *    current certificates per name, each at most once; removed with removeCertificate.
 * The PEM is parsed with node:crypto (OpenSSL) to fill subject, issuer, serial, validity and fingerprints.
 */

export type CertKind = 'identity' | 'trust';

export interface CertRow extends ParsedCert {
  id: number;
  name: string;
  node: string | null;
  kind: CertKind;
  keyFile: string | null;
  current: boolean;
  createdAt: string;
  replacedAt: string | null;
  purpose: string | null;
}

export interface CertInput {
  name: string;
  node: string | null;
  pem: string;
  keyFile: string | null;
  purpose?: string | null;
}

/** Bounds on certificate input. */
export const CERT_LIMITS = {
  /** Largest PEM accepted; an RSA-4096 certificate with extensions is about 2.5 KB. */
  maxPemBytes: 64 * 1024,
  maxNameChars: 64,
  maxPurposeChars: 256,
  maxKeyFileChars: 4096,
} as const;

const E = StoreErrorCode.certInvalid;

interface Raw {
  id: number;
  name: string;
  node: string | null;
  kind: CertKind;
  pem: string;
  der: Buffer;
  key_file: string | null;
  subject: string;
  issuer: string;
  serial_hex: string;
  not_before: string;
  not_after: string;
  sha256_hex: string;
  sha1_hex: string;
  current: number;
  created_at: string;
  replaced_at: string | null;
  purpose: string | null;
}

const SELECT = `SELECT c.id, c.name, n.name AS node, c.kind, c.pem, c.der, c.key_file, c.subject, c.issuer, c.serial_hex,
  c.not_before, c.not_after, c.sha256_hex, c.sha1_hex, c.current, c.created_at, c.replaced_at, c.purpose
  FROM certificates c LEFT JOIN nodes n ON n.id = c.node_id`;
const ORDER = 'ORDER BY c.name, n.name NULLS FIRST, c.created_at, c.id';

function row(r: Raw): CertRow {
  return {
    id: r.id,
    name: r.name,
    node: r.node,
    kind: r.kind,
    pem: r.pem,
    der: r.der,
    keyFile: r.key_file,
    subject: r.subject,
    issuer: r.issuer,
    serialHex: r.serial_hex,
    notBefore: r.not_before,
    notAfter: r.not_after,
    sha256Hex: r.sha256_hex,
    sha1Hex: r.sha1_hex,
    current: r.current === 1,
    createdAt: r.created_at,
    replacedAt: r.replaced_at,
    purpose: r.purpose,
  };
}

/** What the PEM itself says: subject and issuer one line, serial as lower-case hex, times ISO-8601 UTC. */
export interface ParsedCert {
  pem: string;
  der: Buffer;
  subject: string;
  issuer: string;
  serialHex: string;
  notBefore: string;
  notAfter: string;
  sha256Hex: string;
  sha1Hex: string;
}

/** One PEM certificate → the fields we index. Exported for device LSC validation. */
export function parseCertificatePem(pem: unknown, field = 'pem'): ParsedCert {
  if (typeof pem !== 'string') throw new StoreError(E, `${field} must be a PEM string`);
  if (Buffer.byteLength(pem) > CERT_LIMITS.maxPemBytes) {
    throw new StoreError(E, `${field} is larger than ${CERT_LIMITS.maxPemBytes} bytes`);
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (blocks !== 1) throw new StoreError(E, `${field} must hold exactly one PEM CERTIFICATE block, found ${blocks}`);
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch (err) {
    throw new StoreError(E, `${field} is not a parsable X.509 certificate: ${(err as Error).message}`, { cause: err });
  }
  const der = x.raw;
  return {
    pem: x.toString(),
    der,
    // node prints one RDN per line; one line reads better in listings and `show cert`.
    subject: x.subject.split('\n').join(', '),
    issuer: x.issuer.split('\n').join(', '),
    serialHex: x.serialNumber.toLowerCase(),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    sha256Hex: createHash('sha256').update(der).digest('hex'),
    sha1Hex: createHash('sha1').update(der).digest('hex'),
  };
}

function nameOf(value: unknown): string {
  return text(E, 'certificate name', value, CERT_LIMITS.maxNameChars);
}

function kindOfName(ctx: StoreContext, name: string): CertKind | undefined {
  const r = ctx.stmt('SELECT kind FROM certificates WHERE name = ? LIMIT 1').get(name) as { kind: CertKind } | undefined;
  return r?.kind;
}

function insert(
  ctx: StoreContext,
  kind: CertKind,
  name: string,
  node: number | null,
  p: ParsedCert,
  keyFile: string | null,
  purpose: string | null,
): number {
  return Number(
    ctx
      .stmt(
        `INSERT INTO certificates (name, node_id, kind, purpose, pem, der, key_file, subject, issuer, serial_hex, not_before,
           not_after, sha256_hex, sha1_hex, current, created_at, replaced_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, NULL)`,
      )
      .run(
        name,
        node,
        kind,
        purpose,
        p.pem,
        p.der,
        keyFile,
        p.subject,
        p.issuer,
        p.serialHex,
        p.notBefore,
        p.notAfter,
        p.sha256Hex,
        p.sha1Hex,
        nowIso(ctx.clock),
      ).lastInsertRowid,
  );
}

export function putCertificate(ctx: StoreContext, c: CertInput): CertRow {
  const name = nameOf(c.name);
  const parsed = parseCertificatePem(c.pem);
  const keyFile = optionalText(E, 'keyFile', c.keyFile, CERT_LIMITS.maxKeyFileChars);
  const purpose = optionalText(E, 'purpose', c.purpose, CERT_LIMITS.maxPurposeChars);
  return ctx.write(() => {
    if (kindOfName(ctx, name) === 'trust') {
      throw new StoreError(E, `'${name}' holds trusted imports; use addTrustedCertificate for it`);
    }
    const node = c.node === null ? null : nodeId(ctx, c.node);
    const old = currentRaw(ctx, name, node);
    // Same certificate, same key file and purpose: nothing to replace, and no history row that means nothing.
    if (old && old.sha256_hex === parsed.sha256Hex && old.key_file === keyFile && old.purpose === purpose) return row(old);
    if (old) {
      ctx.stmt('UPDATE certificates SET current = 0, replaced_at = ? WHERE id = ?').run(nowIso(ctx.clock), old.id);
    }
    return getById(ctx, insert(ctx, 'identity', name, node, parsed, keyFile, purpose))!;
  });
}

export function addTrustedCertificate(
  ctx: StoreContext,
  c: { name: string; node: string | null; pem: string; purpose?: string | null },
): CertRow {
  const name = nameOf(c.name);
  const parsed = parseCertificatePem(c.pem);
  const purpose = optionalText(E, 'purpose', c.purpose, CERT_LIMITS.maxPurposeChars);
  return ctx.write(() => {
    if (kindOfName(ctx, name) === 'identity') {
      throw new StoreError(E, `'${name}' is an identity certificate name; use putCertificate for it`);
    }
    const node = c.node === null ? null : nodeId(ctx, c.node);
    const same = ctx
      .stmt(`${SELECT} WHERE c.name = ? AND c.node_id IS ? AND c.sha256_hex = ? AND c.current = 1`)
      .get(name, node, parsed.sha256Hex) as Raw | undefined;
    if (same) return row(same);
    return getById(ctx, insert(ctx, 'trust', name, node, parsed, null, purpose))!;
  });
}

function currentRaw(ctx: StoreContext, name: string, node: number | null): Raw | undefined {
  return ctx
    .stmt(`${SELECT} WHERE c.name = ? AND c.node_id IS ? AND c.current = 1 ORDER BY c.created_at DESC, c.id DESC LIMIT 1`)
    .get(name, node) as Raw | undefined;
}

export function getById(ctx: StoreContext, id: number): CertRow | undefined {
  const r = ctx.stmt(`${SELECT} WHERE c.id = ?`).get(id) as Raw | undefined;
  return r && row(r);
}

export function currentCertificate(ctx: StoreContext, name: string, node: string | null): CertRow | undefined {
  let id: number | null = null;
  if (node !== null) {
    const n = ctx.stmt('SELECT id FROM nodes WHERE name = ?').get(node) as { id: number } | undefined;
    if (!n) return undefined;
    id = n.id;
  }
  const r = currentRaw(ctx, name, id);
  return r && row(r);
}

export function listCertificates(ctx: StoreContext, options: { includeHistory?: boolean; name?: string } = {}): CertRow[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (!options.includeHistory) where.push('c.current = 1');
  if (options.name !== undefined) {
    where.push('c.name = ?');
    args.push(options.name);
  }
  const sql = `${SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ${ORDER}`;
  return (ctx.stmt(sql).all(...args) as Raw[]).map(row);
}

/** By SHA-256 of the DER (how TVS looks certificates up); the current row wins over history. */
export function findCertificateBySha256(ctx: StoreContext, hex: string): CertRow | undefined {
  if (typeof hex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hex)) return undefined;
  const r = ctx
    .stmt(`${SELECT} WHERE c.sha256_hex = ? ORDER BY c.current DESC, c.created_at DESC, c.id DESC LIMIT 1`)
    .get(hex.toLowerCase()) as Raw | undefined;
  return r && row(r);
}

/** By serial and issuer (how CUCM's TVS looks them up); current first, then history. */
export function findCertificatesBySerial(ctx: StoreContext, serialHex: string, issuer?: string): CertRow[] {
  const rows = ctx
    .stmt(`${SELECT} WHERE c.serial_hex = ? ORDER BY c.current DESC, c.created_at DESC, c.id DESC`)
    .all(String(serialHex).toLowerCase()) as Raw[];
  return rows.map(row).filter((c) => issuer === undefined || c.issuer === issuer);
}

/** Removes a trusted import, or an identity certificate that is already history. A current identity is refused. */
export function removeCertificate(ctx: StoreContext, id: number): void {
  ctx.write(() => {
    const c = getById(ctx, id);
    if (!c) throw new StoreError(StoreErrorCode.certUnknown, `no certificate with id ${id}`);
    if (c.kind === 'identity' && c.current) {
      throw new StoreError(
        E,
        `certificate ${id} is the current ${c.name}${c.node ? ` of ${c.node}` : ''}; replace it instead of removing it`,
      );
    }
    ctx.stmt('DELETE FROM certificates WHERE id = ?').run(id);
  });
}
