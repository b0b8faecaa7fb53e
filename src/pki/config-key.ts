/**
 * The phone's side of an encrypted config's key (tag 25): unwrapping it with the phone's RSA private key. PKCS#1
 * v1.5 decryption is refused by Node 20's crypto, so it goes through libcrypto (native/rsa-pkcs1.ts); the
 * .enc.sgn codec (trust/enc-sgn.ts) takes the result as a function and stays free of native code.
 */
import { rsaPkcs1Decrypt } from '../../native/rsa-pkcs1.js';
import type { OpenKey } from '../trust/enc-sgn.js';

export function privateKeyOpener(privateKeyPem: string): OpenKey {
  return { kind: 'wrapped', unwrap: (encryptedKey) => rsaPkcs1Decrypt(privateKeyPem, encryptedKey) };
}
