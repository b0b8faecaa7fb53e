/*
 * AES-GCM contexts dispatched straight to libcrypto's built-in GCM code, for the OpenSSL backend's longer
 * packets (srtp-openssl.c).
 *
 * Why: an EVP context on OpenSSL 3's default provider pays, per packet, an IV re-initialisation that queries
 * the IV length through OSSL_PARAM (string compares), one provider round trip per update, and a parameter
 * query for the tag — about 90 ns of a 440 ns 1,200-byte packet. libcrypto 3.0 still carries its pre-provider
 * EVP_CIPHER method tables: EVP_aes_128_gcm() returns one, whose cipher function runs the same AES-NI +
 * PCLMULQDQ "stitched" GCM assembly the provider uses (one pass for the counter mode and GHASH). A context
 * uses such a table directly — EVP_Cipher calls its cipher function, EVP_CIPHER_CTX_ctrl its control
 * function — when it is bound to an ENGINE that offers it. This file makes one private ENGINE whose ciphers
 * are exactly libcrypto's own AES-128/256-GCM tables. It is never added to the global engine list, so nothing
 * else in the process can pick it up. Same library code, same bytes; only the dispatch differs.
 *
 * Where libcrypto has no engine support (OPENSSL_NO_ENGINE, OpenSSL 4) or the setup fails, sbd_builtin_gcm_new
 * returns NULL and the caller keeps provider contexts.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* the ENGINE API: the one door to the built-in method tables */
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/opensslconf.h>
#include <pthread.h>
#include "srtp.h"

#ifndef OPENSSL_NO_ENGINE
#include <openssl/engine.h>

static ENGINE *builtin_engine;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;
static const int BUILTIN_NIDS[] = {NID_aes_128_gcm, NID_aes_256_gcm};

/* ENGINE cipher callback (ENGINE_set_ciphers(3)): list the NIDs, or hand out the table for one. */
static int builtin_ciphers(ENGINE *e, const EVP_CIPHER **cipher, const int **nids, int nid) {
  (void)e;
  if (!cipher) {
    *nids = BUILTIN_NIDS;
    return (int)(sizeof BUILTIN_NIDS / sizeof BUILTIN_NIDS[0]);
  }
  *cipher = nid == NID_aes_128_gcm ? EVP_aes_128_gcm() : nid == NID_aes_256_gcm ? EVP_aes_256_gcm() : NULL;
  return *cipher != NULL;
}

static void builtin_setup(void) {
  ENGINE *e = ENGINE_new();
  if (!e) return;
  if (ENGINE_set_id(e, "sbd-srtp-builtin-gcm") && ENGINE_set_name(e, "libcrypto built-in AES-GCM (sbd SRTP)") &&
      ENGINE_set_ciphers(e, builtin_ciphers) && ENGINE_init(e)) {
    builtin_engine = e; /* kept for the life of the process: every context holds a reference anyway */
    return;
  }
  ENGINE_free(e);
}

void *sbd_builtin_gcm_new(int klen, const uint8_t *k, int enc) {
  if (klen != 16 && klen != 32) return NULL;
  pthread_once(&builtin_once, builtin_setup);
  if (!builtin_engine) return NULL;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return NULL;
  const EVP_CIPHER *c = klen == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
  /* the default IV length of these tables is 12 octets, the RFC 7714 §8.1 IV */
  /* only a context on the built-in table (no provider) has the EVP_Cipher semantics the caller relies on */
  if (EVP_CipherInit_ex(ctx, c, builtin_engine, k, NULL, enc) != 1 || EVP_CIPHER_CTX_get0_cipher(ctx) == NULL ||
      EVP_CIPHER_get0_provider(EVP_CIPHER_CTX_get0_cipher(ctx)) != NULL || EVP_CIPHER_CTX_get_iv_length(ctx) != 12) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

#else

void *sbd_builtin_gcm_new(int klen, const uint8_t *k, int enc) {
  (void)klen, (void)k, (void)enc;
  return NULL;
}

#endif
