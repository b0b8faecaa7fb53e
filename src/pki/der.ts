/**
 * A minimal DER reader (ITU-T X.690 §8, §10): it only slices, it never re-encodes, so every byte range it returns
 * is exactly the bytes of the input. Building DER is node-forge's job (certificate.ts); reading certificates we
 * did not build (EC keys, CUCM's certificates) must not depend on forge's parser, which rejects EC keys and
 * re-serialises what it reads.
 */
import { PkiError, PkiErrorCode } from './errors.js';

export const DerTag = {
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  t61String: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  universalString: 0x1c,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

/** One TLV: `tag` is the identifier octet (single-octet tags only, as in X.509), offsets index the input. */
export interface DerNode {
  readonly tag: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly contentStart: number;
  /** Offset just past the last content octet. */
  readonly end: number;
}

function fail(message: string): never {
  throw new PkiError(PkiErrorCode.certParse, message);
}

/** Reads the TLV at `offset`, bounded by `limit` (exclusive). Definite lengths only (DER, X.690 §10.1). */
export function readNode(buf: Uint8Array, offset: number, limit: number = buf.length): DerNode {
  if (offset + 2 > limit) fail(`DER: truncated header at offset ${offset}`);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) fail(`DER: multi-octet tag at offset ${offset} is not used in X.509`);
  let p = offset + 1;
  const first = buf[p++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    // 0x80 is the indefinite form (forbidden in DER); more than 4 length octets cannot fit in memory anyway.
    if (count === 0 || count > 4) fail(`DER: unsupported length form 0x${first.toString(16)} at offset ${offset}`);
    if (p + count > limit) fail(`DER: truncated length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[p++]!;
  }
  const end = p + length;
  if (end > limit) fail(`DER: value at offset ${offset} (length ${length}) runs past its container`);
  return { tag, start: offset, contentStart: p, end };
}

/** The children of a constructed node, in order. */
export function children(buf: Uint8Array, node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  let p = node.contentStart;
  while (p < node.end) {
    const child = readNode(buf, p, node.end);
    out.push(child);
    p = child.end;
  }
  return out;
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (node === undefined) fail(`DER: ${what} is missing`);
  if (node.tag !== tag) {
    fail(`DER: ${what} at offset ${node.start} has tag 0x${node.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  }
  return node;
}

export function content(buf: Uint8Array, node: DerNode): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + node.contentStart, node.end - node.contentStart);
}

export function whole(buf: Uint8Array, node: DerNode): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + node.start, node.end - node.start);
}

/** Dotted-decimal form of an OBJECT IDENTIFIER's content octets (X.690 §8.19). */
export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) fail('DER: empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) fail('DER: OBJECT IDENTIFIER arc too large');
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const firstArc = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(firstArc, value - firstArc * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    } else if (i === bytes.length - 1) {
      fail('DER: truncated OBJECT IDENTIFIER');
    }
  }
  return arcs.join('.');
}

/** The parts of a Certificate (RFC 5280 §4.1) that the PKI needs, as nodes over the DER. */
export interface CertificateNodes {
  readonly der: Buffer;
  readonly tbs: DerNode;
  readonly serial: DerNode;
  readonly issuer: DerNode;
  readonly subject: DerNode;
  readonly subjectPublicKeyInfo: DerNode;
  readonly signatureAlgorithm: DerNode;
  readonly signatureValue: DerNode;
}

/** Splits a DER certificate into its RFC 5280 §4.1 fields; throws PkiError(ERR_PKI_CERT_PARSE) on anything else. */
export function certificateNodes(der: Uint8Array): CertificateNodes {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const cert = expectTag(readNode(buf, 0), DerTag.sequence, 'Certificate');
  if (cert.end !== buf.length) fail(`DER: ${buf.length - cert.end} trailing bytes after the Certificate`);
  const [tbs, signatureAlgorithm, signatureValue] = children(buf, cert);
  expectTag(tbs, DerTag.sequence, 'tbsCertificate');
  expectTag(signatureAlgorithm, DerTag.sequence, 'signatureAlgorithm');
  expectTag(signatureValue, DerTag.bitString, 'signatureValue');
  const fields = children(buf, tbs!);
  // RFC 5280 §4.1: version is [0] EXPLICIT and optional (absent = v1).
  const i = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = expectTag(fields[i], DerTag.integer, 'serialNumber');
  expectTag(fields[i + 1], DerTag.sequence, 'signature');
  const issuer = expectTag(fields[i + 2], DerTag.sequence, 'issuer');
  expectTag(fields[i + 3], DerTag.sequence, 'validity');
  const subject = expectTag(fields[i + 4], DerTag.sequence, 'subject');
  const subjectPublicKeyInfo = expectTag(fields[i + 5], DerTag.sequence, 'subjectPublicKeyInfo');
  return {
    der: buf,
    tbs: tbs!,
    serial,
    issuer,
    subject,
    subjectPublicKeyInfo,
    signatureAlgorithm: signatureAlgorithm!,
    signatureValue: signatureValue!,
  };
}
