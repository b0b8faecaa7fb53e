/*
 * The TLS engine (libsbdtls.so): owns the listening socket and runs accept, TLS handshake and the record layer on
 * `workers` threads, each with its own epoll set (the listener is in every set with EPOLLEXCLUSIVE, so one worker
 * wakes per burst and a connection stays on the worker that accepted it: no lock on the data path). Node gets each
 * finished handshake as one line on the control pipe with the file descriptor of a plaintext stream (its end of a
 * socketpair, or with kernel TLS the TCP socket itself) and reads it as an ordinary net.Socket (src/tls/).
 *
 * Bounds (named options, defaults in src/tls/engine-options.ts): connections open at once, per peer address, the
 * handshake deadline, and how long a closed connection waits for the peer's end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "tls-engine.h"
#include "tls-internal.h"

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

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void list_push(conn_list *l, sbd_tls_conn *c) {
  c->next = NULL;
  c->prev = l->tail;
  if (l->tail) l->tail->next = c;
  else l->head = c;
  l->tail = c;
}

static void list_remove(conn_list *l, sbd_tls_conn *c) {
  if (c->prev) c->prev->next = c->next;
  else l->head = c->next;
  if (c->next) c->next->prev = c->prev;
  else l->tail = c->prev;
  c->prev = c->next = NULL;
}

/* One whole line to Node, or -1. The pipe is non-blocking: a full pipe is waited for (Node's event loop reads it),
 * but not once free() has begun, as Node then sits in free() joining this thread and reads nothing. */
static int control_line(sbd_tls_engine *e, const char *line, size_t len) {
  int rc = 0;
  pthread_mutex_lock(&e->control_lock);
  for (size_t off = 0; off < len;) {
    ssize_t n = write(e->control_wr, line + off, len - off);
    if (n > 0) {
      off += (size_t)n;
    } else if (n < 0 && errno == EAGAIN && !atomic_load(&e->stopping)) {
      struct pollfd p = {.fd = e->control_wr, .events = POLLOUT};
      poll(&p, 1, 100);
    } else if (!(n < 0 && errno == EINTR)) {
      rc = -1; /* Node is gone or going: nobody to tell */
      break;
    }
  }
  pthread_mutex_unlock(&e->control_lock);
  return rc;
}

/* Closes now, frees after the current epoll batch: a later event of the same batch may still name the connection. */
static void close_conn(worker *w, sbd_tls_conn *c) {
  if (c->phase == SBD_TLS_DEAD) return;
  list_remove(&w->lists[c->phase - 1], c);
  if (c->ssl) SSL_free(c->ssl);
  if (c->tcp >= 0) close(c->tcp);
  if (c->pair >= 0) close(c->pair);
  if (c->node_fd >= 0) close(c->node_fd);
  c->ssl = NULL;
  c->tcp = c->pair = c->node_fd = -1;
  sbd_tls_sources_release(w->e->sources, c->addr);
  atomic_fetch_sub(&w->e->active, 1);
  c->phase = SBD_TLS_DEAD;
  list_push(&w->lists[SBD_TLS_DEAD - 1], c);
}

static void reap(worker *w) {
  for (sbd_tls_conn *c; (c = w->lists[SBD_TLS_DEAD - 1].head);) {
    list_remove(&w->lists[SBD_TLS_DEAD - 1], c);
    free(c->in);
    free(c);
  }
}

static void fail_handshake(worker *w, sbd_tls_conn *c, const char *reason) {
  char line[512];
  int n = snprintf(line, sizeof line, "E %s %s\n", c->remote, reason);
  if (n >= (int)sizeof line) n = (int)sizeof line - 1;
  for (int i = 2; i < n - 1; i++)
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  atomic_fetch_add(&w->e->failures, 1);
  line[n - 1] = '\n';
  control_line(w->e, line, (size_t)n);
  close_conn(w, c);
}

