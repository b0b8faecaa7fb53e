/*
 * The engine's client side (the SIP trunk dial-out, issue 20 item 3): trust bundles and their client SSL_CTXs,
 * Node's DIAL frame turned into a non-blocking connect and an SSL in connect state, and the DIAL_ERROR report.
 * tls-worker.c runs the connection from there on as an accepted one (deadline, handshake, relay, close).
 *
 * A trunk's CA bundle can be larger than a frame (the system's is ~200 KiB), so Node registers it first
 * (sbd_tls_engine_trust, cached by its SHA-256) and the DIAL frame names it by the id it got. Each bundle keeps one
 * X509_STORE; its SSL_CTX is rebuilt when the identity (the CallManager certificate, versions, suites) changed.
 * At most SBD_TLS_TRUST_MAX bundles are kept; past that the least recently used one is dropped (a DIAL naming it
 * fails with a clear reason; Node registers right before each dial, so only a storm of new bundles meets that).
 *
 * Name check as node:tls's checkServerIdentity: the name Node gives (the servername, else the target) against
 * the certificate's DNS names (CN only when there are none, wildcards in the leftmost label, partial allowed:
 * X509_check_host's defaults), an IP literal against its IP addresses only; SNI carries names only (RFC 6066 §3).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tls-internal.h"

#define SBD_TLS_TRUST_MAX 64

typedef struct {
  uint32_t id; /* 0: free */
  uint8_t hash[32];
  X509_STORE *store;
  SSL_CTX *ctx; /* for identity generation `gen`; NULL until the first dial */
  uint32_t gen;
  uint64_t used;
} trust;

struct sbd_tls_dialer {
  pthread_mutex_t lock;
  char *cert, *key, *ciphers, *suites; /* the identity and policy client contexts are made with */
  int min_version;
  uint32_t gen, next_id;
  uint64_t clock;
  trust t[SBD_TLS_TRUST_MAX];
};

sbd_tls_dialer *sbd_tls_dialer_new(void) {
  sbd_tls_dialer *d = calloc(1, sizeof *d);
  if (d) pthread_mutex_init(&d->lock, NULL);
  return d;
}

static void drop(trust *t) {
  X509_STORE_free(t->store);
  SSL_CTX_free(t->ctx);
  memset(t, 0, sizeof *t);
}

static void forget_identity(sbd_tls_dialer *d) {
  free(d->cert);
  free(d->key);
  free(d->ciphers);
  free(d->suites);
  d->cert = d->key = d->ciphers = d->suites = NULL;
}

void sbd_tls_dialer_free(sbd_tls_dialer *d) {
  if (!d) return;
  for (int i = 0; i < SBD_TLS_TRUST_MAX; i++) drop(&d->t[i]);
  forget_identity(d);
  pthread_mutex_destroy(&d->lock);
  free(d);
}

int sbd_tls_dialer_identity(sbd_tls_dialer *d, const sbd_tls_identity *id) {
  char *cert = strdup(id->cert_pem), *key = strdup(id->key_pem), *ciphers = strdup(id->ciphers), *suites = strdup(id->suites);
  if (!cert || !key || !ciphers || !suites) {
    free(cert);
    free(key);
    free(ciphers);
    free(suites);
    return -1;
  }
  pthread_mutex_lock(&d->lock);
  forget_identity(d);
  d->cert = cert;
  d->key = key;
  d->ciphers = ciphers;
  d->suites = suites;
  d->min_version = id->min_version;
  d->gen++; /* every client context is rebuilt on its next dial; open connections keep theirs */
  pthread_mutex_unlock(&d->lock);
  return 0;
}

static X509_STORE *store_of(const char *pem, char *err, int errlen) {
  X509_STORE *store = X509_STORE_new();
  BIO *bio = BIO_new_mem_buf(pem, -1);
  int n = 0;
  for (X509 *x; store && bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)); X509_free(x))
    if (X509_STORE_add_cert(store, x) == 1) n++;
  ERR_clear_error(); /* the end of the PEM stream reads as an error; a duplicate certificate too */
  BIO_free(bio);
  if (n == 0) {
    sbd_tls_err(err, errlen, "the CA bundle holds no certificate");
    X509_STORE_free(store);
    return NULL;
  }
  return store;
}

