/*
 * One worker thread of the TLS engine (tls-engine.c starts them): its epoll loop, accept with the caps, the
 * handshake deadline, the hand-over to Node on the worker's stream (tls-mux.c), Node's frames, and each
 * connection's close. A connection lives on the worker that accepted it, in one FIFO list per phase, so deadlines
 * are checked at the lists' heads.
 */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <errno.h>
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

static void lazy_remove(worker *w, sbd_tls_conn *c);

/* The list a connection is in: a dial in its connect or handshake has its own (its deadline is Node's). */
static conn_list *list_for(worker *w, sbd_tls_conn *c) {
  return c->dialed && c->phase == SBD_TLS_HANDSHAKE ? &w->dials : &w->lists[c->phase - 1];
}

/* Closes now, frees after the current epoll batch: a later event of the same batch may still name the connection.
 * A connection Node knows (an id) stays GONE until Node's CLOSE releases the id; Node is told with a CLOSE. */
static void close_conn(worker *w, sbd_tls_conn *c) {
  if (c->phase == SBD_TLS_DEAD || c->phase == SBD_TLS_GONE) return;
  list_remove(list_for(w, c), c);
  lazy_remove(w, c);
  if (c->ssl) SSL_free(c->ssl);
  if (c->tcp >= 0) close(c->tcp);
  c->ssl = NULL;
  c->tcp = -1;
  if (c->out_len > c->out_off) atomic_fetch_sub(&w->e->held_from_node, c->out_len - c->out_off);
  free(c->out);
  c->out = NULL;
  c->out_off = c->out_len = c->out_cap = 0;
  if (!c->dialed) { /* a dial counts against no accept cap */
    sbd_tls_sources_release(w->e->sources, c->addr);
    atomic_fetch_sub(&w->e->active, 1);
  }
  if (c->id && !c->node_closed) {
    (c->node_end ? sbd_tls_mux_frame_deferred : sbd_tls_mux_frame)(&w->mux, c->id, SBD_TLS_F_CLOSE, NULL, 0);
    c->phase = SBD_TLS_GONE;
    return;
  }
  if (c->id) sbd_tls_mux_detach(&w->mux, c->id);
  c->phase = SBD_TLS_DEAD;
  list_push(&w->lists[SBD_TLS_DEAD - 1], c);
}

static void lazy_remove(worker *w, sbd_tls_conn *c) {
  if (!c->lazy) return;
  if (c->lazy_prev) c->lazy_prev->lazy_next = c->lazy_next;
  else w->lazy = c->lazy_next;
  if (c->lazy_next) c->lazy_next->lazy_prev = c->lazy_prev;
  c->lazy_prev = c->lazy_next = NULL;
  c->lazy = 0;
}

static void send_credit(worker *w, sbd_tls_conn *c) {
  lazy_remove(w, c);
  if (c->lazy_credit && !c->node_closed) {
    sbd_tls_mux_credit(&w->mux, c->id, c->lazy_credit);
    w->mux.urgent = 1;
  }
  c->lazy_credit = 0;
}

/* Credit for Node's writes: at once when Node may be near its window (what it sent and has not had back is half
 * of it), else with the next write to Node or after SBD_TLS_LAZY_MS: a request/answer exchange then costs Node
 * no wake-up for credit it does not need. */
static void credit_node(worker *w, sbd_tls_conn *c) {
  if (!c->lazy_credit || c->lazy) return;
  if ((c->out_len - c->out_off) + c->lazy_credit >= w->e->window / 2) return send_credit(w, c);
  if (!w->lazy) w->lazy_since_ms = now_ms();
  c->lazy = 1;
  c->lazy_prev = NULL;
  c->lazy_next = w->lazy;
  if (w->lazy) w->lazy->lazy_prev = c;
  w->lazy = c;
}

static void reap(worker *w) {
  for (sbd_tls_conn *c; (c = w->lists[SBD_TLS_DEAD - 1].head);) {
    list_remove(&w->lists[SBD_TLS_DEAD - 1], c);
    free(c);
  }
}

/* A dial that failed: Node's dial() gets the reason with its tag. */
static void fail_dial(worker *w, sbd_tls_conn *c, int what, long code, const char *reason) {
  atomic_fetch_add(&w->e->dial_failures, 1);
  sbd_tls_dial_report(&w->mux, c->dial_tag, c->remote, what, code, reason, c->ssl);
  close_conn(w, c);
}