static void set_interest(worker *w, sbd_tls_conn *c) {
  uint32_t tcp, pair;
  sbd_tls_relay_interest(c, &tcp, &pair);
  if (tcp != c->tcp_events) {
    struct epoll_event ev = {.events = tcp, .data.u64 = (uint64_t)(uintptr_t)c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->tcp, &ev);
    c->tcp_events = tcp;
  }
  if (c->pair >= 0 && pair != c->pair_events) {
    struct epoll_event ev = {.events = pair, .data.u64 = (uint64_t)(uintptr_t)c | 1};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->pair, &ev);
    c->pair_events = pair;
  }
}

static void move(worker *w, sbd_tls_conn *c, int phase, uint64_t deadline) {
  list_remove(&w->lists[c->phase - 1], c);
  c->phase = phase;
  c->deadline_ms = deadline;
  list_push(&w->lists[phase - 1], c);
}

/* The handshake is done: hand Node a plaintext stream. Returns 0 when the engine keeps relaying, 1 when it let go. */
static int hand_over(worker *w, sbd_tls_conn *c) {
  sbd_tls_engine *e = w->e;
  atomic_fetch_add(&e->handshakes, 1);
  if (SSL_session_reused(c->ssl)) atomic_fetch_add(&e->resumed, 1);
  c->ktls = e->ktls && BIO_get_ktls_send(SSL_get_wbio(c->ssl)) && BIO_get_ktls_recv(SSL_get_rbio(c->ssl));
  int sv[2] = {-1, -1};
  if (c->ktls) {
    sv[1] = dup(c->tcp); /* the kernel keeps the record layer: Node reads and writes plaintext on the TCP socket */
  } else if (!(c->in = malloc(2 * SBD_TLS_BUF))) {
    sv[1] = -1;
  } else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
    sv[1] = -1;
  } else {
    c->out = c->in + SBD_TLS_BUF;
  }
  if (sv[1] < 0) {
    fail_handshake(w, c, "no file descriptor for the plaintext stream");
    return 1;
  }
  char line[8192];
  int n = snprintf(line, sizeof line, "C %d %s ", sv[1], c->remote);
  int d = sbd_tls_relay_describe(c, line + n, sizeof line - (size_t)n - 1);
  n = d < 0 ? n + snprintf(line + n, sizeof line - (size_t)n, "? ? 0 0 -") : n + d;
  line[n++] = '\n';
  if (c->ktls) {
    atomic_fetch_add(&e->ktls_handoffs, 1);
    if (control_line(e, line, (size_t)n) != 0) close(sv[1]);
    close_conn(w, c); /* SSL_free leaves the socket open (BIO_NOCLOSE); Node holds the dup */
    return 1;
  }
  c->pair = sv[0];
  c->node_fd = sv[1];
  struct epoll_event ev = {.events = 0, .data.u64 = (uint64_t)(uintptr_t)c | 1};
  epoll_ctl(w->ep, EPOLL_CTL_ADD, c->pair, &ev);
  c->pair_events = 0;
  if (control_line(e, line, (size_t)n) != 0) {
    close_conn(w, c); /* closes node_fd too: nobody will read that line */
    return 1;
  }
  c->node_fd = -1; /* Node owns it from the line on */
  move(w, c, SBD_TLS_RELAY, 0);
  return 0;
}

static void on_event(worker *w, sbd_tls_conn *c) {
  if (c->phase == SBD_TLS_DEAD) return;
  if (c->phase == SBD_TLS_HANDSHAKE) {
    char reason[256];
    int r = sbd_tls_relay_handshake(c, reason, sizeof reason);
    if (r == SBD_TLS_DONE) return fail_handshake(w, c, reason);
    if (r == SBD_TLS_KEEP) return set_interest(w, c);
    if (hand_over(w, c)) return;
  }
  if (sbd_tls_relay_pump(c) == SBD_TLS_DONE) return close_conn(w, c);
  if (c->tls_wr_shut && c->phase == SBD_TLS_RELAY) move(w, c, SBD_TLS_LINGER, now_ms() + w->e->linger_ms);
  set_interest(w, c);
}

