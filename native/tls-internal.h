/*
 * The TLS engine's shared declarations (native/tls-*.c, libsbdtls.so). Layers, each file calling only those below:
 * tls-engine.c (API, config, listen) → tls-worker.c (threads, accept, frames from Node) → tls-relay.c (one
 * connection) → tls-mux.c (the stream to Node) and tls-context.c (SSL_CTX) → tls-tickets.c (ticket keys);
 * tls-worker.c → tls-sources.c → tls-text.c; tls-worker.c and tls-engine.c → tls-dial.c (the client side) →
 * tls-context.c.
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
/* The client side's (trunk dial-out): the same identity (client certificate) and policy, peers verified against
 * `trust` (the context takes a reference). */
SSL_CTX *sbd_tls_client_context_new(const sbd_tls_identity *id, X509_STORE *trust, char *err, int errlen);

/* tls-mux.c: the one stream between a worker and Node that carries all its connections (docs/tls.md "Stream").
 * Frame: connection id (u32 LE), kind (u8), payload length (u32 LE), payload. Connection ids are per worker. */
enum {
  SBD_TLS_F_OPEN = 1, /* engine → Node: handshake done; text facts, NUL, peer certificate DER */
  SBD_TLS_F_DATA,     /* both ways: plaintext */
  SBD_TLS_F_END,      /* engine → Node: the TLS side ended (EOF); Node → engine: end() (close_notify and FIN) */
  SBD_TLS_F_CLOSE,    /* engine → Node: the connection is gone; Node → engine: Node is done with the id (destroy) */
  SBD_TLS_F_CREDIT,   /* both ways, u32 LE: the receiver consumed this many DATA bytes; the sender may send more */
  SBD_TLS_F_ERROR,    /* engine → Node, id 0: a handshake failed; "address port reason" */
  SBD_TLS_F_KTLS,     /* engine → Node, id 0: kernel TLS; "fd facts…", NUL, peer certificate DER: Node owns fd */
  SBD_TLS_F_DIAL,     /* Node → engine, id 0: "tag address port name sni trust timeout_ms" (tls-dial.c) */
  SBD_TLS_F_DIALED,   /* engine → Node: a dial's handshake done, id its connection; "tag facts…" NUL peer DER */
  SBD_TLS_F_DIAL_ERROR, /* engine → Node, id 0: "tag address port what code reason" NUL [peer DER] */
};
#define SBD_TLS_FRAME_HEADER 9
#define SBD_TLS_FRAME_MAX 16384              /* payload of a DATA frame from Node (it splits larger writes) */
#define SBD_TLS_MUX_IN (4 * (SBD_TLS_FRAME_MAX + SBD_TLS_FRAME_HEADER))
#define SBD_TLS_MUX_HIGH (256 * 1024)        /* pending bytes to Node above which no connection reads TLS */
#define SBD_TLS_MUX_ERRORS_MAX (4 << 20)     /* pending bytes above which handshake error reports are dropped */
#define SBD_TLS_LAZY_MS 20                   /* a CREDIT that nobody waits for goes with the next write, or after this */

typedef struct sbd_tls_conn sbd_tls_conn;
typedef struct {
  int fd;                   /* the engine's end of the stream (a socketpair); Node reads the other */
  int broken;               /* Node closed its end, or sent a frame it never sends */
  int urgent;               /* a frame other than CREDIT is pending: write after this batch */
  int deferred;             /* only frames Node does not wait for are pending: write with the next, or after LAZY_MS */
  int quiet;                /* while set, committed frames are deferred (sbd_tls_mux_frame_deferred) */
  uint32_t events;          /* epoll interest now */
  uint8_t *out;             /* frames not yet written to Node */
  size_t out_off, out_len, out_cap;
  uint8_t in[SBD_TLS_MUX_IN]; /* the start of frames from Node not yet whole */
  size_t in_len;
  sbd_tls_conn **slots;     /* by id - 1; NULL: free */
  uint32_t nslots, *free_ids, nfree;
} sbd_tls_mux;
int sbd_tls_mux_init(sbd_tls_mux *m, int fd);
void sbd_tls_mux_free(sbd_tls_mux *m);
/* Room for a frame with up to `max` payload bytes: the payload's address (write it, then commit), or NULL. */
uint8_t *sbd_tls_mux_reserve(sbd_tls_mux *m, size_t max);
void sbd_tls_mux_commit(sbd_tls_mux *m, uint32_t id, int kind, size_t len);
int sbd_tls_mux_frame(sbd_tls_mux *m, uint32_t id, int kind, const void *payload, size_t len);
/* A frame Node does not wait for (the END and CLOSE of a connection Node already ended): it goes with the next
 * urgent write, or after SBD_TLS_LAZY_MS, so a request/answer connection wakes Node once, not twice. */
