/**
 * Certificate authentication (capfAuthMode LSC / MIC, spec §3.2): the phone signs
 * `device_name ‖ 0x00 ‖ device_cert_DER` twice — SIGNED_DATA with SHA-1 and SHA2_SIGNED_DATA with SHA-512.
 * RSA keys sign "raw": PKCS#1 type-1 padding around the bare hash, no DigestInfo (RSA_private_encrypt), so the
 * verifier recovers the hash with publicDecrypt and compares. EC keys sign with ECDSA (DER).
 * Pure computation with node:crypto (OpenSSL); no I/O.
 */
import crypto from 'node:crypto';
import { CapfError, CapfErrorCode } from './errors.js';
import { CapfHash } from './frame.js';

export function authData(deviceName: string, certDer: Buffer): Buffer {
  return Buffer.concat([Buffer.from(deviceName, 'utf8'), Buffer.of(0), certDer]);
}

export interface SignedAuth {
  signedData: Buffer;
  sha2SignedData: { hash: number; signature: Buffer };
}

export function signAuthData(privateKey: crypto.KeyObject, deviceName: string, certDer: Buffer): SignedAuth {
  const data = authData(deviceName, certDer);
  if (privateKey.asymmetricKeyType === 'rsa') {
    const raw = (alg: string) =>
      crypto.privateEncrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_PADDING }, crypto.createHash(alg).update(data).digest());
    return { signedData: raw('sha1'), sha2SignedData: { hash: CapfHash.sha512, signature: raw('sha512') } };
  }
  if (privateKey.asymmetricKeyType === 'ec') {
    return {
      signedData: crypto.sign('sha1', data, { key: privateKey, dsaEncoding: 'der' }),
      sha2SignedData: { hash: CapfHash.sha512, signature: crypto.sign('sha512', data, { key: privateKey, dsaEncoding: 'der' }) },
    };
  }
  throw new CapfError(CapfErrorCode.argument, `a ${privateKey.asymmetricKeyType} key cannot sign CAPF authentication data`, {
    remote: false,
  });
}

function rawRsaVerify(publicKey: crypto.KeyObject, signature: Buffer, hash: Buffer): boolean {
  let recovered: Buffer;
  try {
    recovered = crypto.publicDecrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return false; // wrong length, bad padding: not a signature by this key
  }
  return recovered.length === hash.length && crypto.timingSafeEqual(recovered, hash);
}

/** Throws ERR_CAPF_AUTH unless both signatures are the certificate key's over the authentication data. */
export function verifyAuthData(
  publicKey: crypto.KeyObject,
  deviceName: string,
  certDer: Buffer,
  signed: { signedData?: Buffer | undefined; sha2SignedData?: { hash: number; signature: Buffer } | undefined },
): void {
  if (!signed.signedData) throw new CapfError(CapfErrorCode.auth, 'certificate authentication without SIGNED_DATA');
  if (!signed.sha2SignedData) throw new CapfError(CapfErrorCode.auth, 'certificate authentication without SHA2_SIGNED_DATA');
  if (signed.sha2SignedData.hash !== CapfHash.sha512)
    throw new CapfError(CapfErrorCode.auth, `SHA2_SIGNED_DATA hash ${signed.sha2SignedData.hash} is not SHA-512 (3)`);
  const data = authData(deviceName, certDer);
  const check = (alg: 'sha1' | 'sha512', sig: Buffer): boolean =>
    publicKey.asymmetricKeyType === 'rsa'
      ? rawRsaVerify(publicKey, sig, crypto.createHash(alg).update(data).digest())
      : publicKey.asymmetricKeyType === 'ec' && crypto.verify(alg, data, { key: publicKey, dsaEncoding: 'der' }, sig);
  if (!check('sha1', signed.signedData))
    throw new CapfError(
      CapfErrorCode.auth,
      'SIGNED_DATA (SHA-1) is not a signature of the device name and certificate by the certificate key',
    );
  if (!check('sha512', signed.sha2SignedData.signature))
    throw new CapfError(
      CapfErrorCode.auth,
      'SHA2_SIGNED_DATA (SHA-512) is not a signature of the device name and certificate by the certificate key',
    );
}
