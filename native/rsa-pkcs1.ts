/**
 * RSA PKCS#1 v1.5 decryption through libcrypto. Node 20 refuses `privateDecrypt` with RSA_PKCS1_PADDING (the Marvin
 * mitigation, ERR_INVALID_ARG_VALUE), but the .enc.sgn format (spec §2.2) wraps its AES key that way, and the
 * phone simulator must open it. Debian 12's OpenSSL 3.0 does the classic (explicit-rejection) decryption.
 */
import koffi from 'koffi';
import { libcrypto } from './libcrypto.js';

interface Fns {
  BIO_new_mem_buf: (buf: Buffer, len: number) => unknown;
  BIO_free: (bio: unknown) => number;
  PEM_read_bio_PrivateKey: (bio: unknown, x: null, cb: null, u: null) => unknown;
  EVP_PKEY_free: (k: unknown) => void;
  EVP_PKEY_CTX_new: (k: unknown, e: null) => unknown;
  EVP_PKEY_CTX_free: (c: unknown) => void;
  EVP_PKEY_decrypt_init: (c: unknown) => number;
  EVP_PKEY_CTX_set_rsa_padding: (c: unknown, pad: number) => number;
  EVP_PKEY_decrypt: (c: unknown, out: Buffer | null, outlen: [number], inp: Buffer, inlen: number) => number;
  ERR_clear_error: () => void;
}

let fns: Fns | undefined;
let nodeClearError: (() => void) | undefined;

/**
 * node's own OpenSSL (linked into the node binary, its symbols global) can interpose on the libcrypto.so.3 calls
 * made here, so a failed decryption may leave its error on node's queue rather than libcrypto.so.3's; the next
 * node:crypto call (createPrivateKey) then fails with that stale "pkcs decoding error". Clear both queues.
 */
function clearNodeErrorQueue(): void {
  nodeClearError ??= koffi.load(null as unknown as string).func('ERR_clear_error', 'void', []) as () => void;
  nodeClearError();
}

function load(): Fns {
  if (fns) return fns;
  const lib = libcrypto();
  const opaque = koffi.opaque;
  const BIO = koffi.pointer('BIO', opaque());
  const PKEY = koffi.pointer('EVP_PKEY', opaque());
  const CTX = koffi.pointer('EVP_PKEY_CTX', opaque());
  fns = {
    BIO_new_mem_buf: lib.func('BIO_new_mem_buf', BIO, ['const uint8_t *', 'int']),
    BIO_free: lib.func('BIO_free', 'int', [BIO]),
    PEM_read_bio_PrivateKey: lib.func('PEM_read_bio_PrivateKey', PKEY, [BIO, 'void *', 'void *', 'void *']),
    EVP_PKEY_free: lib.func('EVP_PKEY_free', 'void', [PKEY]),
    EVP_PKEY_CTX_new: lib.func('EVP_PKEY_CTX_new', CTX, [PKEY, 'void *']),
    EVP_PKEY_CTX_free: lib.func('EVP_PKEY_CTX_free', 'void', [CTX]),
    EVP_PKEY_decrypt_init: lib.func('EVP_PKEY_decrypt_init', 'int', [CTX]),
    EVP_PKEY_CTX_set_rsa_padding: lib.func('EVP_PKEY_CTX_set_rsa_padding', 'int', [CTX, 'int']),
    EVP_PKEY_decrypt: lib.func('EVP_PKEY_decrypt', 'int', [CTX, 'uint8_t *', koffi.inout(koffi.pointer('size_t')), 'const uint8_t *', 'size_t']),
    ERR_clear_error: lib.func('ERR_clear_error', 'void', []),
  } as unknown as Fns;
  return fns;
}

const RSA_PKCS1_PADDING = 1;

/** Decrypts `ciphertext` with an RSA private key (PEM, PKCS#8 or PKCS#1). Returns undefined when it does not open. */
export function rsaPkcs1Decrypt(privateKeyPem: string, ciphertext: Buffer): Buffer | undefined {
  const f = load();
  const pem = Buffer.from(privateKeyPem);
  const bio = f.BIO_new_mem_buf(pem, pem.length);
  if (!bio) throw new Error('BIO_new_mem_buf failed');
  let pkey: unknown = null;
  let ctx: unknown = null;
  try {
    pkey = f.PEM_read_bio_PrivateKey(bio, null, null, null);
    if (!pkey) throw new Error('libcrypto could not read the private key');
    ctx = f.EVP_PKEY_CTX_new(pkey, null);
    if (!ctx || f.EVP_PKEY_decrypt_init(ctx) <= 0 || f.EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) {
      throw new Error('libcrypto could not set up RSA PKCS#1 decryption');
    }
    const out = Buffer.alloc(ciphertext.length);
    const outlen: [number] = [out.length];
    if (f.EVP_PKEY_decrypt(ctx, out, outlen, ciphertext, ciphertext.length) <= 0) return undefined;
    return out.subarray(0, outlen[0]);
  } finally {
    f.ERR_clear_error();
    clearNodeErrorQueue();
    if (ctx) f.EVP_PKEY_CTX_free(ctx);
    if (pkey) f.EVP_PKEY_free(pkey);
    f.BIO_free(bio);
  }
}