static void fail_handshake(worker *w, sbd_tls_conn *c, const char *reason) {
  if (c->dialed) return fail_dial(w, c, SBD_TLS_DIAL_TLS, 0, reason);
  char line[512];
  int n = snprintf(line, sizeof line, "%s %s", c->remote, reason);
  if (n >= (int)sizeof line) n = (int)sizeof line - 1;
  for (int i = 0; i < n; i++)
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  atomic_fetch_add(&w->e->failures, 1);
  /* A report is a log line: when Node reads nothing for long, further ones are counted and dropped. */
  if (sbd_tls_mux_pending(&w->mux) < SBD_TLS_MUX_ERRORS_MAX) sbd_tls_mux_frame(&w->mux, 0, SBD_TLS_F_ERROR, line, (size_t)n);
  else atomic_fetch_add(&w->e->errors_dropped, 1);
  close_conn(w, c);
}

static void set_interest(worker *w, sbd_tls_conn *c) {
  uint32_t tcp = sbd_tls_relay_interest(c, &w->mux);
  if (tcp != c->tcp_events) {
    struct epoll_event ev = {.events = tcp, .data.u64 = (uint64_t)(uintptr_t)c};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->tcp, &ev);
    c->tcp_events = tcp;
  }
  /* Stopped only by the stream's fill: woken when it drains (flush_mux). */
  if (!c->waiting && c->phase != SBD_TLS_HANDSHAKE && !c->tls_eof && c->credit > 0 &&
      sbd_tls_mux_pending(&w->mux) >= SBD_TLS_MUX_HIGH) {
    c->waiting = 1;
    c->wait_next = w->waiting;
    w->waiting = c;
  }
}

static void move(worker *w, sbd_tls_conn *c, int phase, uint64_t deadline) {
  list_remove(list_for(w, c), c);
  c->phase = phase;
  c->deadline_ms = deadline;
  list_push(list_for(w, c), c);
}

/* The session's facts for Node: "text" NUL "peer certificate DER". */
static int facts_frame(worker *w, sbd_tls_conn *c, uint32_t id, int kind, const char *prefix) {
  char text[512];
  unsigned char *der = NULL;
  int der_len = 0;
  int n = snprintf(text, sizeof text, "%s%s ", prefix, c->remote);
  int d = sbd_tls_relay_describe(c, text + n, sizeof text - (size_t)n, &der, &der_len);
  n = d < 0 ? n + snprintf(text + n, sizeof text - (size_t)n, "? ? 0 0 0") : n + d;
  uint8_t *p = sbd_tls_mux_reserve(&w->mux, (size_t)n + 1 + (size_t)der_len);
  if (p) {
    memcpy(p, text, (size_t)n + 1);
    if (der_len) memcpy(p + n + 1, der, (size_t)der_len);
    sbd_tls_mux_commit(&w->mux, id, kind, (size_t)n + 1 + (size_t)der_len);
  }
  OPENSSL_free(der);
  return p ? 0 : -1;
}

/* The handshake is done: tell Node on the stream. Returns 0 when the engine keeps relaying, 1 when it let go. */
static int hand_over(worker *w, sbd_tls_conn *c) {
  sbd_tls_engine *e = w->e;
  if (c->dialed && SSL_get_verify_result(c->ssl) != X509_V_OK) { /* the peer did not verify (tls-context.c) */
    fail_dial(w, c, SBD_TLS_DIAL_TLS, 0, "peer certificate");
    return 1;
  }
  if (!c->dialed) atomic_fetch_add(&e->handshakes, 1);
  if (!c->dialed && SSL_session_reused(c->ssl)) atomic_fetch_add(&e->resumed, 1);
  c->ktls = !c->dialed && e->ktls && BIO_get_ktls_send(SSL_get_wbio(c->ssl)) && BIO_get_ktls_recv(SSL_get_rbio(c->ssl));
  if (c->ktls) {
    /* The kernel keeps the record layer: Node reads and writes plaintext on the TCP socket itself. */
    int fd = dup(c->tcp);
    char prefix[24];
    snprintf(prefix, sizeof prefix, "%d ", fd);
    if (fd < 0) {
      fail_handshake(w, c, "no file descriptor for the kernel TLS socket");
      return 1;
    }
    atomic_fetch_add(&e->ktls_handoffs, 1);
    /* The dup keeps the open file description, and with it this worker's epoll registration: drop it first, or
     * Node's traffic on the socket would wake this worker for a connection that is gone (or reused). */
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->tcp, NULL);
    if (facts_frame(w, c, 0, SBD_TLS_F_KTLS, prefix) != 0) close(fd);
    close_conn(w, c); /* SSL_free leaves the socket open (BIO_NOCLOSE); Node holds the dup */
    return 1;
  }
  c->id = sbd_tls_mux_attach(&w->mux, c);
  char tag[16] = "";
  if (c->dialed) snprintf(tag, sizeof tag, "%u ", c->dial_tag);
  /* lazy_open (a protocol whose client speaks first, SIP): the OPEN goes with the connection's first DATA (or after
   * SBD_TLS_LAZY_MS), so Node wakes once for both, not twice. */
  w->mux.quiet = e->lazy_open && !c->dialed;
  int facts = c->id ? facts_frame(w, c, c->id, c->dialed ? SBD_TLS_F_DIALED : SBD_TLS_F_OPEN, tag) : -1;
  w->mux.quiet = 0;
  if (facts != 0) {
    if (c->id) sbd_tls_mux_detach(&w->mux, c->id);
    c->id = 0;
    fail_handshake(w, c, "out of memory for the stream to Node");
    return 1;
  }
  c->credit = e->window;
  move(w, c, SBD_TLS_RELAY, 0);
  return 0;
}

