/*
 * One worker thread of the TLS engine (tls-engine.c starts them): its epoll loop, accept with the caps, the
 * handshake deadline, the hand-over to Node on the control pipe, and each connection's close. A connection lives
 * on the worker that accepted it, in one FIFO list per phase, so deadlines are checked at the lists' heads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include "tls-internal.h"

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
  n = d < 0 ? n + snprintf(line + n, sizeof line - (size_t)n, "? ? 0 0 0 -") : n + d;
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

void *sbd_tls_worker_main(void *arg) {
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
