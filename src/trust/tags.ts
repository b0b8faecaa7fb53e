/**
 * Tag numbers of the Cisco TLV trust-file format (spec §1.2, §1.3, §2.2) and the role codes (§1.4).
 * Header tags and record tags are separate number spaces.
 */
export const HeaderTag = {
  version: 1,
  headerLength: 2,
  signerInfo: 3, // container: 4, 5, 6
  signerName: 4,
  serialNumber: 5,
  issuerName: 6,
  signatureInfo: 7, // container: 8, 9
  hashAlgorithm: 8,
  signatureAlgorithmInfo: 9, // container: 10, 11
  signatureAlgorithm: 10,
  signatureModulus: 11,
  signature: 12,
  padding: 13, // one byte, no length field
  filename: 14,
  timestamp: 15,
  encryptionInfo: 16, // container: 17, 21, then 26, 27 at the top level (certutils layout)
  encryptionIvInfo: 17, // container: 18, 19, 20
  encryptionUnknown1: 18,
  encryptionIv: 19,
  encryptionPadding: 20,
  encryptionKeyInfo: 21, // container: 22, 23, 24, 25
  encryptionUnknown2: 22,
  encryptionKeySize: 23,
  encryptionKeyAlgorithm: 24,
  encryptionKey: 25,
  encryptionHashAlgorithm: 26,
  encryptionHash: 27,
  signerVersion: 28,
} as const;

/** Header tags whose value is a list of nested TLVs (a parser enters them, never skips them). */
export const headerContainers: ReadonlySet<number> = new Set([3, 7, 9, 16, 17, 21]);
export const knownHeaderTags: ReadonlySet<number> = new Set(Object.values(HeaderTag));

export const RecordTag = {
  recordLength: 1,
  dnsName: 2,
  subjectName: 3,
  role: 4, // "FUNCTION"
  issuerName: 5,
  serialNumber: 6,
  publicKey: 7,
  signature: 8,
  certificate: 9,
  ipAddress: 10,
  certificateHash: 11,
  hashAlgorithm: 12,
} as const;
export const knownRecordTags: ReadonlySet<number> = new Set(Object.values(RecordTag));

/** Role ("FUNCTION") codes: u16 in files, u8 in TVS responses. */
export const Role = {
  SAST: 0,
  CCM: 1,
  CCM_TFTP: 2,
  TFTP: 3,
  CAPF: 4,
  SRST: 5,
  APP_SERVER: 7,
  TVS: 21,
} as const;
export type Role = (typeof Role)[keyof typeof Role];

const roleNames: Record<number, string> = {
  0: 'SAST',
  1: 'CCM',
  2: 'CCM+TFTP',
  3: 'TFTP',
  4: 'CAPF',
  5: 'SRST',
  7: 'APP-SERVER',
  21: 'TVS',
};
const roleLongNames: Record<number, string> = {
  0: 'System Administrator Security Token',
  1: 'CCM',
  2: 'CCM+TFTP',
  3: 'TFTP',
  4: 'CAPF',
  5: 'SRST',
  7: 'APP-SERVER',
  21: 'TVS',
};

export function roleName(code: number): string {
  return roleNames[code] ?? `unknown(${code})`;
}
export function roleLongName(code: number): string {
  return roleLongNames[code] ?? `unknown(${code})`;
}

/** Header tag 8 / record tag 12 / .enc.sgn tag 26 codes. */
export const HashAlgorithm = { sha1: 1, sha256: 2, sha512: 3 } as const;
export type HashName = keyof typeof HashAlgorithm;
export function hashNameFromCode(code: number): HashName | undefined {
  return (Object.keys(HashAlgorithm) as HashName[]).find((k) => HashAlgorithm[k] === code);
}

/** Header tag 11: signature size as an index, 64 << index bytes. */
export function modulusIndexForSignatureLength(bytes: number): number | undefined {
  const i = [64, 128, 256, 512].indexOf(bytes);
  return i < 0 ? undefined : i;
}

export const headerTagNames: Record<number, string> = {
  1: 'VERSION',
  2: 'HEADERLENGTH',
  3: 'SIGNERID',
  4: 'SIGNERNAME',
  5: 'SERIALNUMBER',
  6: 'CANAME',
  7: 'SIGNATUREINFO',
  8: 'DIGESTALGORTITHM',
  9: 'SIGNATUREALGOINFO',
  10: 'SIGNATUREALGORTITHM',
  11: 'SIGNATUREMODULUS',
  12: 'SIGNATURE',
  13: 'PADDING',
  14: 'FILENAME',
  15: 'TIMESTAMP',
  16: 'ENCRYPTIONINFO',
  17: 'ENCRYPTIONIVINFO',
  18: 'ENCRYPTIONUNKNOWN1',
  19: 'ENCRYPTIONIV',
  20: 'ENCRYPTIONPADDING',
  21: 'ENCRYPTIONKEYINFO',
  22: 'ENCRYPTIONUNKNOWN2',
  23: 'ENCRYPTIONKEYSIZE',
  24: 'ENCRYPTIONKEYALGORITHM',
  25: 'ENCRYPTIONKEY',
  26: 'ENCRYPTIONHASHALGORITHM',
  27: 'ENCRYPTIONHASH',
  28: 'SIGNERVERSION',
};
export const recordTagNames: Record<number, string> = {
  1: 'RECORDLENGTH',
  2: 'DNSNAME',
  3: 'SUBJECTNAME',
  4: 'FUNCTION',
  5: 'ISSUERNAME',
  6: 'SERIALNUMBER',
  7: 'PUBLICKEY',
  8: 'SIGNATURE',
  9: 'CERTIFICATE',
  10: 'IPADDRESS',
  11: 'CERTHASH',
  12: 'HASHALGORITHM',
};
