/** Typed views of a parsed trust file's header and records (spec §1.2, §1.3, §2.2). */
import { TrustError, TrustErrorCode } from './errors.js';
import type { TrustFile, TrustRecord } from './codec.js';
import { HeaderTag, RecordTag, hashNameFromCode, type HashName } from './tags.js';
import { decodeString, findElement, type TlvElement } from './tlv.js';

export interface HeaderFields {
  version: [number, number];
  headerLength: number;
  signerVersion: [number, number] | undefined;
  signerName: string;
  signerSerial: Buffer;
  signerIssuer: string;
  hashAlgorithm: number;
  hashName: HashName;
  signatureAlgorithm: number;
  signatureModulus: number;
  signature: Buffer;
  signatureOffset: number;
  filename: string;
  timestamp: number;
  encryption: EncryptionFields | undefined;
}

export interface EncryptionFields {
  iv: Buffer;
  paddingLength: number;
  keySizeBits: number;
  keyAlgorithm: number;
  encryptedKey: Buffer;
  hashAlgorithm: number;
  hash: Buffer;
}

function need(header: readonly TlvElement[], tag: number, length?: number): TlvElement {
  const e = findElement(header, tag);
  if (!e) throw new TrustError(TrustErrorCode.header, `header lacks tag ${tag}`);
  if (length !== undefined && e.value.length !== length) {
    throw new TrustError(TrustErrorCode.header, `header tag ${tag} must be ${length} bytes, is ${e.value.length}`, e.offset);
  }
  return e;
}

export function headerFields(file: TrustFile): HeaderFields {
  const h = file.header;
  const version = need(h, HeaderTag.version, 2).value;
  const hash = need(h, HeaderTag.hashAlgorithm, 1);
  const hashName = hashNameFromCode(hash.value[0]!);
  if (!hashName) throw new TrustError(TrustErrorCode.header, `unknown hash algorithm ${hash.value[0]} in tag 8`, hash.offset);
  const sigAlg = need(h, HeaderTag.signatureAlgorithm, 1).value[0]!;
  const modulus = need(h, HeaderTag.signatureModulus, 1);
  const sig = need(h, HeaderTag.signature);
  const expected = 64 << modulus.value[0]!;
  if (modulus.value[0]! > 3 || sig.value.length !== expected) {
    throw new TrustError(
      TrustErrorCode.header,
      `signature is ${sig.value.length} bytes but tag 11 (index ${modulus.value[0]}) says ${expected}`,
      sig.offset,
    );
  }
  const signerVersion = findElement(h, HeaderTag.signerVersion);
  const enc = findElement(h, HeaderTag.encryptionInfo);
  return {
    version: [version[0]!, version[1]!],
    headerLength: file.headerLength,
    signerVersion: signerVersion ? [signerVersion.value[0] ?? 0, signerVersion.value[1] ?? 0] : undefined,
    signerName: decodeString(need(h, HeaderTag.signerName).value),
    signerSerial: need(h, HeaderTag.serialNumber).value,
    signerIssuer: decodeString(need(h, HeaderTag.issuerName).value),
    hashAlgorithm: hash.value[0]!,
    hashName,
    signatureAlgorithm: sigAlg,
    signatureModulus: modulus.value[0]!,
    signature: sig.value,
    signatureOffset: sig.offset,
    filename: decodeString(need(h, HeaderTag.filename).value),
    timestamp: need(h, HeaderTag.timestamp, 4).value.readUInt32BE(0),
    encryption: enc ? encryptionFields(h) : undefined,
  };
}

function encryptionFields(h: readonly TlvElement[]): EncryptionFields {
  return {
    iv: need(h, HeaderTag.encryptionIv, 16).value,
    paddingLength: need(h, HeaderTag.encryptionPadding, 2).value.readUInt16BE(0),
    keySizeBits: need(h, HeaderTag.encryptionKeySize, 2).value.readUInt16BE(0),
    keyAlgorithm: need(h, HeaderTag.encryptionKeyAlgorithm, 1).value[0]!,
    encryptedKey: need(h, HeaderTag.encryptionKey).value,
    hashAlgorithm: need(h, HeaderTag.encryptionHashAlgorithm, 1).value[0]!,
    hash: need(h, HeaderTag.encryptionHash).value,
  };
}

export interface RecordFields {
  index: number;
  offset: number;
  length: number;
  dnsName: string | undefined;
  subjectName: string;
  role: number;
  issuerName: string;
  serial: Buffer;
  publicKey: Buffer | undefined;
  signature: Buffer | undefined;
  certificate: Buffer | undefined;
  ipAddress: string | undefined;
  certificateHash: Buffer | undefined;
  hashAlgorithm: number | undefined;
}

export function recordFields(record: TrustRecord, index: number): RecordFields {
  const get = (tag: number) => record.elements.find((e) => e.tag === tag);
  const needR = (tag: number, what: string) => {
    const e = get(tag);
    if (!e) throw new TrustError(TrustErrorCode.record, `record ${index} lacks tag ${tag} (${what})`, record.offset);
    return e;
  };
  const role = needR(RecordTag.role, 'FUNCTION');
  if (role.value.length !== 2) throw new TrustError(TrustErrorCode.record, `record ${index}: FUNCTION must be 2 bytes`, role.offset);
  const ip = get(RecordTag.ipAddress);
  if (ip && ip.value.length !== 4) throw new TrustError(TrustErrorCode.record, `record ${index}: IPADDRESS must be 4 bytes`, ip.offset);
  const dns = get(RecordTag.dnsName);
  return {
    index,
    offset: record.offset,
    length: record.length,
    dnsName: dns ? decodeString(dns.value) : undefined,
    subjectName: decodeString(needR(RecordTag.subjectName, 'SUBJECTNAME').value),
    role: role.value.readUInt16BE(0),
    issuerName: decodeString(needR(RecordTag.issuerName, 'ISSUERNAME').value),
    serial: needR(RecordTag.serialNumber, 'SERIALNUMBER').value,
    publicKey: get(RecordTag.publicKey)?.value,
    signature: get(RecordTag.signature)?.value,
    certificate: get(RecordTag.certificate)?.value,
    ipAddress: ip ? Array.from(ip.value).join('.') : undefined,
    certificateHash: get(RecordTag.certificateHash)?.value,
    hashAlgorithm: get(RecordTag.hashAlgorithm)?.value[0],
  };
}

export function allRecordFields(file: TrustFile): RecordFields[] {
  return file.records.map((r, i) => recordFields(r, i));
}