static void accept_some(worker *w) {
  sbd_tls_engine *e = w->e;
  for (int i = 0; i < 32; i++) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    int fd = accept4(e->listen_fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINVAL) { /* shut down: stop_accepting */
        epoll_ctl(w->ep, EPOLL_CTL_DEL, e->listen_fd, NULL);
        w->listening = 0;
      }
      return;
    }
    atomic_fetch_add(&e->accepted, 1);
    uint8_t addr[16] = {0};
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (sa.ss_family == AF_INET) {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;
      addr[10] = addr[11] = 0xff;
      memcpy(addr + 12, &s4->sin_addr, 4);
      inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
      port = ntohs(s4->sin_port);
    } else if (sa.ss_family == AF_INET6) {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;
      memcpy(addr, &s6->sin6_addr, 16);
      inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
      port = ntohs(s6->sin6_port);
    }
    if ((uint32_t)atomic_load(&e->active) >= e->max_connections) {
      atomic_fetch_add(&e->refused_cap, 1);
      close(fd);
      continue;
    }
    if (!sbd_tls_sources_acquire(e->sources, addr, e->max_per_source)) {
      atomic_fetch_add(&e->refused_source, 1);
      close(fd);
      continue;
    }
    atomic_fetch_add(&e->active, 1);
    sbd_tls_conn *c = calloc(1, sizeof *c);
    SSL *ssl = NULL;
    if (c) {
      pthread_mutex_lock(&e->ctx_lock);
      ssl = e->ctx ? SSL_new(e->ctx) : NULL;
      pthread_mutex_unlock(&e->ctx_lock);
    }
    if (!c || !ssl || SSL_set_fd(ssl, fd) != 1) {
      if (ssl) SSL_free(ssl);
      free(c);
      close(fd);
      sbd_tls_sources_release(e->sources, addr);
      atomic_fetch_sub(&e->active, 1);
      continue;
    }
    SSL_set_accept_state(ssl);
    c->ssl = ssl;
    c->tcp = fd;
    c->pair = c->node_fd = -1;
    memcpy(c->addr, addr, 16);
    c->port = port;
    snprintf(c->remote, sizeof c->remote, "%s %u", host, port);
    c->phase = SBD_TLS_HANDSHAKE;
    c->deadline_ms = now_ms() + e->handshake_timeout_ms;
    list_push(&w->lists[0], c);
    c->tcp_events = EPOLLIN;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(uintptr_t)c};
    epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev);
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(w->ep, evs, 64, 250);
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag == 1) goto out;
      if (tag == 0) accept_some(w);
      else on_event(w, (sbd_tls_conn *)(uintptr_t)(tag & ~(uint64_t)1));
    }
    uint64_t now = now_ms();
    for (sbd_tls_conn *c; (c = w->lists[0].head) && c->deadline_ms <= now;) {
      atomic_fetch_add(&w->e->timeouts, 1);
      fail_handshake(w, c, "handshake timeout");
    }
    for (sbd_tls_conn *c; (c = w->lists[2].head) && c->deadline_ms <= now;) close_conn(w, c);
    reap(w);
  }
out:
  for (int l = 0; l < 3; l++)
    while (w->lists[l].head) close_conn(w, w->lists[l].head);
  reap(w);
  return NULL;
}

static uint32_t config_u32(const char *config, const char *key, uint32_t dflt, uint32_t lo, uint32_t hi, int *bad) {
  char v[32];
  if (!sbd_tls_config_get(config, key, v, sizeof v)) return dflt;
  char *end;
  unsigned long n = strtoul(v, &end, 10);
  if (*v == 0 || *end != 0 || n < lo || n > hi) *bad = 1;
  return (uint32_t)n;
}

