/**
 * Distinguished names as CUCM writes them into CTL/ITL files (record tags 3 and 5, header tags 4 and 6):
 * `CN=…;OU=…;O=…;L=…;ST=…;C=…` — `;` between attributes, no spaces, always in this order whatever the order in
 * the certificate (spec cisco-trust-formats §1.2, verified on the CUCM 10 CTL). Attributes the name lacks are
 * skipped; other attribute types follow in certificate order under OpenSSL's short names (dotted OID when
 * unknown). Values are written as they are, without RFC 4514 escaping (CUCM does not escape either).
 *
 * The ITL byte helpers live in cert-fields.ts and are re-exported here for the ITL builder's convenience.
 */
import { type CertInput, certificateDer } from './cert-input.js';
import { certificateNodes, children, content, decodeOid, DerTag, type DerNode, expectTag, whole } from './der.js';
import { PkiError, PkiErrorCode } from './errors.js';
import { DnAttrOid, extraAttrShortNames } from './oids.js';

export { certificateSignatureValue, publicKeyPkcs1Der, serialBytes } from './cert-fields.js';

const cucmOrder = ['CN', 'OU', 'O', 'L', 'ST', 'C'] as const;
const shortNameOf: Readonly<Record<string, string>> = {
  ...Object.fromEntries(Object.entries(DnAttrOid).map(([name, oid]) => [oid, name])),
  ...extraAttrShortNames,
};

/** One attribute of a Name, in certificate order (multi-valued RDNs flattened in their encoded order). */
export interface NameAttribute {
  readonly oid: string;
  /** OpenSSL's short name, or the dotted OID. */
  readonly name: string;
  readonly value: string;
}

/** X.520 DirectoryString and friends, decoded to text; anything else as RFC 4514 §2.4 `#` + hex of the DER. */
function decodeValue(buf: Buffer, node: DerNode): string {
  const bytes = content(buf, node);
  switch (node.tag) {
    case DerTag.utf8String:
      return bytes.toString('utf8');
    case DerTag.printableString:
    case DerTag.ia5String:
    case DerTag.t61String:
      return bytes.toString('latin1');
    case DerTag.bmpString:
      return Buffer.from(bytes).swap16().toString('utf16le');
    case DerTag.universalString: {
      let out = '';
      for (let i = 0; i + 3 < bytes.length; i += 4) out += String.fromCodePoint(bytes.readUInt32BE(i));
      return out;
    }
    default:
      return `#${whole(buf, node).toString('hex')}`;
  }
}

/** The attributes of a DER Name (RFC 5280 §4.1.2.4) node. */
export function nameAttributes(buf: Buffer, name: DerNode): NameAttribute[] {
  const out: NameAttribute[] = [];
  for (const rdn of children(buf, expectTag(name, DerTag.sequence, 'Name'))) {
    for (const atv of children(buf, expectTag(rdn, DerTag.set, 'RelativeDistinguishedName'))) {
      const [type, value] = children(buf, expectTag(atv, DerTag.sequence, 'AttributeTypeAndValue'));
      const oid = decodeOid(content(buf, expectTag(type, DerTag.oid, 'AttributeType')));
      if (value === undefined) throw new PkiError(PkiErrorCode.certParse, `DER: attribute ${oid} has no value`);
      out.push({ oid, name: shortNameOf[oid] ?? oid, value: decodeValue(buf, value) });
    }
  }
  return out;
}

/** CUCM's DN string of a list of attributes. */
export function cucmDnOfAttributes(attrs: readonly NameAttribute[]): string {
  const parts: string[] = [];
  for (const type of cucmOrder) {
    for (const a of attrs) if (a.oid === DnAttrOid[type]) parts.push(`${type}=${a.value}`);
  }
  const known = new Set<string>(Object.values(DnAttrOid));
  for (const a of attrs) if (!known.has(a.oid)) parts.push(`${a.name}=${a.value}`);
  return parts.join(';');
}

/**
 * CUCM's DN string of a certificate's subject (default) or issuer: what ITL/CTL record tag 3 (subject) and
 * tag 5 (issuer) hold, without the trailing NUL the TLV adds. Encode it as UTF-8 for the file.
 */
export function cuCmDnString(cert: CertInput, which: 'subject' | 'issuer' = 'subject'): string {
  const nodes = certificateNodes(certificateDer(cert));
  return cucmDnOfAttributes(nameAttributes(nodes.der, which === 'subject' ? nodes.subject : nodes.issuer));
}