int sbd_tls_mux_frame_deferred(sbd_tls_mux *m, uint32_t id, int kind, const void *payload, size_t len);
int sbd_tls_mux_credit(sbd_tls_mux *m, uint32_t id, uint32_t n);
size_t sbd_tls_mux_pending(const sbd_tls_mux *m);
/* Writes what it can: 0 all written, 1 some left (wait for EPOLLOUT), -1 Node's end is gone. */
int sbd_tls_mux_flush(sbd_tls_mux *m);
/* A connection id for c (never 0), 0 when out of memory; lookup; and the id's release (Node said CLOSE). */
uint32_t sbd_tls_mux_attach(sbd_tls_mux *m, sbd_tls_conn *c);
sbd_tls_conn *sbd_tls_mux_conn(sbd_tls_mux *m, uint32_t id);
void sbd_tls_mux_detach(sbd_tls_mux *m, uint32_t id);
/* Reads what Node sent and calls on_frame for each whole frame; -1 when Node's end closed or broke the format. */
int sbd_tls_mux_read(sbd_tls_mux *m, void (*on_frame)(void *ctx, uint32_t id, int kind, const uint8_t *p, uint32_t len),
                     void *ctx);

/* tls-relay.c: one accepted connection, from handshake to close */
struct sbd_tls_conn {
  sbd_tls_conn *prev, *next; /* the owning worker's FIFO list for its phase (deadlines in accept order) */
  sbd_tls_conn *wait_next;   /* the worker's list of connections waiting for room on the stream to Node */
  sbd_tls_conn *lazy_prev, *lazy_next; /* the worker's list of connections with credit not yet sent */
  int tcp;
  uint32_t id;               /* on the stream to Node, from the hand-over on (0 before) */
  SSL *ssl;
  int phase;                 /* SBD_TLS_HANDSHAKE, SBD_TLS_RELAY, SBD_TLS_LINGER, SBD_TLS_DEAD; SBD_TLS_GONE */
  uint64_t deadline_ms;
  uint8_t addr[16];
  char remote[64];           /* "address port" */
  uint16_t port;
  uint32_t tcp_events;
  uint32_t credit;           /* plaintext bytes Node has room for (its CREDIT frames add, our DATA frames spend) */
  uint32_t lazy_credit;      /* Node's bytes written to TLS and not yet credited back (sent when it matters) */
  unsigned tls_eof : 1, tls_broken : 1, tls_wr_shut : 1, eof_sent : 1, node_end : 1, node_closed : 1;
  unsigned want_tcp_out : 1, ktls : 1, waiting : 1, lazy : 1;
  unsigned dialed : 1, connecting : 1; /* we opened it (tls-dial.c); its TCP connect is not done yet */
  uint32_t dial_tag;         /* Node's tag for a dialed connection, echoed in DIALED / DIAL_ERROR */
  /* Node → TLS plaintext not yet written: at most the window (Node sends no more before our CREDIT). Made when
   * the first DATA comes and freed when written: an idle or half-open connection holds no buffer. */
  uint8_t *out;
  size_t out_off, out_len, out_cap;
};
/* GONE: TCP closed, the id still held until Node's CLOSE (in no list; only the stream's slot table holds it). */
enum { SBD_TLS_HANDSHAKE = 1, SBD_TLS_RELAY, SBD_TLS_LINGER, SBD_TLS_DEAD, SBD_TLS_GONE };
/* Result of a step: keep the connection, handshake finished (relay can start), or done (close it). */
enum { SBD_TLS_KEEP = 0, SBD_TLS_READY, SBD_TLS_DONE };
int sbd_tls_relay_handshake(sbd_tls_conn *c, char *reason, int cap);
/* Moves bytes both ways as far as credit, the stream's room and the TCP socket allow. */
/* Node's bytes written to TLS add to c->lazy_credit; the caller sends it (tls-worker.c). */
int sbd_tls_relay_pump(sbd_tls_conn *c, sbd_tls_mux *m, atomic_uint_fast64_t *to_node, atomic_uint_fast64_t *held);
/* Node's DATA for c: appended to its buffer; -1 when it exceeds the window (Node never does that). */
int sbd_tls_relay_from_node(sbd_tls_conn *c, const uint8_t *p, uint32_t len, uint32_t window, atomic_uint_fast64_t *held);
/* The epoll interest the TCP socket needs now. */
uint32_t sbd_tls_relay_interest(const sbd_tls_conn *c, const sbd_tls_mux *m);
/* Describes the session: "version cipher resumed ktls verified", and the peer certificate's DER (NULL if none). */
int sbd_tls_relay_describe(sbd_tls_conn *c, char *out, size_t cap, unsigned char **der, int *der_len);

