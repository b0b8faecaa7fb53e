/*
 * OpenSSL backend of the SRTP engine, all crypto from libcrypto:
 *  - AES keystream (RFC 3711 §4.1.1 AES-CM; the CTR half of GCM, NIST SP 800-38D §6.5) as AES-ECB over the
 *    packet's counter blocks in one EVP call on a context keyed once. An EVP CTR context would need its IV
 *    re-initialised per packet, which in OpenSSL 3 costs more than encrypting a 160-byte payload.
 *  - GCM: libcrypto's GCM128 (GHASH with PCLMUL, tag) fed that keystream, instead of five EVP calls per packet.
 *  - HMAC-SHA1 from SHA1 states precomputed over the padded key (RFC 2104 §2): two SHA1 runs per packet.
 * Counter blocks and the keystream XOR are vector loops (srtp-bytes.c). Packets longer than SBD_KS_BLOCKS
 * blocks fall back to EVP CTR/GCM contexts (same bytes); for GCM these run on libcrypto's built-in stitched
 * AES-NI+PCLMULQDQ tables without the provider layer where libcrypto allows it (srtp-builtin-gcm.c).
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA1_Init/Update/Final: the one low-level API with no EVP equivalent */
#include <openssl/evp.h>
#include <openssl/modes.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include "srtp.h"

_Static_assert(sizeof(SHA_CTX) <= 128, "SHA_CTX fits the keyset");

static const EVP_CIPHER *ctr_cipher(int klen) {
  return klen == 16 ? EVP_aes_128_ctr() : klen == 24 ? EVP_aes_192_ctr() : EVP_aes_256_ctr();
}
static const EVP_CIPHER *ecb_cipher(int klen) {
  return klen == 16 ? EVP_aes_128_ecb() : klen == 24 ? EVP_aes_192_ecb() : EVP_aes_256_ecb();
}
static const EVP_CIPHER *gcm_cipher(int klen) { return klen == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(); }

static EVP_CIPHER_CTX *new_ctx(const EVP_CIPHER *c, const uint8_t *k, int enc) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return NULL;
  if (EVP_CipherInit_ex(ctx, c, NULL, k, NULL, enc) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  return ctx;
}

/* Keystream blocks E(k, ctr0 + j), j = 0..n-1 (srtp-bytes.c writes the counter blocks). */
static int keystream(sbd_keyset *ks, const uint8_t ctr0[16], int n, uint8_t *out) {
  sbd_counter_blocks(ctr0, n, out);
  int outl;
  return EVP_EncryptUpdate(ks->evp_ecb, out, &outl, out, 16 * n) == 1 ? 0 : SBD_E_CRYPTO;
}

/* GCM128 callbacks. `key` is the keyset. During key setup (H = E(k, 0)) they encrypt for real; per packet the
 * keystream for counters J0 .. J0+n is already in ks->ks, so they look blocks up by counter. */
static void gcm_block(const unsigned char in[16], unsigned char out[16], const void *key) {
  sbd_keyset *ks = (sbd_keyset *)key;
  if (ks->ks_live) {
    int outl;
    EVP_EncryptUpdate(ks->evp_ecb, out, &outl, in, 16);
    return;
  }
  uint32_t c = (uint32_t)in[12] << 24 | (uint32_t)in[13] << 16 | (uint32_t)in[14] << 8 | in[15];
  memcpy(out, ks->ks + 16 * (size_t)(c - 1), 16); /* J0 has counter 1 (96-bit IV, SP 800-38D §7.1) */
}

static void gcm_stream(const unsigned char *in, unsigned char *out, size_t blocks, const void *key,
                       const unsigned char ivec[16]) {
  const sbd_keyset *ks = (const sbd_keyset *)key;
  uint32_t c = (uint32_t)ivec[12] << 24 | (uint32_t)ivec[13] << 16 | (uint32_t)ivec[14] << 8 | ivec[15];
  sbd_xor_bytes(out, in, ks->ks + 16 * (size_t)(c - 1), 16 * blocks);
}

