/*
 * The TLS engine (libsbdtls.so): owns the listening socket and runs accept, TLS handshake and the record layer on
 * `workers` threads, each with its own epoll set (the listener is in every set with EPOLLEXCLUSIVE, so one worker
 * wakes per burst and a connection stays on the worker that accepted it: no lock on the data path). Each worker
 * and Node share one stream (tls-mux.c) that carries every connection's events and plaintext in frames; with
 * kernel TLS Node gets the TCP socket itself instead (src/tls/).
 *
 * Bounds (named options; defaults in src/tls/engine-service.ts and lib/tls-service.ts): connections open at once,
 * per peer address, the handshake deadline, and how long a closed connection waits for the peer's end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "tls-engine.h"
#include "tls-internal.h"

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
  e->listen_fd = e->stop_fd = -1;
  pthread_mutex_init(&e->ctx_lock, NULL);
  int bad = 0;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  e->workers = config_u32(config, "workers", cpus > 0 ? (uint32_t)cpus : 1, 1, 256, &bad);
  e->max_connections = config_u32(config, "max_connections", 4096, 1, 1000000, &bad);
  e->max_per_source = config_u32(config, "max_per_source", 32, 1, 1000000, &bad);
  e->handshake_timeout_ms = config_u32(config, "handshake_timeout_ms", 10000, 1, 3600000, &bad);
  e->linger_ms = config_u32(config, "linger_ms", 10000, 1, 3600000, &bad);
  e->backlog = config_u32(config, "backlog", 511, 1, 65535, &bad);
  e->ktls = (int)config_u32(config, "ktls", 0, 0, 1, &bad);
  e->lazy_open = (int)config_u32(config, "lazy_open", 0, 0, 1, &bad);
  e->window = config_u32(config, "window", 65536, SBD_TLS_FRAME_MAX, 1 << 24, &bad);
  uint32_t rotation = config_u32(config, "ticket_rotation_s", 3600, 0, 86400 * 7, &bad);
  char host[256], port[16];
  if (!sbd_tls_config_get(config, "host", host, sizeof host)) snprintf(host, sizeof host, "0.0.0.0");
  if (!sbd_tls_config_get(config, "port", port, sizeof port)) snprintf(port, sizeof port, "0");
  if (bad) {
    sbd_tls_err(err, errlen, "a numeric config value is out of range");
  } else if (!(e->tickets = sbd_tls_tickets_new(rotation)) || !(e->sources = sbd_tls_sources_new(e->max_connections)) ||
             !(e->dialer = sbd_tls_dialer_new())) {
    sbd_tls_err(err, errlen, "out of memory");
  } else if ((e->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
    sbd_tls_err(err, errlen, "eventfd: %s", strerror(errno));
  } else if (listen_on(e, host, port, err, errlen) == 0) {
    return e;
  }
  sbd_tls_engine_free(e);
  return NULL;
}

int sbd_tls_engine_set_identity(sbd_tls_engine *e, const char *cert, const char *key, const char *ca, const char *ciphers,
                                const char *suites, int min_version, int client_flags, uint8_t *err, int errlen) {
  sbd_tls_identity id = {cert, key, ca, ciphers, suites, min_version, client_flags, e->ktls};
  SSL_CTX *ctx = sbd_tls_context_new(&id, e->tickets, (char *)err, errlen);
  if (!ctx) return -1;
  if (sbd_tls_dialer_identity(e->dialer, &id) != 0) { /* the dial-out's client certificate and policy follow */
    SSL_CTX_free(ctx);
    sbd_tls_err((char *)err, errlen, "out of memory");
    return -1;
  }
  pthread_mutex_lock(&e->ctx_lock);
  SSL_CTX *old = e->ctx;
  e->ctx = ctx;
  pthread_mutex_unlock(&e->ctx_lock);
  SSL_CTX_free(old); /* connections made with it hold their own reference */
  return 0;
}

int sbd_tls_engine_trust(sbd_tls_engine *e, const char *ca, uint8_t *err, int errlen) {
  return sbd_tls_dialer_trust(e->dialer, ca, (char *)err, errlen);
}