static void pump(worker *w, sbd_tls_conn *c) {
  if (sbd_tls_relay_pump(c, &w->mux, &w->e->to_node_bytes, &w->e->held_from_node) == SBD_TLS_DONE) return close_conn(w, c);
  if (c->lazy_credit && c->lazy) { /* more credit on top of what waits: the sum decides again */
    uint32_t n = c->lazy_credit;
    lazy_remove(w, c);
    c->lazy_credit = n;
  }
  credit_node(w, c);
  if (c->tls_wr_shut && c->phase == SBD_TLS_RELAY) move(w, c, SBD_TLS_LINGER, now_ms() + w->e->linger_ms);
  set_interest(w, c);
}

static void on_event(worker *w, sbd_tls_conn *c) {
  if (c->phase == SBD_TLS_DEAD || c->phase == SBD_TLS_GONE) return;
  if (c->connecting) {
    int err = sbd_tls_dial_connected(c);
    if (err) return fail_dial(w, c, SBD_TLS_DIAL_CONNECT, err, strerror(err));
  }
  if (c->phase == SBD_TLS_HANDSHAKE) {
    char reason[256];
    int r = sbd_tls_relay_handshake(c, reason, sizeof reason);
    if (r == SBD_TLS_DONE) return fail_handshake(w, c, reason);
    if (r == SBD_TLS_KEEP) return set_interest(w, c);
    if (hand_over(w, c)) return;
  }
  pump(w, c);
}

/* Node's DIAL (tls-dial.c): the connection joins this worker's dials until its handshake is done. */
static void dial(worker *w, const uint8_t *p, uint32_t len) {
  sbd_tls_dial_info info;
  atomic_fetch_add(&w->e->dials, 1);
  sbd_tls_conn *c = sbd_tls_dial_start(w->e->dialer, p, len, &info);
  if (!c) {
    atomic_fetch_add(&w->e->dial_failures, 1);
    sbd_tls_dial_report(&w->mux, info.tag, info.remote, info.err_no ? SBD_TLS_DIAL_CONNECT : SBD_TLS_DIAL_TLS, info.err_no,
                        info.reason, NULL);
    return;
  }
  c->phase = SBD_TLS_HANDSHAKE;
  c->deadline_ms = now_ms() + info.timeout_ms;
  list_push(&w->dials, c);
  c->tcp_events = EPOLLOUT;
  struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)(uintptr_t)c};
  epoll_ctl(w->ep, EPOLL_CTL_ADD, c->tcp, &ev);
}

/* One frame from Node. */
static void on_frame(void *ctx, uint32_t id, int kind, const uint8_t *p, uint32_t len) {
  worker *w = ctx;
  if (kind == SBD_TLS_F_DIAL && id == 0) return dial(w, p, len);
  sbd_tls_conn *c = sbd_tls_mux_conn(&w->mux, id);
  if (!c) return; /* Node never names a released id; ignore rather than trust */
  if (kind == SBD_TLS_F_CLOSE) {
    c->node_closed = 1;
    if (c->phase == SBD_TLS_GONE) {
      sbd_tls_mux_detach(&w->mux, id);
      c->phase = SBD_TLS_DEAD;
      list_push(&w->lists[SBD_TLS_DEAD - 1], c);
      return;
    }
  } else if (c->phase == SBD_TLS_GONE) {
    return; /* sent before Node saw our CLOSE */
  } else if (kind == SBD_TLS_F_DATA) {
    atomic_fetch_add(&w->e->from_node_bytes, len);
    if (c->node_end || sbd_tls_relay_from_node(c, p, len, w->e->window, &w->e->held_from_node) != 0) {
      c->node_closed = 1; /* over the window, or after end(): Node's bug; the connection cannot be trusted */
      sbd_tls_mux_frame(&w->mux, c->id, SBD_TLS_F_CLOSE, NULL, 0);
    } else {
      uint64_t held = c->out_len - c->out_off, max = atomic_load(&w->e->max_conn_held);
      while (held > max && !atomic_compare_exchange_weak(&w->e->max_conn_held, &max, held)) {
      }
    }
  } else if (kind == SBD_TLS_F_END) {
    c->node_end = 1;
  } else if (kind == SBD_TLS_F_CREDIT && len == 4) {
    uint64_t credit = (uint64_t)c->credit + ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    c->credit = credit > w->e->window ? w->e->window : (uint32_t)credit;
  }
  pump(w, c);
}

