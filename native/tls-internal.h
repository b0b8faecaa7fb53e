/*
 * The TLS engine's shared declarations (native/tls-*.c, libsbdtls.so). Layers, each file calling only those below:
 * tls-engine.c (API, config, listen) → tls-worker.c (threads, accept, control lines) → tls-relay.c (one
 * connection) → tls-context.c (SSL_CTX) → tls-tickets.c (ticket keys); tls-worker.c → tls-sources.c → tls-text.c.
 */
#ifndef SBD_TLS_INTERNAL_H
#define SBD_TLS_INTERNAL_H
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SBD_TLS_BUF 16384

/* tls-text.c: bounded error strings and config parsing */
void sbd_tls_err(char *err, int errlen, const char *fmt, ...);
/* `key=value` lines: the value of key (copied into out, NUL-terminated), or NULL when absent. */
const char *sbd_tls_config_get(const char *config, const char *key, char *out, size_t cap);

/* tls-sources.c: open connections per peer address (issue 16 row 8: one address must not hold every slot) */
typedef struct sbd_tls_sources sbd_tls_sources;
sbd_tls_sources *sbd_tls_sources_new(uint32_t capacity);
void sbd_tls_sources_free(sbd_tls_sources *t);
/* 1 and counted when the address holds fewer than `limit`, else 0. */
int sbd_tls_sources_acquire(sbd_tls_sources *t, const uint8_t addr[16], uint32_t limit);
void sbd_tls_sources_release(sbd_tls_sources *t, const uint8_t addr[16]);

/* tls-tickets.c: RFC 5077 §4 ticket keys, rotated; the previous key still decrypts (and its tickets are renewed). */
typedef struct sbd_tls_tickets sbd_tls_tickets;
sbd_tls_tickets *sbd_tls_tickets_new(uint32_t rotation_s);
void sbd_tls_tickets_free(sbd_tls_tickets *t);
void sbd_tls_tickets_rotate(sbd_tls_tickets *t);
int sbd_tls_tickets_install(sbd_tls_tickets *t, SSL_CTX *ctx);

/* tls-context.c: one SSL_CTX from the daemon's identity and policy */
typedef struct {
  const char *cert_pem; /* leaf first, then its chain */
  const char *key_pem;
  const char *ca_pem;   /* client certificates are verified against these ("" = no client certificate asked) */
  const char *ciphers;  /* TLS 1.2 list, OpenSSL syntax */
  const char *suites;   /* TLS 1.3 suites */
  int min_version;      /* TLS1_2_VERSION … */
  int client_flags;     /* with ca_pem: SBD_TLS_REQUIRE_CERT, SBD_TLS_ADMIT_UNVERIFIED (tls-engine.h) */
  int ktls;             /* SSL_OP_ENABLE_KTLS */
} sbd_tls_identity;
SSL_CTX *sbd_tls_context_new(const sbd_tls_identity *id, sbd_tls_tickets *tickets, char *err, int errlen);

/* tls-relay.c: one accepted connection, from handshake to close */
typedef struct sbd_tls_conn sbd_tls_conn;
struct sbd_tls_conn {
  sbd_tls_conn *prev, *next; /* the owning worker's FIFO list for its phase (deadlines in accept order) */
  int tcp, pair, node_fd;    /* pair: the engine's end of the socketpair; node_fd: Node's end until handed over */
  SSL *ssl;
  int phase;                 /* SBD_TLS_HANDSHAKE, SBD_TLS_RELAY, SBD_TLS_LINGER, SBD_TLS_DEAD */
  uint64_t deadline_ms;
  uint8_t addr[16];
  char remote[64];           /* "address port" */
  uint16_t port;
  uint32_t tcp_events, pair_events;
  unsigned tls_eof : 1, tls_broken : 1, pair_eof : 1, pair_dead : 1, pair_wr_shut : 1, tls_wr_shut : 1;
  unsigned want_tcp_out : 1, ktls : 1;
  size_t in_off, in_len, out_off, out_len;
  /* Made when the relay starts (a connection still in its handshake holds none: half-open floods stay small). */
  uint8_t *in;  /* SBD_TLS_BUF bytes: TLS → Node plaintext not yet written */
  uint8_t *out; /* SBD_TLS_BUF bytes: Node → TLS plaintext not yet written */
};
enum { SBD_TLS_HANDSHAKE = 1, SBD_TLS_RELAY, SBD_TLS_LINGER, SBD_TLS_DEAD };
/* Result of a step: keep the connection, handshake finished (relay can start), or done (close it). */
enum { SBD_TLS_KEEP = 0, SBD_TLS_READY, SBD_TLS_DONE };
int sbd_tls_relay_handshake(sbd_tls_conn *c, char *reason, int cap);
int sbd_tls_relay_pump(sbd_tls_conn *c);
/* The epoll interest the connection's two sockets need now. */
void sbd_tls_relay_interest(const sbd_tls_conn *c, uint32_t *tcp, uint32_t *pair);
/* Describes the session for the control line: version cipher resumed ktls peer-certificate-base64 ("-" if none). */
int sbd_tls_relay_describe(sbd_tls_conn *c, char *out, size_t cap);

/* tls-worker.c and tls-engine.c: the engine and its worker threads */
#include "tls-engine.h"
typedef struct {
  sbd_tls_conn *head, *tail;
} conn_list;

typedef struct {
  sbd_tls_engine *e;
  pthread_t thread;
  int ep;
  int listening;
  conn_list lists[4]; /* by phase - 1: handshake, relay, linger, dead (freed after the event batch) */
} worker;

struct sbd_tls_engine {
  int listen_fd, stop_fd, control_rd, control_wr;
  uint32_t workers, max_connections, max_per_source, handshake_timeout_ms, linger_ms, backlog;
  int ktls, started;
  atomic_int stopping; /* set by free(): a worker no longer waits for Node to read the control pipe */
  pthread_mutex_t ctx_lock, control_lock;
  SSL_CTX *ctx;
  sbd_tls_tickets *tickets;
  sbd_tls_sources *sources;
  worker *w;
  atomic_uint_fast64_t accepted, handshakes, resumed, failures, timeouts, refused_cap, refused_source, ktls_handoffs;
  atomic_int active;
};
void *sbd_tls_worker_main(void *arg);
#endif
