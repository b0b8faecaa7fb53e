/*
 * One SSL_CTX from what the daemon gives (the same inputs node:tls gets from src/lib/tls-service.ts): certificate
 * chain and key in PEM, the TLS 1.2 cipher list and TLS 1.3 suites, the lowest version, and optionally the CA
 * certificates client certificates must chain to. Policy fixed here, as node:tls has it today: server cipher
 * order, no renegotiation (RFC 5746 is moot), no compression, ECDHE groups OpenSSL's default.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>
#include "tls-internal.h"

static void ssl_reason(char *err, int errlen, const char *what) {
  unsigned long e = ERR_peek_last_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  sbd_tls_err(err, errlen, "%s: %s", what, e ? buf : "no detail");
  ERR_clear_error();
}

static int use_chain(SSL_CTX *ctx, const char *pem) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  if (!bio) return 0;
  X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  int ok = leaf && SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  for (X509 *x; ok && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL));)
    if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
      X509_free(x);
      ok = 0;
    }
  ERR_clear_error(); /* the end of the PEM stream reads as an error */
  BIO_free(bio);
  return ok;
}

static int use_key(SSL_CTX *ctx, const char *pem) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  if (!bio) return 0;
  EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  int ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(key);
  BIO_free(bio);
  return ok;
}

/* Admit a certificate that does not verify; the result stays in SSL_get_verify_result for the daemon to judge. */
static int admit_unverified(int preverify_ok, X509_STORE_CTX *store) {
  (void)preverify_ok;
  (void)store;
  return 1;
}

/* Client certificates: verified against these CAs, whose names go in the CertificateRequest (RFC 8446 §4.3.2). */
static int use_client_cas(SSL_CTX *ctx, const char *pem, int flags) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  int n = 0;
  for (X509 *x; bio && names && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)); X509_free(x)) {
    X509_NAME *name = X509_NAME_dup(X509_get_subject_name(x));
    if (!name || X509_STORE_add_cert(store, x) != 1 || !sk_X509_NAME_push(names, name)) {
      X509_NAME_free(name);
      n = -1;
      X509_free(x);
      break;
    }
    n++;
  }
  ERR_clear_error();
  BIO_free(bio);
  if (n <= 0) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    return 0;
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (flags & SBD_TLS_REQUIRE_CERT ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                     flags & SBD_TLS_ADMIT_UNVERIFIED ? admit_unverified : NULL);
  return 1;
}

SSL_CTX *sbd_tls_context_new(const sbd_tls_identity *id, sbd_tls_tickets *tickets, char *err, int errlen) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    ssl_reason(err, errlen, "SSL_CTX_new");
    return NULL;
  }
  static const unsigned char sid_ctx[] = "sbd-tls";
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
                               (id->ktls ? SSL_OP_ENABLE_KTLS : 0));
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  /* A flight's records in one read() instead of two each (header, then body): a full handshake with a SIP
   * registration read ~29 times, ~12 of them for that. Not with kTLS: OpenSSL moves the receive side into the
   * kernel only when nothing is read ahead. */
  if (!id->ktls) SSL_CTX_set_read_ahead(ctx, 1);
  const char *fail = NULL;
  if (SSL_CTX_set_min_proto_version(ctx, id->min_version) != 1 || SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
    fail = "TLS version";
  else if (SSL_CTX_set_cipher_list(ctx, id->ciphers) != 1)
    fail = "TLS 1.2 cipher list";
  else if (SSL_CTX_set_ciphersuites(ctx, id->suites) != 1)
    fail = "TLS 1.3 suites";
  else if (!use_chain(ctx, id->cert_pem))
    fail = "certificate";
  else if (!use_key(ctx, id->key_pem))
    fail = "private key";
  else if (id->ca_pem && *id->ca_pem && !use_client_cas(ctx, id->ca_pem, id->client_flags))
    fail = "client CA certificates";
  else if (SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1) != 1)
    fail = "session id context";
  else if (!sbd_tls_tickets_install(tickets, ctx))
    fail = "session tickets";
  else if (SSL_CTX_set_num_tickets(ctx, 1) != 1) /* TLS 1.3: a phone resumes with one; OpenSSL's default sends two */
    fail = "session ticket count";
  if (fail) {
    ssl_reason(err, errlen, fail);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

/* X509_verify_cert with every error let through (admit_unverified): the verdict is the last error. */
static int verify_to_the_end(X509_STORE_CTX *store, void *arg) {
  (void)arg;
  X509_verify_cert(store);
  return X509_STORE_CTX_get_error(store) == X509_V_OK;
}

SSL_CTX *sbd_tls_client_context_new(const sbd_tls_identity *id, X509_STORE *trust, char *err, int errlen) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    ssl_reason(err, errlen, "SSL_CTX_new");
    return NULL;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* as node:tls's dial: no session given, none kept */
  SSL_CTX_set1_cert_store(ctx, trust);
  /* The chain and the name (SSL_set1_host, X509_VERIFY_PARAM_set1_ip_asc) are verified as node:tls does, every
   * error let through to the end and the last one kept, so both paths name the same error (a lone leaf from an
   * unknown CA: "unable to verify the first certificate", not the first met, "unable to get local issuer
   * certificate"); then, unlike node:tls, which finishes the handshake and closes, the handshake fails there:
   * a peer that does not verify never sees it complete (in TLS 1.2 node:tls's peer does). */
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, admit_unverified);
  SSL_CTX_set_cert_verify_callback(ctx, verify_to_the_end, NULL);
  const char *fail = NULL;
  if (SSL_CTX_set_min_proto_version(ctx, id->min_version) != 1 || SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
    fail = "TLS version";
  else if (SSL_CTX_set_cipher_list(ctx, id->ciphers) != 1)
    fail = "TLS 1.2 cipher list";
  else if (SSL_CTX_set_ciphersuites(ctx, id->suites) != 1)
    fail = "TLS 1.3 suites";
  else if (!use_chain(ctx, id->cert_pem))
    fail = "client certificate";
  else if (!use_key(ctx, id->key_pem))
    fail = "client private key";
  if (fail) {
    ssl_reason(err, errlen, fail);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}
