/*
 * Session ticket keys (RFC 5077 §4 format as OpenSSL writes it: 16-byte key name, AES-256-CBC, HMAC-SHA256).
 * OpenSSL's own default key is made once per SSL_CTX and never changes; here one key set serves every context the
 * engine builds (a certificate reload keeps resumption working) and rotates every `rotation_s` seconds: tickets
 * under the previous key still resume and are re-issued under the current one, older ones make a full handshake.
 * A ticket therefore lives at most two rotation periods (the lifetime hint says one).
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tls-internal.h"

typedef struct {
  uint8_t name[16], aes[32], hmac[32];
  int live;
} ticket_key;

struct sbd_tls_tickets {
  pthread_rwlock_t lock;
  uint32_t rotation_s;
  time_t rotated_at;
  ticket_key current, previous;
};

static int tickets_index = -1;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static void make_index(void) { tickets_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

static time_t now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

static int fresh(ticket_key *k) {
  k->live = RAND_bytes(k->name, 16) == 1 && RAND_priv_bytes(k->aes, 32) == 1 && RAND_priv_bytes(k->hmac, 32) == 1;
  return k->live;
}

sbd_tls_tickets *sbd_tls_tickets_new(uint32_t rotation_s) {
  sbd_tls_tickets *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  pthread_rwlock_init(&t->lock, NULL);
  t->rotation_s = rotation_s;
  t->rotated_at = now_s();
  if (!fresh(&t->current)) {
    sbd_tls_tickets_free(t);
    return NULL;
  }
  return t;
}

void sbd_tls_tickets_free(sbd_tls_tickets *t) {
  if (!t) return;
  pthread_rwlock_destroy(&t->lock);
  OPENSSL_cleanse(t, sizeof *t);
  free(t);
}

void sbd_tls_tickets_rotate(sbd_tls_tickets *t) {
  ticket_key next;
  if (!fresh(&next)) return; /* keep the current key rather than none */
  pthread_rwlock_wrlock(&t->lock);
  t->previous = t->current;
  t->current = next;
  t->rotated_at = now_s();
  pthread_rwlock_unlock(&t->lock);
  OPENSSL_cleanse(&next, sizeof next);
}

static int mac_init(EVP_MAC_CTX *hctx, const uint8_t *key) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key, 32),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
      OSSL_PARAM_construct_end(),
  };
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

/* SSL_CTX_set_tlsext_ticket_key_evp_cb: 1 = use (encrypt, or decrypt with the current key), 2 = decrypted with the
 * previous key or in TLS 1.3 (OpenSSL then issues a new ticket), 0 = unknown key (full handshake), -1 = error. */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx, int enc) {
  sbd_tls_tickets *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), tickets_index);
  if (!t) return -1;
  if (t->rotation_s > 0 && now_s() - t->rotated_at >= (time_t)t->rotation_s) {
    pthread_rwlock_rdlock(&t->lock);
    int due = now_s() - t->rotated_at >= (time_t)t->rotation_s; /* another thread may have rotated meanwhile */
    pthread_rwlock_unlock(&t->lock);
    if (due) sbd_tls_tickets_rotate(t);
  }
  int rc = -1;
  pthread_rwlock_rdlock(&t->lock);
  if (enc) {
    const ticket_key *k = &t->current;
    memcpy(name, k->name, 16);
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) == 1 && EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 &&
        mac_init(hctx, k->hmac))
      rc = 1;
  } else {
    const ticket_key *k = memcmp(name, t->current.name, 16) == 0                      ? &t->current
                          : t->previous.live && memcmp(name, t->previous.name, 16) == 0 ? &t->previous
                                                                                       : NULL;
    if (!k) rc = 0;
    else if (mac_init(hctx, k->hmac) && EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1)
      /* TLS 1.3 tickets are single-use (RFC 8446 §C.4; OpenSSL's client spends one per resumption): renew on
       * every TLS 1.3 resumption, as OpenSSL does without a callback, or such a client resumes every other time. */
      rc = k == &t->current && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
  }
  pthread_rwlock_unlock(&t->lock);
  return rc;
}

int sbd_tls_tickets_install(sbd_tls_tickets *t, SSL_CTX *ctx) {
  pthread_once(&index_once, make_index);
  if (tickets_index < 0 || !SSL_CTX_set_ex_data(ctx, tickets_index, t)) return 0;
  if (t->rotation_s > 0) SSL_CTX_set_timeout(ctx, (long)t->rotation_s);
  return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) == 1;
}
