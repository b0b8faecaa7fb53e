/**
 * X.509 v3 extensions (RFC 5280 §4.2) as data, and their DER through node-forge's ASN.1 builder. A profile
 * (profiles.ts, lsc.ts) says which extensions a certificate carries; this file only encodes them.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import forge from 'node-forge';
import { certificateNodes, children, content, decodeOid, DerTag, expectTag, readNode } from './der.js';
import { PkiError, PkiErrorCode } from './errors.js';
import { ExtensionOid, type KeyPurpose, KeyPurposeOid, type KeyUsage, KeyUsageBit } from './oids.js';

const asn1 = forge.asn1;
type Asn1 = forge.asn1.Asn1;

/** RFC 5280 §4.2.1.6 GeneralName forms sbd writes. */
export type GeneralName = { dNSName: string } | { iPAddress: string } | { uri: string };

export interface ExtensionSpec {
  /** RFC 5280 §4.2.1.9. Critical when present (required for CAs, and the LSC profile asks for it). */
  readonly basicConstraints?: { readonly ca: boolean; readonly pathLen?: number };
  /** RFC 5280 §4.2.1.3; written critical, as the RFC recommends. */
  readonly keyUsage?: readonly KeyUsage[];
  /** RFC 5280 §4.2.1.12; non-critical. */
  readonly extKeyUsage?: readonly KeyPurpose[];
  /** RFC 5280 §4.2.1.6; non-critical (the subject DN is never empty here). */
  readonly subjectAltName?: readonly GeneralName[];
}

export function universal(type: number, value: string | Asn1[], constructed = false): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, type, constructed, value);
}
export function sequence(items: Asn1[]): Asn1 {
  return universal(asn1.Type.SEQUENCE, items, true);
}
export function oid(dotted: string): Asn1 {
  return universal(asn1.Type.OID, asn1.oidToDer(dotted).getBytes());
}
export function octets(bytes: Uint8Array): Asn1 {
  return universal(asn1.Type.OCTETSTRING, Buffer.from(bytes).toString('binary'));
}
export function bitString(bytes: Uint8Array, unusedBits = 0): Asn1 {
  return universal(asn1.Type.BITSTRING, String.fromCharCode(unusedBits) + Buffer.from(bytes).toString('binary'));
}
export function derOf(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

function extension(extnId: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [oid(extnId)];
  // RFC 5280 §4.1: critical BOOLEAN DEFAULT FALSE, so DER omits it when false (X.690 §11.5).
  if (critical) parts.push(universal(asn1.Type.BOOLEAN, '\xff'));
  parts.push(octets(derOf(value)));
  return sequence(parts);
}

/** KeyUsage as a DER named-bit BIT STRING: trailing zero bits removed (X.690 §11.2.2). */
function keyUsageBits(usages: readonly KeyUsage[]): Asn1 {
  const bits = usages.map((u) => KeyUsageBit[u]);
  if (bits.length === 0) throw new PkiError(PkiErrorCode.profile, 'keyUsage needs at least one usage');
  const highest = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return bitString(bytes, 7 - (highest % 8));
}

function generalName(name: GeneralName): Asn1 {
  const ctx = (tag: number, value: string) => asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, false, value);
  if ('dNSName' in name) return ctx(2, Buffer.from(name.dNSName, 'ascii').toString('binary'));
  if ('uri' in name) return ctx(6, Buffer.from(name.uri, 'ascii').toString('binary'));
  const ip = name.iPAddress;
  if (net.isIPv4(ip)) return ctx(7, String.fromCharCode(...ip.split('.').map(Number)));
  throw new PkiError(PkiErrorCode.profile, `iPAddress ${JSON.stringify(ip)} is not an IPv4 address`);
}

/**
 * RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value (without tag, length and the
 * unused-bits octet).
 */
export function keyIdentifier(spkiDer: Uint8Array): Buffer {
  const buf = Buffer.from(spkiDer);
  const spki = expectTag(readNode(buf, 0), DerTag.sequence, 'SubjectPublicKeyInfo');
  const [, key] = children(buf, spki);
  const bits = content(buf, expectTag(key, DerTag.bitString, 'subjectPublicKey'));
  return crypto.createHash('sha1').update(bits.subarray(1)).digest();
}

/** The subjectKeyIdentifier a certificate carries, or null. */
export function subjectKeyIdentifierOf(certDer: Uint8Array): Buffer | null {
  const nodes = certificateNodes(certDer);
  const buf = nodes.der;
  const extsWrapper = children(buf, nodes.tbs).find((n) => n.tag === 0xa3);
  if (extsWrapper === undefined) return null;
  const exts = expectTag(children(buf, extsWrapper)[0], DerTag.sequence, 'extensions');
  for (const ext of children(buf, exts)) {
    const parts = children(buf, ext);
    if (decodeOid(content(buf, expectTag(parts[0], DerTag.oid, 'extnID'))) !== ExtensionOid.subjectKeyIdentifier) {
      continue;
    }
    const value = content(buf, expectTag(parts[parts.length - 1], DerTag.octetString, 'extnValue'));
    return content(value, expectTag(readNode(value, 0), DerTag.octetString, 'KeyIdentifier'));
  }
  return null;
}

/**
 * The extensions list: the profile's, then subjectKeyIdentifier (every certificate, RFC 5280 §4.2.1.2), then
 * authorityKeyIdentifier when an issuer key id is given (issued certificates, RFC 5280 §4.2.1.1; self-signed
 * certificates may omit it and do).
 */
export function buildExtensions(spec: ExtensionSpec, subjectSpki: Uint8Array, authorityKeyId: Buffer | null): Asn1[] {
  const out: Asn1[] = [];
  if (spec.basicConstraints !== undefined) {
    const bc: Asn1[] = [];
    if (spec.basicConstraints.ca) bc.push(universal(asn1.Type.BOOLEAN, '\xff'));
    const pathLen = spec.basicConstraints.pathLen;
    if (pathLen !== undefined) {
      if (!spec.basicConstraints.ca || !Number.isInteger(pathLen) || pathLen < 0 || pathLen > 127) {
        throw new PkiError(PkiErrorCode.profile, 'basicConstraints pathLen needs CA:true and 0..127');
      }
      bc.push(universal(asn1.Type.INTEGER, String.fromCharCode(pathLen)));
    }
    out.push(extension(ExtensionOid.basicConstraints, true, sequence(bc)));
  }
  if (spec.keyUsage !== undefined) out.push(extension(ExtensionOid.keyUsage, true, keyUsageBits(spec.keyUsage)));
  if (spec.extKeyUsage !== undefined && spec.extKeyUsage.length > 0) {
    const purposes = spec.extKeyUsage.map((p) => oid(KeyPurposeOid[p]));
    out.push(extension(ExtensionOid.extKeyUsage, false, sequence(purposes)));
  }
  if (spec.subjectAltName !== undefined && spec.subjectAltName.length > 0) {
    out.push(extension(ExtensionOid.subjectAltName, false, sequence(spec.subjectAltName.map(generalName))));
  }
  out.push(extension(ExtensionOid.subjectKeyIdentifier, false, octets(keyIdentifier(subjectSpki))));
  if (authorityKeyId !== null) {
    const keyId = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, authorityKeyId.toString('binary'));
    out.push(extension(ExtensionOid.authorityKeyIdentifier, false, sequence([keyId])));
  }
  return out;
}