int sbd_tls_engine_start(sbd_tls_engine *e) {
  if (e->started) return 0;
  e->w = calloc(e->workers, sizeof(worker));
  if (!e->w) return -1;
  for (uint32_t i = 0; i < e->workers; i++) {
    worker *w = &e->w[i];
    w->e = e;
    w->node_fd = -1;
    sbd_tls_mux_init(&w->mux, -1);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    int sv[2] = {-1, -1};
    if (w->ep >= 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
      w->mux.fd = sv[0];
      w->node_fd = sv[1];
      fcntl(sv[0], F_SETFL, O_NONBLOCK); /* the engine's end only: Node sets its own */
      int size = 1 << 20; /* fewer wake-ups for bulk data; the kernel caps it at wmem_max */
      setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
    struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = 0};
    struct epoll_event sev = {.events = EPOLLIN, .data.u64 = 1};
    struct epoll_event mev = {.events = EPOLLIN, .data.u64 = 2};
    w->mux.events = EPOLLIN;
    if (w->ep < 0 || w->mux.fd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, e->listen_fd, &lev) != 0 ||
        epoll_ctl(w->ep, EPOLL_CTL_ADD, e->stop_fd, &sev) != 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->mux.fd, &mev) != 0 ||
        pthread_create(&w->thread, NULL, sbd_tls_worker_main, w) != 0) {
      if (w->ep >= 0) close(w->ep);
      sbd_tls_mux_free(&w->mux);
      if (w->node_fd >= 0) close(w->node_fd);
      w->node_fd = -1;
      w->ep = -1;
      e->workers = i; /* the ones started run; free() stops them */
      e->started = 1;
      return -1;
    }
    char name[16]; /* top and perf name the threads; Node's own are "node", V8's "V8 Worker" */
    snprintf(name, sizeof name, "sbd-tls-%u", i % 1000);
    pthread_setname_np(w->thread, name);
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

int sbd_tls_engine_workers(sbd_tls_engine *e) { return e->started ? (int)e->workers : 0; }

int sbd_tls_engine_stream_fd(sbd_tls_engine *e, int i) {
  if (!e->started || i < 0 || (uint32_t)i >= e->workers) return -1;
  int fd = e->w[i].node_fd;
  e->w[i].node_fd = -1; /* Node owns it now */
  return fd;
}

int sbd_tls_engine_stats(sbd_tls_engine *e, uint8_t *buf, int len) {
  return snprintf((char *)buf, (size_t)len,
                  "active=%d\naccepted=%lu\nhandshakes=%lu\nresumed=%lu\nhandshakeFailures=%lu\nhandshakeTimeouts=%lu\n"
                  "refusedMaxConnections=%lu\nrefusedPerSource=%lu\nktlsHandoffs=%lu\nworkers=%u\nwindow=%u\n"
                  "toNodeBytes=%lu\nfromNodeBytes=%lu\nheldFromNode=%lu\nmaxConnHeld=%lu\nmaxStreamPending=%lu\n"
                  "errorReportsDropped=%lu\ndials=%lu\ndialFailures=%lu\n",
                  atomic_load(&e->active), (unsigned long)e->accepted, (unsigned long)e->handshakes,
                  (unsigned long)e->resumed, (unsigned long)e->failures, (unsigned long)e->timeouts,
                  (unsigned long)e->refused_cap, (unsigned long)e->refused_source, (unsigned long)e->ktls_handoffs,
                  e->workers, e->window, (unsigned long)e->to_node_bytes, (unsigned long)e->from_node_bytes,
                  (unsigned long)e->held_from_node, (unsigned long)e->max_conn_held, (unsigned long)e->max_mux_pending,
                  (unsigned long)e->errors_dropped, (unsigned long)e->dials, (unsigned long)e->dial_failures);
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
      sbd_tls_mux_free(&e->w[i].mux); /* Node sees the end of its stream */
      if (e->w[i].node_fd >= 0) close(e->w[i].node_fd); /* never taken */
    }
  }
  free(e->w);
  if (e->listen_fd >= 0) close(e->listen_fd);
  if (e->stop_fd >= 0) close(e->stop_fd);
  SSL_CTX_free(e->ctx);
  sbd_tls_tickets_free(e->tickets);
  sbd_tls_sources_free(e->sources);
  sbd_tls_dialer_free(e->dialer);
  pthread_mutex_destroy(&e->ctx_lock);
  free(e);
}
