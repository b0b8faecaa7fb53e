/** Object identifiers the PKI writes or names, with OpenSSL's short names where a DN string shows them. */

/** The subject attributes sbd writes (RFC 5280 §4.1.2.4, X.520). */
export const DnAttrOid = {
  CN: '2.5.4.3',
  OU: '2.5.4.11',
  O: '2.5.4.10',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  C: '2.5.4.6',
} as const;
export type DnAttrType = keyof typeof DnAttrOid;

/**
 * Short names for attribute types a foreign certificate may carry beyond the six above; the DN string shows them
 * the way OpenSSL does (`openssl x509 -subject`). Anything not listed is shown in dotted form.
 */
export const extraAttrShortNames: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.9.1': 'emailAddress',
  '2.5.4.5': 'serialNumber',
  '2.5.4.4': 'SN',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.44': 'generationQualifier',
  '2.5.4.12': 'title',
  '2.5.4.9': 'street',
  '2.5.4.17': 'postalCode',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.2': 'unstructuredName',
  '1.2.840.113549.1.9.8': 'unstructuredAddress',
};

export const ExtensionOid = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
} as const;

/** RFC 5280 §4.2.1.12 key purposes, plus ipsecEndSystem (RFC 4945 §5.1.3.12 says it is obsolete; phones use it). */
export const KeyPurposeOid = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ipsecEndSystem: '1.3.6.1.5.5.7.3.5',
} as const;
export type KeyPurpose = keyof typeof KeyPurposeOid;

/** RFC 5280 §4.2.1.3 KeyUsage bit numbers. */
export const KeyUsageBit = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;
export type KeyUsage = keyof typeof KeyUsageBit;

export const PublicKeyOid = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecPublicKey: '1.2.840.10045.2.1',
} as const;

export const hashNames = ['sha1', 'sha256', 'sha384', 'sha512'] as const;
export type HashName = (typeof hashNames)[number];

/** RFC 4055 §5 / RFC 3279 §2.2.1 (RSA, parameters NULL) and RFC 5758 §3.2 (ECDSA, parameters absent). */
export const SignatureOid = {
  rsa: {
    sha1: '1.2.840.113549.1.1.5',
    sha256: '1.2.840.113549.1.1.11',
    sha384: '1.2.840.113549.1.1.12',
    sha512: '1.2.840.113549.1.1.13',
  },
  ec: {
    sha1: '1.2.840.10045.4.1',
    sha256: '1.2.840.10045.4.3.2',
    sha384: '1.2.840.10045.4.3.3',
    sha512: '1.2.840.10045.4.3.4',
  },
} as const satisfies Record<'rsa' | 'ec', Record<HashName, string>>;
