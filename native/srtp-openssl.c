/*
 * OpenSSL backend of the SRTP engine: libcrypto's EVP contexts, created once per keyset and re-keyed only by IV
 * per packet. HMAC-SHA1 uses SHA1 states precomputed over the padded key (RFC 2104 §2), so a packet costs
 * two SHA1 runs over its own bytes instead of four (what HMAC_Init would redo each time).
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA1_Init/Update/Final: the one low-level API with no EVP equivalent */
#include <openssl/evp.h>
#include <openssl/sha.h>
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

static int ossl_init(sbd_keyset *ks, const uint8_t *k, int klen, const uint8_t *a, int alen, const uint8_t *f8key) {
  if (ks->cipher == SBD_CIPHER_GCM) {
    ks->evp_a = new_ctx(gcm_cipher(klen), k, 1);
    ks->evp_b = new_ctx(gcm_cipher(klen), k, 0);
    if (!ks->evp_a || !ks->evp_b) return SBD_E_CRYPTO;
    /* RFC 7714 §8.1: 12-octet IV */
    if (EVP_CIPHER_CTX_ctrl(ks->evp_a, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1) return SBD_E_CRYPTO;
    if (EVP_CIPHER_CTX_ctrl(ks->evp_b, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1) return SBD_E_CRYPTO;
  } else if (ks->cipher == SBD_CIPHER_CM) {
    ks->evp_a = new_ctx(ctr_cipher(klen), k, 1);
    if (!ks->evp_a) return SBD_E_CRYPTO;
  } else {
    ks->evp_a = new_ctx(ecb_cipher(klen), k, 1);
    ks->evp_c = new_ctx(ecb_cipher(klen), f8key, 1);
    if (!ks->evp_a || !ks->evp_c) return SBD_E_CRYPTO;
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
  ks->evp_a = ks->evp_b = ks->evp_c = NULL;
}

static int ossl_ctr_xor(sbd_keyset *ks, const uint8_t iv[16], uint8_t *buf, size_t len) {
  int outl;
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

static int ossl_gcm_seal(sbd_keyset *ks, const uint8_t iv[12], const uint8_t *aad, size_t aadlen, const uint8_t *aad2,
                         size_t aad2len, uint8_t *buf, size_t len, uint8_t tag[16]) {
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