static int ossl_init(sbd_keyset *ks, const uint8_t *k, int klen, const uint8_t *a, int alen, const uint8_t *f8key) {
  sbd_bytes_init();
  if (ks->cipher == SBD_CIPHER_GCM) {
    if (!ks->gcm_provider_only) {
      ks->evp_a = sbd_builtin_gcm_new(klen, k, 1);
      ks->evp_b = sbd_builtin_gcm_new(klen, k, 0);
      ks->gcm_builtin = ks->evp_a && ks->evp_b;
    }
    if (!ks->gcm_builtin) {
      EVP_CIPHER_CTX_free(ks->evp_a);
      EVP_CIPHER_CTX_free(ks->evp_b);
      ks->evp_a = new_ctx(gcm_cipher(klen), k, 1);
      ks->evp_b = new_ctx(gcm_cipher(klen), k, 0);
      if (!ks->evp_a || !ks->evp_b) return SBD_E_CRYPTO;
      /* RFC 7714 §8.1: 12-octet IV */
      if (EVP_CIPHER_CTX_ctrl(ks->evp_a, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1) return SBD_E_CRYPTO;
      if (EVP_CIPHER_CTX_ctrl(ks->evp_b, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1) return SBD_E_CRYPTO;
    }
  } else if (ks->cipher == SBD_CIPHER_CM) {
    ks->evp_a = new_ctx(ctr_cipher(klen), k, 1);
    if (!ks->evp_a) return SBD_E_CRYPTO;
  } else {
    ks->evp_a = new_ctx(ecb_cipher(klen), k, 1);
    ks->evp_c = new_ctx(ecb_cipher(klen), f8key, 1);
    if (!ks->evp_a || !ks->evp_c) return SBD_E_CRYPTO;
  }
  if (ks->cipher != SBD_CIPHER_F8) {
    ks->evp_ecb = new_ctx(ecb_cipher(klen), k, 1);
    ks->ks = malloc(16 * SBD_KS_BLOCKS);
    if (!ks->evp_ecb || !ks->ks) return SBD_E_CRYPTO;
  }
  if (ks->cipher == SBD_CIPHER_GCM) {
    ks->ks_live = 1;
    ks->gcm128 = CRYPTO_gcm128_new(ks, gcm_block);
    ks->ks_live = 0;
    if (!ks->gcm128) return SBD_E_CRYPTO;
  }
  if (a && alen > 0) {
    uint8_t pad[64];
    SHA_CTX *in = (SHA_CTX *)ks->sha_inner, *out = (SHA_CTX *)ks->sha_outer;
    if (alen > 64) return SBD_E_PARAM;
    memset(pad, 0x36, sizeof pad);
    for (int i = 0; i < alen; i++) pad[i] ^= a[i];
    SHA1_Init(in);
    SHA1_Update(in, pad, 64);
    memset(pad, 0x5c, sizeof pad);
    for (int i = 0; i < alen; i++) pad[i] ^= a[i];
    SHA1_Init(out);
    SHA1_Update(out, pad, 64);
  }
  return 0;
}

static void ossl_release(sbd_keyset *ks) {
  EVP_CIPHER_CTX_free(ks->evp_a);
  EVP_CIPHER_CTX_free(ks->evp_b);
  EVP_CIPHER_CTX_free(ks->evp_c);
  EVP_CIPHER_CTX_free(ks->evp_ecb);
  if (ks->gcm128) CRYPTO_gcm128_release(ks->gcm128);
  if (ks->ks) {
    memset(ks->ks, 0, 16 * SBD_KS_BLOCKS);
    free(ks->ks);
  }
  ks->evp_a = ks->evp_b = ks->evp_c = ks->evp_ecb = ks->gcm128 = NULL;
  ks->gcm_builtin = 0;
  ks->ks = NULL;
}

static int ossl_ctr_xor(sbd_keyset *ks, const uint8_t iv[16], uint8_t *buf, size_t len) {
  int outl;
  size_t n = (len + 15) / 16;
  if (n <= SBD_KS_BLOCKS) {
    if (keystream(ks, iv, (int)n, ks->ks)) return SBD_E_CRYPTO;
    sbd_xor_bytes(buf, buf, ks->ks, len);
    return 0;
  }
  if (EVP_EncryptInit_ex(ks->evp_a, NULL, NULL, NULL, iv) != 1) return SBD_E_CRYPTO;
  if (len && EVP_EncryptUpdate(ks->evp_a, buf, &outl, buf, (int)len) != 1) return SBD_E_CRYPTO;
  return 0;
}

static int ossl_ecb_block(sbd_keyset *ks, int masked, const uint8_t in[16], uint8_t out[16]) {
  int outl;
  return EVP_EncryptUpdate(masked ? ks->evp_c : ks->evp_a, out, &outl, in, 16) == 1 ? 0 : SBD_E_CRYPTO;
}

static int ossl_hmac(sbd_keyset *ks, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[20]) {
  SHA_CTX c;
  uint8_t inner[20];
  memcpy(&c, ks->sha_inner, sizeof c);
  SHA1_Update(&c, a, alen);
  if (blen) SHA1_Update(&c, b, blen);
  SHA1_Final(inner, &c);
  memcpy(&c, ks->sha_outer, sizeof c);
  SHA1_Update(&c, inner, 20);
  SHA1_Final(out, &c);
  return 0;
}

/* Prepares GCM128 for one packet: keystream for J0 .. J0+n, IV, AAD. */
static int gcm_begin(sbd_keyset *ks, const uint8_t iv[12], const uint8_t *aad, size_t aadlen, const uint8_t *aad2,
                     size_t aad2len, size_t len) {
  /* J0 = IV || 0^31 || 1 (SP 800-38D §7.1), copied as 8 + 4 + 4 octets (see sbd_counter_blocks) */
  uint8_t j0[16];
  const uint32_t one_be = __builtin_bswap32(1);
  memcpy(j0, iv, 8), memcpy(j0 + 8, iv + 8, 4), memcpy(j0 + 12, &one_be, 4);
  if (keystream(ks, j0, (int)((len + 15) / 16) + 1, ks->ks)) return SBD_E_CRYPTO;
  CRYPTO_gcm128_setiv(ks->gcm128, iv, 12);
  if (CRYPTO_gcm128_aad(ks->gcm128, aad, aadlen)) return SBD_E_CRYPTO;
  if (aad2len && CRYPTO_gcm128_aad(ks->gcm128, aad2, aad2len)) return SBD_E_CRYPTO;
  return 0;
}

/* The built-in GCM tables (srtp-builtin-gcm.c) through EVP_Cipher: out NULL = AAD, in NULL = finish. */
static int builtin_seal(EVP_CIPHER_CTX *c, const uint8_t iv[12], const uint8_t *aad, size_t aadlen,
                        const uint8_t *aad2, size_t aad2len, uint8_t *buf, size_t len, uint8_t tag[16]) {
  if (EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, -1) != 1) return SBD_E_CRYPTO;
  if (EVP_Cipher(c, NULL, aad, (unsigned)aadlen) < 0) return SBD_E_CRYPTO;
  if (aad2len && EVP_Cipher(c, NULL, aad2, (unsigned)aad2len) < 0) return SBD_E_CRYPTO;
  if (len && EVP_Cipher(c, buf, buf, (unsigned)len) < 0) return SBD_E_CRYPTO;
  if (EVP_Cipher(c, NULL, NULL, 0) < 0) return SBD_E_CRYPTO;
  return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1 ? 0 : SBD_E_CRYPTO;
}

static int builtin_open(EVP_CIPHER_CTX *c, const uint8_t iv[12], const uint8_t *aad, size_t aadlen,
                        const uint8_t *aad2, size_t aad2len, uint8_t *buf, size_t len, const uint8_t tag[16]) {
  if (EVP_CipherInit_ex(c, NULL, NULL, NULL, iv, -1) != 1) return SBD_E_CRYPTO;
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, (void *)tag) != 1) return SBD_E_CRYPTO;
  if (EVP_Cipher(c, NULL, aad, (unsigned)aadlen) < 0) return SBD_E_CRYPTO;
  if (aad2len && EVP_Cipher(c, NULL, aad2, (unsigned)aad2len) < 0) return SBD_E_CRYPTO;
  if (len && EVP_Cipher(c, buf, buf, (unsigned)len) < 0) return SBD_E_CRYPTO;
  /* the finish compares the tag in constant time (CRYPTO_gcm128_finish) */
  return EVP_Cipher(c, NULL, NULL, 0) < 0 ? SBD_E_AUTH : 0;
}