int sbd_tls_dialer_trust(sbd_tls_dialer *d, const char *ca_pem, char *err, int errlen) {
  uint8_t hash[32];
  unsigned int hlen = 0;
  if (EVP_Digest(ca_pem, strlen(ca_pem), hash, &hlen, EVP_sha256(), NULL) != 1) {
    sbd_tls_err(err, errlen, "SHA-256 of the CA bundle failed");
    return -1;
  }
  pthread_mutex_lock(&d->lock);
  for (int i = 0; i < SBD_TLS_TRUST_MAX; i++) {
    trust *t = &d->t[i];
    if (t->id && memcmp(t->hash, hash, 32) == 0) {
      t->used = ++d->clock;
      int id = (int)t->id;
      pthread_mutex_unlock(&d->lock);
      return id;
    }
  }
  pthread_mutex_unlock(&d->lock);
  /* Parsed outside the lock (the system bundle takes a while); only Node's thread registers bundles. */
  X509_STORE *store = store_of(ca_pem, err, errlen);
  if (!store) return -1;
  pthread_mutex_lock(&d->lock);
  trust *t = NULL;
  for (int i = 0; i < SBD_TLS_TRUST_MAX; i++)
    if (!d->t[i].id) {
      t = &d->t[i];
      break;
    }
  if (!t) { /* full: the least recently used goes */
    t = &d->t[0];
    for (int i = 1; i < SBD_TLS_TRUST_MAX; i++)
      if (d->t[i].used < t->used) t = &d->t[i];
    drop(t);
  }
  if (++d->next_id > 0x7fffffff) d->next_id = 1;
  t->id = d->next_id;
  memcpy(t->hash, hash, 32);
  t->store = store;
  t->used = ++d->clock;
  int id = (int)t->id;
  pthread_mutex_unlock(&d->lock);
  return id;
}

/* The client SSL_CTX for trust `id` under the current identity, with a reference for the caller; NULL and why. */
static SSL_CTX *client_ctx(sbd_tls_dialer *d, uint32_t id, char *reason, int cap) {
  pthread_mutex_lock(&d->lock);
  trust *t = NULL;
  for (int i = 0; i < SBD_TLS_TRUST_MAX && !t; i++)
    if (d->t[i].id == id && id) t = &d->t[i];
  SSL_CTX *ctx = NULL;
  if (!t) {
    sbd_tls_err(reason, cap, "the CA bundle is no longer loaded (more than %d in use)", SBD_TLS_TRUST_MAX);
  } else if (!d->cert) {
    sbd_tls_err(reason, cap, "no identity set");
  } else {
    if (!t->ctx || t->gen != d->gen) {
      sbd_tls_identity idn = {d->cert, d->key, "", d->ciphers, d->suites, d->min_version, 0, 0};
      SSL_CTX *fresh = sbd_tls_client_context_new(&idn, t->store, reason, cap);
      if (fresh) {
        SSL_CTX_free(t->ctx);
        t->ctx = fresh;
        t->gen = d->gen;
      }
    }
    if (t->ctx && t->gen == d->gen && SSL_CTX_up_ref(t->ctx) == 1) ctx = t->ctx;
    t->used = ++d->clock;
  }
  pthread_mutex_unlock(&d->lock);
  return ctx;
}

/* `n` space-separated fields of the DIAL payload, each NUL-terminated in `buf`. */
static int fields(const uint8_t *p, uint32_t len, char *buf, size_t cap, char **f, int n) {
  if (len >= cap) return -1;
  memcpy(buf, p, len);
  buf[len] = 0;
  int k = 0;
  for (char *s = buf, *save = NULL, *tok; k < n && (tok = strtok_r(s, " ", &save)); s = NULL) f[k++] = tok;
  return k == n ? 0 : -1;
}

