/**
 * Encrypted configuration files, `SEP<MAC>.cnf.xml.enc.sgn` (spec §2.2): header version 2.0 with the encryption
 * TLVs after TIMESTAMP — 16{17{18, 19 IV, 20 pad count}, 21{22, 23 key bits, 24, 25 wrapped key}}, 26, 27 — and a
 * body that is AES-128-CBC of the plaintext padded with N bytes of 0x0D (N = 16 − len mod 16, so 1…16, never 0).
 * The AES key is wrapped with RSA PKCS#1 v1.5 under the phone's public key (its LSC or MIC), or, for a manually
 * configured symmetric key, the AES key is that key and tag 25 is left empty (the phone already holds it) [?].
 */
import { constants, createCipheriv, createDecipheriv, createHash, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { buildSignedFile, type Signer } from './build.js';
import { parseTrustFile } from './codec.js';
import { TrustError, TrustErrorCode } from './errors.js';
import { headerFields, type EncryptionFields } from './fields.js';
import { HashAlgorithm, HeaderTag, hashNameFromCode } from './tags.js';
import { container, element, u16, u8 } from './tlv.js';

export type ConfigKey = { kind: 'public-key'; publicKey: KeyObject } | { kind: 'symmetric'; key: Buffer };

export interface EncryptedConfigSpec {
  plaintext: Buffer;
  /** Served name, e.g. `SEP001122334455.cnf.xml.enc.sgn`. */
  filename: string;
  signer: Signer;
  timestamp: number;
  key: ConfigKey;
  /** Hash of the plaintext in tag 27: sha1 (default, 20 bytes) or sha512 (64 bytes). */
  plaintextHash?: 'sha1' | 'sha512';
  signatureHash?: 'sha1' | 'sha256' | 'sha512';
  /** Source of randomness for the AES key and IV (tests pass a fixed one). */
  random?: (n: number) => Buffer;
  /** Tests: a fixed RSA-wrapped key blob instead of a fresh (randomly padded) one. */
  wrappedKey?: Buffer;
}

export function padPlaintext(plaintext: Buffer): { padded: Buffer; padding: number } {
  const padding = 16 - (plaintext.length % 16);
  return { padded: Buffer.concat([plaintext, Buffer.alloc(padding, 0x0d)]), padding };
}

export function buildEncryptedConfig(spec: EncryptedConfigSpec): Buffer {
  const random = spec.random ?? randomBytes;
  const hashName = spec.plaintextHash ?? 'sha1';
  let aesKey: Buffer;
  let wrapped: Buffer;
  let keyBits: number;
  if (spec.key.kind === 'symmetric') {
    if (spec.key.key.length !== 16)
      throw new TrustError(TrustErrorCode.content, `a symmetric config key must be 16 bytes (AES-128), got ${spec.key.key.length}`);
    aesKey = spec.key.key;
    wrapped = Buffer.alloc(0);
    keyBits = 128;
  } else {
    const pk = spec.key.publicKey;
    if (pk.asymmetricKeyType !== 'rsa') {
      throw new TrustError(
        TrustErrorCode.content,
        `encrypted configs need the phone's RSA key; this phone's key is ${pk.asymmetricKeyType} (re-issue an RSA LSC)`,
      );
    }
    keyBits = pk.asymmetricKeyDetails!.modulusLength!;
    aesKey = random(16);
    wrapped = spec.wrappedKey ?? publicEncrypt({ key: pk, padding: constants.RSA_PKCS1_PADDING }, aesKey);
  }
  const iv = random(16);
  const { padded, padding } = padPlaintext(spec.plaintext);
  const cipher = createCipheriv('aes-128-cbc', aesKey, iv).setAutoPadding(false);
  const body = Buffer.concat([cipher.update(padded), cipher.final()]);
  const encryption = [
    container(HeaderTag.encryptionInfo, [
      container(HeaderTag.encryptionIvInfo, [
        u8(HeaderTag.encryptionUnknown1, 0),
        element(HeaderTag.encryptionIv, iv),
        u16(HeaderTag.encryptionPadding, padding),
      ]),
      container(HeaderTag.encryptionKeyInfo, [
        u8(HeaderTag.encryptionUnknown2, 0),
        u16(HeaderTag.encryptionKeySize, keyBits),
        u8(HeaderTag.encryptionKeyAlgorithm, 1),
        element(HeaderTag.encryptionKey, wrapped),
      ]),
    ]),
    u8(HeaderTag.encryptionHashAlgorithm, HashAlgorithm[hashName]),
    element(HeaderTag.encryptionHash, createHash(hashName).update(spec.plaintext).digest()),
  ];
  return buildSignedFile({
    signer: spec.signer,
    filename: spec.filename,
    timestamp: spec.timestamp,
    version: [2, 0],
    hash: spec.signatureHash ?? 'sha1',
    body,
    encryption,
  });
}

/**
 * How the reader opens the config key: the phone's own symmetric key, or a function that unwraps tag 25 with the
 * phone's private key (RSA PKCS#1 v1.5, which Node 20 refuses: pki/config-key.ts supplies one over libcrypto, so
 * this codec stays pure). `unwrap` answers undefined when the key does not open.
 */
export type OpenKey = { kind: 'wrapped'; unwrap: (encryptedKey: Buffer) => Buffer | undefined } | { kind: 'symmetric'; key: Buffer };

/** Decrypts an .enc.sgn body and checks the plaintext hash (tag 27). Signature checks are the caller's (verify.ts). */
export function decryptEncryptedConfig(bytes: Buffer, key: OpenKey): Buffer {
  const file = parseTrustFile(bytes, { kind: 'enc.sgn' });
  const enc: EncryptionFields | undefined = headerFields(file).encryption;
  if (!enc) throw new TrustError(TrustErrorCode.header, 'not an encrypted config: the header has no tag 16');
  let aesKey: Buffer | undefined;
  if (key.kind === 'symmetric') aesKey = key.key;
  else aesKey = key.unwrap(enc.encryptedKey);
  if (aesKey?.length !== 16)
    throw new TrustError(TrustErrorCode.decrypt, 'the config key does not open with this key (it was encrypted for another phone)');
  if (file.body.length === 0 || file.body.length % 16 !== 0)
    throw new TrustError(TrustErrorCode.decrypt, `encrypted body of ${file.body.length} bytes is not whole AES blocks`);
  const decipher = createDecipheriv('aes-128-cbc', aesKey, enc.iv).setAutoPadding(false);
  const padded = Buffer.concat([decipher.update(file.body), decipher.final()]);
  if (enc.paddingLength < 1 || enc.paddingLength > 16 || padded.subarray(padded.length - enc.paddingLength).some((b) => b !== 0x0d)) {
    throw new TrustError(TrustErrorCode.decrypt, 'the config does not decrypt with this key (padding is wrong)');
  }
  const plaintext = padded.subarray(0, padded.length - enc.paddingLength);
  const hashName = hashNameFromCode(enc.hashAlgorithm);
  if (!hashName || !createHash(hashName).update(plaintext).digest().equals(enc.hash)) {
    throw new TrustError(TrustErrorCode.decrypt, 'the decrypted config does not match its hash (wrong key or tampered file)');
  }
  return plaintext;
}
