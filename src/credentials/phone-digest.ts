/**
 * A phone's digest credentials as one operation: the digest user (an end user; created with a login nobody
 * knows when it does not exist, so the password handed to a phone never opens the web or admin login), its HA1s
 * for the realm (what the registrar verifies with, RFC 3261 §22.4) and the password encrypted for delivery in the
 * phone's config (phone-secret.ts). Every write bumps the store generation, so TFTP rebuilds the configs.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, basename } from 'node:path';
import type { Store } from '../store/index.js';
import { checkUserid } from './accounts.js';
import { digestHa1 } from './digest-ha1.js';
import { CredentialError, CredentialErrorCode } from './errors.js';
import { checkPhonePassword, decryptPhonePassword, encryptPhonePassword } from './phone-secret.js';
import { hashSecret, SCRYPT_POLICY, type HashedSecret, type ScryptPolicy } from './secret-hash.js';

export interface PhoneDigestInput {
  userid: string;
  password: string;
  /** Default: the SipStationRealm parameter. */
  realm?: string | undefined;
}

export interface PhoneDigestResult {
  userid: string;
  realm: string;
  /** The digest user did not exist and was created (with an unusable login). */
  createdUser: boolean;
}

/**
 * The login record for a digest user made only for a phone: scrypt of 32 random bytes that are thrown away. Async
 * (scrypt), so callers make it before the store transaction that uses it.
 */
export function unusableLogin(policy: ScryptPolicy = SCRYPT_POLICY): Promise<HashedSecret> {
  return hashSecret(randomBytes(32).toString('base64'), policy);
}

/**
 * Stores `password` as the digest password of `userid` (creating the end user with `newUserLogin` when absent).
 * Call inside the caller's transaction to join it with a device write. Refuses admin and application users: a
 * password that travels to phones must not be an administrator's.
 */
export function putPhoneDigestPassword(
  store: Store,
  keysDir: string,
  input: PhoneDigestInput,
  newUserLogin: HashedSecret,
): PhoneDigestResult {
  const userid = checkUserid(input.userid);
  const password = checkPhonePassword(input.password);
  return store.transaction(() => {
    const realm = input.realm ?? store.getParam('SipStationRealm');
    const old = store.getUser(userid);
    if (old && old.kind !== 'end') {
      throw new CredentialError(
        CredentialErrorCode.input,
        `user "${userid}" is an ${old.kind} user: a phone's digest user must be an end user`,
      );
    }
    if (!old)
      store.putUser({
        userid,
        kind: 'end',
        credentialHash: newUserLogin.hash,
        algorithm: newUserLogin.algorithm,
        params: newUserLogin.params,
      });
    const ha1 = digestHa1(userid, realm, password);
    store.putDigestCredential(userid, realm, ha1.ha1Md5, ha1.ha1Sha256, encryptPhonePassword(keysDir, userid, realm, password));
    return { userid, realm, createdUser: !old };
  });
}

/** The delivered password of a digest user in a realm, or undefined when none is kept. */
export type PhonePasswordLookup = (userid: string, realm: string) => string | undefined;

/** Reads and decrypts from the store; a blob that does not decrypt throws (PhoneSecretError), never silently drops. */
export function phonePasswordLookup(store: Store, keysDir: string): PhonePasswordLookup {
  return (userid, realm) => {
    const row = store.getDigestCredential(userid, realm);
    return row?.passwordEnc ? decryptPhonePassword(keysDir, userid, realm, row.passwordEnc) : undefined;
  };
}

/** `<state>/keys` of a store opened at `<state>/sbd.db` (the appliance layout); undefined for other stores. */
export function stateKeysDir(store: Store): string | undefined {
  return basename(store.path) === 'sbd.db' ? join(dirname(store.path), 'keys') : undefined;
}