static int listen_on(sbd_tls_engine *e, const char *host, const char *port, char *err, int errlen) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
  struct addrinfo *ai = NULL;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0) {
    sbd_tls_err(err, errlen, "bad listen address %s: %s", host, gai_strerror(rc));
    return -1;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, (int)e->backlog) != 0) {
    sbd_tls_err(err, errlen, "listen on %s port %s: %s", host, port, strerror(errno));
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return -1;
  }
  freeaddrinfo(ai);
  e->listen_fd = fd;
  return 0;
}

sbd_tls_engine *sbd_tls_engine_new(const char *config, uint8_t *err8, int errlen) {
  char *err = (char *)err8;
  sbd_tls_engine *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->listen_fd = e->stop_fd = e->control_rd = e->control_wr = -1;
  pthread_mutex_init(&e->ctx_lock, NULL);
  pthread_mutex_init(&e->control_lock, NULL);
  int bad = 0;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  e->workers = config_u32(config, "workers", cpus > 0 ? (uint32_t)cpus : 1, 1, 256, &bad);
  e->max_connections = config_u32(config, "max_connections", 4096, 1, 1000000, &bad);
  e->max_per_source = config_u32(config, "max_per_source", 32, 1, 1000000, &bad);
  e->handshake_timeout_ms = config_u32(config, "handshake_timeout_ms", 10000, 1, 3600000, &bad);
  e->linger_ms = config_u32(config, "linger_ms", 10000, 1, 3600000, &bad);
  e->backlog = config_u32(config, "backlog", 511, 1, 65535, &bad);
  e->ktls = (int)config_u32(config, "ktls", 0, 0, 1, &bad);
  uint32_t rotation = config_u32(config, "ticket_rotation_s", 3600, 0, 86400 * 7, &bad);
  char host[256], port[16];
  if (!sbd_tls_config_get(config, "host", host, sizeof host)) snprintf(host, sizeof host, "0.0.0.0");
  if (!sbd_tls_config_get(config, "port", port, sizeof port)) snprintf(port, sizeof port, "0");
  int fds[2];
  if (bad) {
    sbd_tls_err(err, errlen, "a numeric config value is out of range");
  } else if (!(e->tickets = sbd_tls_tickets_new(rotation)) || !(e->sources = sbd_tls_sources_new(e->max_connections))) {
    sbd_tls_err(err, errlen, "out of memory");
  } else if ((e->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 || pipe2(fds, O_CLOEXEC) != 0 ||
             fcntl(fds[1], F_SETFL, O_NONBLOCK) != 0) {
    sbd_tls_err(err, errlen, "eventfd/pipe: %s", strerror(errno));
  } else {
    e->control_rd = fds[0];
    e->control_wr = fds[1];
    if (listen_on(e, host, port, err, errlen) == 0) return e;
  }
  sbd_tls_engine_free(e);
  return NULL;
}

int sbd_tls_engine_set_identity(sbd_tls_engine *e, const char *cert, const char *key, const char *ca, const char *ciphers,
                                const char *suites, int min_version, int require_cert, uint8_t *err, int errlen) {
  sbd_tls_identity id = {cert, key, ca, ciphers, suites, min_version, require_cert, e->ktls};
  SSL_CTX *ctx = sbd_tls_context_new(&id, e->tickets, (char *)err, errlen);
  if (!ctx) return -1;
  pthread_mutex_lock(&e->ctx_lock);
  SSL_CTX *old = e->ctx;
  e->ctx = ctx;
  pthread_mutex_unlock(&e->ctx_lock);
  SSL_CTX_free(old); /* connections made with it hold their own reference */
  return 0;
}

int sbd_tls_engine_start(sbd_tls_engine *e) {
  if (e->started) return 0;
  e->w = calloc(e->workers, sizeof(worker));
  if (!e->w) return -1;
  for (uint32_t i = 0; i < e->workers; i++) {
    worker *w = &e->w[i];
    w->e = e;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = 0};
    struct epoll_event sev = {.events = EPOLLIN, .data.u64 = 1};
    if (w->ep < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, e->listen_fd, &lev) != 0 ||
        epoll_ctl(w->ep, EPOLL_CTL_ADD, e->stop_fd, &sev) != 0 || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
      if (w->ep >= 0) close(w->ep);
      w->ep = -1;
      e->workers = i; /* the ones started run; free() stops them */
      e->started = 1;
      return -1;
    }
    w->listening = 1;
  }
  e->started = 1;
  return 0;
}