sbd_tls_conn *sbd_tls_dial_start(sbd_tls_dialer *d, const uint8_t *p, uint32_t len, sbd_tls_dial_info *info) {
  char buf[1024], *f[7];
  info->tag = 0;
  info->err_no = 0;
  snprintf(info->remote, sizeof info->remote, "? 0");
  /* "tag address port name sni trust timeout_ms": name is what the certificate must carry, sni "-" for none */
  if (fields(p, len, buf, sizeof buf, f, 7) != 0) {
    sbd_tls_err(info->reason, sizeof info->reason, "malformed dial request");
    return NULL;
  }
  info->tag = (uint32_t)strtoul(f[0], NULL, 10);
  snprintf(info->remote, sizeof info->remote, "%s %s", f[1], f[2]);
  info->timeout_ms = (uint32_t)strtoul(f[6], NULL, 10);
  struct sockaddr_storage sa = {0};
  socklen_t salen;
  struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;
  unsigned long port = strtoul(f[2], NULL, 10);
  if (port == 0 || port > 65535) {
    sbd_tls_err(info->reason, sizeof info->reason, "bad port %s", f[2]);
    return NULL;
  }
  if (inet_pton(AF_INET, f[1], &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    salen = sizeof *s4;
  } else if (inet_pton(AF_INET6, f[1], &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    salen = sizeof *s6;
  } else {
    sbd_tls_err(info->reason, sizeof info->reason, "not an IP address: %s", f[1]);
    return NULL;
  }
  SSL_CTX *ctx = client_ctx(d, (uint32_t)strtoul(f[5], NULL, 10), info->reason, sizeof info->reason);
  if (!ctx) return NULL;
  sbd_tls_conn *c = calloc(1, sizeof *c);
  SSL *ssl = c ? SSL_new(ctx) : NULL;
  SSL_CTX_free(ctx); /* the SSL holds its own reference */
  int fd = ssl ? socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
  if (fd < 0) {
    info->err_no = ssl ? errno : 0;
    sbd_tls_err(info->reason, sizeof info->reason, "%s", ssl ? strerror(errno) : "out of memory");
    goto fail;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as an accepted connection (tls-worker.c) */
  const char *name = f[3];
  unsigned char ip[16];
  int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
  if (SSL_set_fd(ssl, fd) != 1 || (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) : SSL_set1_host(ssl, name)) != 1 ||
      (strcmp(f[4], "-") != 0 && SSL_set_tlsext_host_name(ssl, f[4]) != 1)) {
    sbd_tls_err(info->reason, sizeof info->reason, "cannot check the name %s", name);
    ERR_clear_error();
    close(fd);
    goto fail;
  }
  SSL_set_connect_state(ssl);
  if (connect(fd, (struct sockaddr *)&sa, salen) != 0 && errno != EINPROGRESS) {
    info->err_no = errno;
    sbd_tls_err(info->reason, sizeof info->reason, "%s", strerror(errno));
    close(fd);
    goto fail;
  }
  c->ssl = ssl;
  c->tcp = fd;
  c->dialed = 1;
  c->connecting = 1;
  c->want_tcp_out = 1; /* the connect completes as writable */
  c->dial_tag = info->tag;
  c->port = (uint16_t)port;
  snprintf(c->remote, sizeof c->remote, "%s %lu", f[1], port);
  return c;
fail:
  SSL_free(ssl);
  free(c);
  return NULL;
}

int sbd_tls_dial_connected(sbd_tls_conn *c) {
  int e = 0;
  socklen_t len = sizeof e;
  if (getsockopt(c->tcp, SOL_SOCKET, SO_ERROR, &e, &len) != 0) return errno;
  if (e == 0) c->connecting = 0;
  return e;
}

static int go_on(int ok, X509_STORE_CTX *x) {
  (void)ok;
  (void)x;
  return 1;
}

/* The chain's own verdict, without the name: node:tls checks the name only once the chain verified, so a chain
 * error wins over a name mismatch (OpenSSL checks the name first and the last error would be the chain's or the
 * name's by order). As node:tls and the handshake: every error let through, the last one kept. */
static long chain_error(SSL *ssl) {
  STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
  X509_STORE_CTX *x = X509_STORE_CTX_new();
  long err = X509_V_OK;
  if (x && chain && sk_X509_num(chain) > 0 &&
      X509_STORE_CTX_init(x, SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), sk_X509_value(chain, 0), chain) == 1 &&
      X509_STORE_CTX_set_default(x, "ssl_server") == 1) {
    X509_STORE_CTX_set_verify_cb(x, go_on);
    X509_verify_cert(x);
    err = X509_STORE_CTX_get_error(x);
  }
  X509_STORE_CTX_free(x);
  ERR_clear_error();
  return err;
}

int sbd_tls_dial_report(sbd_tls_mux *m, uint32_t tag, const char *remote, int what, long code, const char *reason, SSL *ssl) {
  static const char *const words[] = {"connect", "timeout", "tls", "verify"};
  X509 *leaf = NULL;
  if (what == SBD_TLS_DIAL_TLS && ssl && SSL_get_verify_result(ssl) != X509_V_OK) {
    /* the chain or the name did not verify: say which, as node:tls does (its message is OpenSSL's text) */
    what = SBD_TLS_DIAL_VERIFY;
    code = SSL_get_verify_result(ssl);
    if (code == X509_V_ERR_HOSTNAME_MISMATCH || code == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      long chain = chain_error(ssl);
      if (chain != X509_V_OK) code = chain;
    }
    reason = X509_verify_cert_error_string(code);
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl); /* a client's includes the leaf */
    if (chain && sk_X509_num(chain) > 0) leaf = sk_X509_value(chain, 0);
  }
  char text[600];
  int n = snprintf(text, sizeof text, "%u %s %s %ld %s", tag, remote, words[what], code, reason);
  if (n >= (int)sizeof text) n = (int)sizeof text - 1;
  for (int i = 0; i < n; i++)
    if (text[i] == '\n' || text[i] == '\r') text[i] = ' ';
  unsigned char *der = NULL;
  int der_len = leaf ? i2d_X509(leaf, &der) : 0;
  if (der_len < 0) der_len = 0;
  uint8_t *p = sbd_tls_mux_reserve(m, (size_t)n + 1 + (size_t)der_len);
  if (p) {
    memcpy(p, text, (size_t)n);
    p[n] = 0;
    if (der_len) memcpy(p + n + 1, der, (size_t)der_len);
    sbd_tls_mux_commit(m, 0, SBD_TLS_F_DIAL_ERROR, (size_t)n + 1 + (size_t)der_len);
  }
  OPENSSL_free(der);
  return p ? 0 : -1;
}