/* After each batch: frames to Node in one write; when it drains, the connections it stopped read again. */
static void flush_mux(worker *w, uint64_t now) {
  sbd_tls_mux *m = &w->mux;
  if (m->broken) return;
  if (w->lazy && (m->urgent || now - w->lazy_since_ms >= SBD_TLS_LAZY_MS))
    while (w->lazy) send_credit(w, w->lazy);
  if (!m->urgent && sbd_tls_mux_pending(m) < SBD_TLS_MUX_HIGH / 4 && m->events == EPOLLIN) {
    if (!m->deferred) return;
    if (!w->deferred_since_ms) w->deferred_since_ms = now;
    if (now - w->deferred_since_ms < SBD_TLS_LAZY_MS) return;
  }
  int rc = sbd_tls_mux_flush(m);
  if (!m->deferred) w->deferred_since_ms = 0;
  uint64_t pending = sbd_tls_mux_pending(m), max = atomic_load(&w->e->max_mux_pending);
  while (pending > max && !atomic_compare_exchange_weak(&w->e->max_mux_pending, &max, pending)) {
  }
  uint32_t want = rc == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN;
  if (want != m->events) {
    struct epoll_event ev = {.events = want, .data.u64 = 2};
    epoll_ctl(w->ep, EPOLL_CTL_MOD, m->fd, &ev);
    m->events = want;
  }
  if (pending >= SBD_TLS_MUX_HIGH) return;
  sbd_tls_conn *list = w->waiting;
  w->waiting = NULL;
  for (sbd_tls_conn *c = list, *next; c; c = next) {
    next = c->wait_next;
    c->waiting = 0;
    if (c->phase == SBD_TLS_RELAY || c->phase == SBD_TLS_LINGER) pump(w, c);
  }
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
    /* Records leave when written, as a node:tls socket with setNoDelay(true) (what SIP asks): Nagle would hold a
     * small record behind an unacknowledged one (a session ticket after the handshake, an answer's second record)
     * until the peer's delayed ACK. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
    c->id = 0;
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
    int n = epoll_wait(w->ep, evs, 64, w->lazy || w->mux.deferred ? SBD_TLS_LAZY_MS : 250);
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag == 1) goto out;
      if (tag == 0) {
        accept_some(w);
      } else if (tag == 2) {
        if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && sbd_tls_mux_read(&w->mux, on_frame, w) != 0)
          goto out; /* Node closed its end of the stream (or broke the format): nobody to serve */
      } else {
        on_event(w, (sbd_tls_conn *)(uintptr_t)tag);
      }
    }
    uint64_t now = now_ms();
    for (sbd_tls_conn *c; (c = w->lists[0].head) && c->deadline_ms <= now;) {
      atomic_fetch_add(&w->e->timeouts, 1);
      fail_handshake(w, c, "handshake timeout");
    }
    for (sbd_tls_conn *c; (c = w->lists[2].head) && c->deadline_ms <= now;) close_conn(w, c);
    for (sbd_tls_conn *c = w->dials.head, *next; c; c = next) {
      next = c->next;
      if (c->deadline_ms <= now) fail_dial(w, c, SBD_TLS_DIAL_TIMEOUT, 0, c->connecting ? "connect timeout" : "handshake timeout");
    }
    flush_mux(w, now);
    reap(w);
  }
out:
  w->mux.broken = 1;
  for (int l = 0; l < 3; l++)
    while (w->lists[l].head) close_conn(w, w->lists[l].head);
  while (w->dials.head) close_conn(w, w->dials.head);
  reap(w);
  for (uint32_t i = 0; i < w->mux.nslots; i++) free(w->mux.slots[i]); /* GONE ones, waiting for Node's CLOSE */
  return NULL;
}