/* tls-dial.c: the client side (the trunk dial-out): CA bundles with their client contexts, DIAL frames */
typedef struct sbd_tls_dialer sbd_tls_dialer;
sbd_tls_dialer *sbd_tls_dialer_new(void);
void sbd_tls_dialer_free(sbd_tls_dialer *d);
/* The identity and policy for client contexts from now on (copied); 0 or -1 (out of memory). */
int sbd_tls_dialer_identity(sbd_tls_dialer *d, const sbd_tls_identity *id);
/* Registers a CA bundle (cached by SHA-256): its id for DIAL frames, or -1 and err. */
int sbd_tls_dialer_trust(sbd_tls_dialer *d, const char *ca_pem, char *err, int errlen);
typedef struct {
  uint32_t tag, timeout_ms;
  int err_no;       /* a failed connect()'s errno, else 0 */
  char remote[80];  /* "address port" as Node gave them */
  char reason[256];
} sbd_tls_dial_info;
/* A DIAL payload: a new connection (connect under way, SSL in connect state), or NULL with info's reason. */
sbd_tls_conn *sbd_tls_dial_start(sbd_tls_dialer *d, const uint8_t *p, uint32_t len, sbd_tls_dial_info *info);
/* After EPOLLOUT while connecting: 0 connected (c->connecting cleared), else the connect's errno. */
int sbd_tls_dial_connected(sbd_tls_conn *c);
enum { SBD_TLS_DIAL_CONNECT = 0, SBD_TLS_DIAL_TIMEOUT, SBD_TLS_DIAL_TLS, SBD_TLS_DIAL_VERIFY };
/* DIAL_ERROR to Node; a TLS failure whose peer did not verify becomes VERIFY with the X509_V_ERR code and leaf. */
int sbd_tls_dial_report(sbd_tls_mux *m, uint32_t tag, const char *remote, int what, long code, const char *reason, SSL *ssl);

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
  int node_fd;               /* Node's end of the stream, until Node takes it (sbd_tls_engine_stream_fd) */
  sbd_tls_mux mux;
  sbd_tls_conn *waiting;     /* connections that stopped reading TLS because the stream to Node is full */
  sbd_tls_conn *lazy;        /* connections with credit for Node not yet sent, since lazy_since_ms */
  uint64_t lazy_since_ms;
  uint64_t deferred_since_ms; /* when the stream's oldest deferred frame was queued; 0: none */
  conn_list lists[4]; /* by phase - 1: handshake, relay, linger, dead (freed after the event batch) */
  conn_list dials;    /* dialed connections in their connect or handshake (deadlines vary: scanned whole) */
} worker;

struct sbd_tls_engine {
  int listen_fd, stop_fd;
  uint32_t workers, max_connections, max_per_source, handshake_timeout_ms, linger_ms, backlog, window;
  int ktls, started;
  int lazy_open; /* an accepted connection's OPEN waits for its first DATA or SBD_TLS_LAZY_MS (a peer speaks first) */
  atomic_int stopping;
  pthread_mutex_t ctx_lock;
  SSL_CTX *ctx;
  sbd_tls_tickets *tickets;
  sbd_tls_sources *sources;
  worker *w;
  atomic_uint_fast64_t accepted, handshakes, resumed, failures, timeouts, refused_cap, refused_source, ktls_handoffs;
  atomic_uint_fast64_t to_node_bytes, from_node_bytes, held_from_node, max_conn_held, errors_dropped, max_mux_pending;
  atomic_int active;
  sbd_tls_dialer *dialer;
  atomic_uint_fast64_t dials, dial_failures;
};
void *sbd_tls_worker_main(void *arg);
#endif