/* Payloads whose keystream does not fit in ks->ks take an EVP context: the built-in stitched GCM tables when
 * available (no provider round trips), else the provider's. */
static int use_builtin(const sbd_keyset *ks, size_t len) {
  return ks->gcm_builtin && (len + 15) / 16 + 1 > SBD_KS_BLOCKS;
}

static int ossl_gcm_seal(sbd_keyset *ks, const uint8_t iv[12], const uint8_t *aad, size_t aadlen, const uint8_t *aad2,
                         size_t aad2len, uint8_t *buf, size_t len, uint8_t tag[16]) {
  if (use_builtin(ks, len)) return builtin_seal(ks->evp_a, iv, aad, aadlen, aad2, aad2len, buf, len, tag);
  if ((len + 15) / 16 + 1 <= SBD_KS_BLOCKS) {
    int rc = gcm_begin(ks, iv, aad, aadlen, aad2, aad2len, len);
    if (rc) return rc;
    if (len && CRYPTO_gcm128_encrypt_ctr32(ks->gcm128, buf, buf, len, gcm_stream)) return SBD_E_CRYPTO;
    CRYPTO_gcm128_tag(ks->gcm128, tag, 16);
    return 0;
  }
  EVP_CIPHER_CTX *c = ks->evp_a;
  int outl;
  uint8_t fin[16];
  if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv) != 1) return SBD_E_CRYPTO;
  if (EVP_EncryptUpdate(c, NULL, &outl, aad, (int)aadlen) != 1) return SBD_E_CRYPTO;
  if (aad2len && EVP_EncryptUpdate(c, NULL, &outl, aad2, (int)aad2len) != 1) return SBD_E_CRYPTO;
  if (len && EVP_EncryptUpdate(c, buf, &outl, buf, (int)len) != 1) return SBD_E_CRYPTO;
  if (EVP_EncryptFinal_ex(c, fin, &outl) != 1) return SBD_E_CRYPTO;
  return EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1 ? 0 : SBD_E_CRYPTO;
}

