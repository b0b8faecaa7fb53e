/** End-user credentials: scrypt records, legacy import and migration, lockout, PINs, SIP digest HA1. */
export { CredentialError, CredentialErrorCode } from './errors.js';
export {
  SCRYPT_POLICY,
  SCRYPT_LIMITS,
  LEGACY_ALGORITHMS,
  CURRENT_ALGORITHM,
  hashSecret,
  verifySecret,
  isOutdated,
  isLegacyAlgorithm,
  parseScryptRecord,
} from './secret-hash.js';
export type { ScryptPolicy, LegacyAlgorithm, StoredSecret, HashedSecret, VerifyResult } from './secret-hash.js';
export {
  CREDENTIAL_LIMITS,
  setPassword,
  setPin,
  importLegacy,
  login,
  verifyPin,
  checkUserid,
  checkPassword,
  checkPin,
} from './accounts.js';
export type { CredentialOptions, SetPasswordInput, ImportLegacyInput, LoginResult } from './accounts.js';
export { digestHa1 } from './digest-ha1.js';
export {
  PHONE_SECRET_KEY_FILE,
  PHONE_SECRET_LIMITS,
  PhoneSecretError,
  generatePhonePassword,
  checkPhonePassword,
  encryptPhonePassword,
  decryptPhonePassword,
} from './phone-secret.js';
export { unusableLogin, putPhoneDigestPassword, phonePasswordLookup, stateKeysDir } from './phone-digest.js';
export type { PhoneDigestInput, PhoneDigestResult, PhonePasswordLookup } from './phone-digest.js';
