/** The PKI's public surface: the appliance identities, LSCs, PKCS#12, key files and the ITL byte helpers. */
export {
  type BuiltCertificate,
  buildCertificate,
  type CertificateOptions,
  type DnAttr,
  encodeSerial,
  randomSerial,
} from './certificate.js';
export { type CertInput, certificateDer } from './cert-input.js';
export { certificateSignatureValue, publicKeyPkcs1Der, serialBytes } from './cert-fields.js';
export { cuCmDnString, cucmDnOfAttributes, type NameAttribute, nameAttributes } from './dn.js';
export { PkiError, PkiErrorCode } from './errors.js';
export type { ExtensionSpec, GeneralName } from './extensions.js';
export {
  defaultKeySpec,
  generateKeyPair,
  type KeyPair,
  keyPairFromPrivateKeyPem,
  type KeySpec,
  readKeyFile,
  writeKeyFile,
} from './keys.js';
export { issueLsc, type LscOptions } from './lsc.js';
export type { DnAttrType, HashName, KeyPurpose, KeyUsage } from './oids.js';
export { exportPkcs12, importPkcs12, type Pkcs12Contents, type Pkcs12ExportOptions } from './pkcs12.js';
export {
  defaultOrgInfo,
  generateIdentity,
  type Identity,
  identityNames,
  type IdentityName,
  type IdentityOptions,
  identityProfiles,
  type OrgInfo,
} from './profiles.js';