static int ossl_gcm_open(sbd_keyset *ks, const uint8_t iv[12], const uint8_t *aad, size_t aadlen, const uint8_t *aad2,
                         size_t aad2len, uint8_t *buf, size_t len, const uint8_t tag[16]) {
  if (use_builtin(ks, len)) return builtin_open(ks->evp_b, iv, aad, aadlen, aad2, aad2len, buf, len, tag);
  if ((len + 15) / 16 + 1 <= SBD_KS_BLOCKS) {
    int rc = gcm_begin(ks, iv, aad, aadlen, aad2, aad2len, len);
    if (rc) return rc;
    if (len && CRYPTO_gcm128_decrypt_ctr32(ks->gcm128, buf, buf, len, gcm_stream)) return SBD_E_CRYPTO;
    return CRYPTO_gcm128_finish(ks->gcm128, tag, 16) == 0 ? 0 : SBD_E_AUTH; /* constant-time compare inside */
  }
  EVP_CIPHER_CTX *c = ks->evp_b;
  int outl;
  uint8_t fin[16];
  if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, iv) != 1) return SBD_E_CRYPTO;
  if (EVP_DecryptUpdate(c, NULL, &outl, aad, (int)aadlen) != 1) return SBD_E_CRYPTO;
  if (aad2len && EVP_DecryptUpdate(c, NULL, &outl, aad2, (int)aad2len) != 1) return SBD_E_CRYPTO;
  if (len && EVP_DecryptUpdate(c, buf, &outl, buf, (int)len) != 1) return SBD_E_CRYPTO;
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) != 1) return SBD_E_CRYPTO;
  return EVP_DecryptFinal_ex(c, fin, &outl) == 1 ? 0 : SBD_E_AUTH;
}

const sbd_backend_ops sbd_openssl_ops = {
    ossl_init, ossl_release, ossl_ctr_xor, ossl_ecb_block, ossl_hmac, ossl_gcm_seal, ossl_gcm_open,
};