int sbd_tls_engine_local(sbd_tls_engine *e, uint8_t *buf, int len) {
  struct sockaddr_storage sa;
  socklen_t sl = sizeof sa;
  char host[INET6_ADDRSTRLEN] = "?";
  if (getsockname(e->listen_fd, (struct sockaddr *)&sa, &sl) != 0) return -1;
  int v6 = sa.ss_family == AF_INET6;
  void *a = v6 ? (void *)&((struct sockaddr_in6 *)&sa)->sin6_addr : (void *)&((struct sockaddr_in *)&sa)->sin_addr;
  uint16_t port = ntohs(v6 ? ((struct sockaddr_in6 *)&sa)->sin6_port : ((struct sockaddr_in *)&sa)->sin_port);
  inet_ntop(sa.ss_family, a, host, sizeof host);
  return snprintf((char *)buf, (size_t)len, "%d %s %u", v6 ? 6 : 4, host, port);
}

int sbd_tls_engine_control_fd(sbd_tls_engine *e) { return e->control_rd; }

int sbd_tls_engine_stats(sbd_tls_engine *e, uint8_t *buf, int len) {
  return snprintf((char *)buf, (size_t)len,
                  "active=%d\naccepted=%lu\nhandshakes=%lu\nresumed=%lu\nhandshakeFailures=%lu\nhandshakeTimeouts=%lu\n"
                  "refusedMaxConnections=%lu\nrefusedPerSource=%lu\nktlsHandoffs=%lu\nworkers=%u\n",
                  atomic_load(&e->active), (unsigned long)e->accepted, (unsigned long)e->handshakes,
                  (unsigned long)e->resumed, (unsigned long)e->failures, (unsigned long)e->timeouts,
                  (unsigned long)e->refused_cap, (unsigned long)e->refused_source, (unsigned long)e->ktls_handoffs,
                  e->workers);
}

void sbd_tls_engine_rotate_tickets(sbd_tls_engine *e) { sbd_tls_tickets_rotate(e->tickets); }

/* A shut-down listening socket leaves LISTEN (new SYNs are refused) and accept() says EINVAL: each worker drops it. */
void sbd_tls_engine_stop_accepting(sbd_tls_engine *e) {
  if (e->listen_fd >= 0) shutdown(e->listen_fd, SHUT_RDWR);
}

void sbd_tls_engine_free(sbd_tls_engine *e) {
  if (!e) return;
  atomic_store(&e->stopping, 1);
  if (e->started) {
    uint64_t one = 1;
    if (write(e->stop_fd, &one, sizeof one) < 0) { /* cannot fail on a fresh eventfd */
    }
    for (uint32_t i = 0; i < e->workers; i++) {
      pthread_join(e->w[i].thread, NULL);
      close(e->w[i].ep);
    }
  }
  free(e->w);
  if (e->listen_fd >= 0) close(e->listen_fd);
  if (e->stop_fd >= 0) close(e->stop_fd);
  if (e->control_wr >= 0) close(e->control_wr); /* Node sees the end of the control stream; it owns control_rd */
  if (!e->started && e->control_rd >= 0) close(e->control_rd);
  SSL_CTX_free(e->ctx);
  sbd_tls_tickets_free(e->tickets);
  sbd_tls_sources_free(e->sources);
  pthread_mutex_destroy(&e->ctx_lock);
  pthread_mutex_destroy(&e->control_lock);
  free(e);
}
