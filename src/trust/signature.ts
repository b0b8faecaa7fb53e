/**
 * Signatures of trust files (spec §1.5): RSA PKCS#1 v1.5 over the whole file with the tag-12 TLV (3-byte header and
 * value) cut out; the hash is the one header tag 8 names.
 */
import { createPublicKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import type { HashName } from './tags.js';

export function signedBytes(bytes: Buffer, signatureOffset: number, signatureLength: number): Buffer {
  return Buffer.concat([bytes.subarray(0, signatureOffset), bytes.subarray(signatureOffset + 3 + signatureLength)]);
}

export function signDigestInfo(data: Buffer, hash: HashName, privateKey: KeyObject): Buffer {
  return sign(hash, data, privateKey);
}

export function verifyDigestInfo(data: Buffer, hash: HashName, publicKey: KeyObject, signature: Buffer): boolean {
  try {
    return verify(hash, data, publicKey, signature);
  } catch {
    return false; // wrong key type or size: simply not this signer
  }
}

/** A public key from a DER certificate (record tag 9) or a PKCS#1 RSAPublicKey (record tag 7). */
export function publicKeyFromCertificate(der: Buffer): KeyObject | undefined {
  try {
    return new X509Certificate(der).publicKey;
  } catch {
    return undefined;
  }
}
export function publicKeyFromPkcs1(der: Buffer): KeyObject | undefined {
  try {
    return createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
  } catch {
    return undefined;
  }
}
