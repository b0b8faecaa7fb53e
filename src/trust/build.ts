/**
 * Assemble and sign a trust file in Cisco's header order (spec §1.2, "Recommendation: emit Cisco's order"):
 * 1, 2, [28], 3{4,5,6}, 7{8,9{10,11}}, 12, 14, 15, [16{17{18,19,20},21{22,23,24,25}}, 26, 27], 13….
 * Steps (spec §1.5): assemble with a zeroed signature of the right size, fix every length, sign the bytes without
 * the tag-12 TLV, write the signature in place. Deterministic: RSA PKCS#1 v1.5 has no randomness and the timestamp
 * comes from the caller.
 */
import type { KeyObject } from 'node:crypto';
import { encodeTrustFile } from './codec.js';
import { TrustError, TrustErrorCode } from './errors.js';
import { signDigestInfo, signedBytes } from './signature.js';
import { HashAlgorithm, HeaderTag, modulusIndexForSignatureLength, type HashName } from './tags.js';
import { container, element, str, u16, u32, u8, type TlvElement } from './tlv.js';

/** How a signer is named in a header: byte-identical to its SAST record's tags 3, 6 and 5. */
export interface SignerIdentity {
  subjectName: string;
  issuerName: string;
  serial: Buffer;
}

export interface Signer extends SignerIdentity {
  privateKey: KeyObject;
}

export interface SignedFileSpec {
  signer: Signer;
  /** Header FILENAME (tag 14): the served name, e.g. `ITLFile.tlv` or `SEP001122334455.cnf.xml.sgn`. */
  filename: string;
  /** Unix seconds (tag 15). */
  timestamp: number;
  version: readonly [number, number];
  hash?: HashName;
  /** Tag 28 (signer version); omitted unless given (Cisco's files do not carry it). */
  signerVersion?: readonly [number, number];
  /** .tlv: the records, each a TLV list starting with tag 1. */
  records?: TlvElement[][];
  /** .sgn / .enc.sgn: the body after the header. */
  body?: Buffer;
  /** .enc.sgn: the encryption TLVs that follow TIMESTAMP (tags 16, 26, 27). */
  encryption?: TlvElement[];
}

export function signatureLengthOf(privateKey: KeyObject): number {
  const details = privateKey.asymmetricKeyDetails;
  if (privateKey.asymmetricKeyType !== 'rsa' || !details?.modulusLength) {
    throw new TrustError(
      TrustErrorCode.signerUnsupported,
      `trust files are signed with RSA keys only; this signer's key is ${privateKey.asymmetricKeyType}`,
    );
  }
  const bytes = details.modulusLength / 8;
  if (modulusIndexForSignatureLength(bytes) === undefined) {
    throw new TrustError(
      TrustErrorCode.signerUnsupported,
      `a ${details.modulusLength}-bit signer cannot be described by header tag 11 (only 512, 1024, 2048 and 4096-bit keys): use a 2048 or 4096-bit key`,
    );
  }
  return bytes;
}

export function buildSignedFile(spec: SignedFileSpec): Buffer {
  const hash = spec.hash ?? 'sha1';
  const sigLength = signatureLengthOf(spec.signer.privateKey);
  const header: TlvElement[] = [
    element(HeaderTag.version, Buffer.from(spec.version)),
    u16(HeaderTag.headerLength, 0), // set by encodeTrustFile
    ...(spec.signerVersion ? [element(HeaderTag.signerVersion, Buffer.from(spec.signerVersion))] : []),
    container(HeaderTag.signerInfo, [
      str(HeaderTag.signerName, spec.signer.subjectName),
      element(HeaderTag.serialNumber, spec.signer.serial),
      str(HeaderTag.issuerName, spec.signer.issuerName),
    ]),
    container(HeaderTag.signatureInfo, [
      u8(HeaderTag.hashAlgorithm, HashAlgorithm[hash]),
      container(HeaderTag.signatureAlgorithmInfo, [
        u8(HeaderTag.signatureAlgorithm, 0), // RSA
        u8(HeaderTag.signatureModulus, modulusIndexForSignatureLength(sigLength)!),
      ]),
    ]),
    element(HeaderTag.signature, Buffer.alloc(sigLength)),
    str(HeaderTag.filename, spec.filename),
    u32(HeaderTag.timestamp, spec.timestamp),
    ...(spec.encryption ?? []),
  ];
  const encoded = encodeTrustFile({
    header,
    records: (spec.records ?? []).map((elements) => ({ offset: -1, length: 0, elements })),
    body: spec.body ?? Buffer.alloc(0),
  });
  const { bytes, signatureOffset } = encoded;
  const signature = signDigestInfo(signedBytes(bytes, signatureOffset, sigLength), hash, spec.signer.privateKey);
  signature.copy(bytes, signatureOffset + 3);
  return bytes;
}
