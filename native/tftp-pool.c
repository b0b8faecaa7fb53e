/*
 * Transfer sockets (each running transfer's TID, RFC 1350 §4), pooled exactly like server.ts: when a transfer ends
 * its socket rests tid_reuse_delay_ms (late packets from the peer it served are dropped quietly, anyone else gets
 * error 5), then joins the back of its pool's free queue (pool = family + local address of the request socket);
 * a new transfer takes the front one, so a port returns to service as late as possible. At most max_idle_sockets
 * are free; more are closed; max_idle_sockets 0 closes each socket when its transfer ends. A socket binds the local
 * address of the request socket the RRQ came in on, port 0. Each socket is registered with epoll once, for life.
 *
 * Each transfer socket is two descriptors on that address and port (tsock in tftp-internal.h): fd is connected to
 * the transfer's peer when the transfer starts, so the kernel keeps the route and the peer's packets find it
 * directly (at blksize 512 with 7-10 KB files, 83 instead of 87-95 us of server CPU per file in paced storms; no
 * change at 1428); wfd stays unconnected and receives everyone else's packets (the kernel prefers the connected
 * socket of a reuseport group for its peer and spreads the rest over the unconnected ones). Both go through
 * transfer_datagram (tftp-transfer.c), which decides by the sender as before, so who gets error 5 and what is dropped quietly does not
 * depend on which descriptor a packet came in on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>
#include "tftp-internal.h"

int pool_init(engine *e) {
  struct rlimit rl;
  e->max_tsocks = (uint64_t)e->cfg.max_transfers + e->cfg.max_idle_sockets;
  /* Two descriptors each (fd, wfd); a quarter of the limit is left to Node. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 * 3 / 2 < e->max_tsocks)
    e->max_tsocks = rl.rlim_cur / 4 * 3 / 2;
  e->free_q_head = calloc((size_t)e->npools, sizeof *e->free_q_head);
  e->free_q_tail = calloc((size_t)e->npools, sizeof *e->free_q_tail);
  return e->free_q_head && e->free_q_tail ? 0 : -1;
}


static tsock *create(engine *e, const request_socket *rs, const char **call, int *err) {
  tsock *s = calloc(1, sizeof *s);
  if (!s) return *call = "socket", *err = ENOMEM, NULL;
  s->kind = K_TSOCK;
  s->watch.kind = K_TWATCH;
  s->watch.owner = s;
  s->pool = rs->pool;
  int af = rs->family == 4 ? AF_INET : AF_INET6, on = 1;
  s->fd = udp_socket(af);
  s->wfd = udp_socket(af);
  if (s->fd < 0 || s->wfd < 0) {
    *call = "socket";
    *err = errno;
    goto fail;
  }
  struct sockaddr_storage a = rs->local;
  socklen_t alen = rs->local_len;
  if (af == AF_INET) ((struct sockaddr_in *)&a)->sin_port = 0;
  else ((struct sockaddr_in6 *)&a)->sin6_port = 0;
  /* SO_REUSEPORT (sharing only with sockets of this user) is set on fd once it has its port: set before, the kernel
   * could hand out a port another of our sockets holds. */
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s}, wev = {.events = EPOLLIN, .data.ptr = &s->watch};
  if (bind(s->fd, (struct sockaddr *)&a, alen) < 0 || getsockname(s->fd, (struct sockaddr *)&a, &alen) < 0 ||
      setsockopt(s->fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0 ||
      setsockopt(s->wfd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0 || bind(s->wfd, (struct sockaddr *)&a, alen) < 0 ||
      epoll_ctl(e->ep, EPOLL_CTL_ADD, s->fd, &ev) < 0 || epoll_ctl(e->ep, EPOLL_CTL_ADD, s->wfd, &wev) < 0) {
    *call = "bind";
    *err = errno;
    goto fail;
  }
  e->tsocks++;
  return s;
fail:
  if (s->fd >= 0) close(s->fd);
  if (s->wfd >= 0) close(s->wfd);
  free(s);
  return NULL;
}

/* A new transfer's peer: fd is connected to it (a failed connect leaves fd unconnected; sends then name the peer). */
void pool_connect(tsock *s, const struct sockaddr_storage *sa, socklen_t salen) {
  s->connected = connect(s->fd, (const struct sockaddr *)sa, salen) == 0;
  if (!s->connected) {
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    connect(s->fd, &unspec, sizeof unspec);
  }
}

tsock *pool_take(engine *e, int req_sock, const char **call, int *err) {
  const request_socket *rs = &e->req[req_sock];
  tsock *s;
  while ((s = e->free_q_head[rs->pool]) != NULL) {
    e->free_q_head[rs->pool] = s->qnext;
    if (!s->qnext) e->free_q_tail[rs->pool] = NULL;
    s->qnext = NULL;
    s->queued = 0;
    e->idle--;
    if (!s->broken) return s;
    pool_discard(e, s);
  }
  /* Resting sockets are R x tid_reuse_delay_ms at R transfers a second: past max_tsocks (max_transfers +
   * max_idle_sockets; two descriptors each within three quarters of RLIMIT_NOFILE), or when a socket cannot be
   * made, the rest of this pool's oldest resting socket ends early instead of the request being dropped. Its last
   * peer's late packets then meet the new transfer's TID check like anyone else's. Counted as restsCutShort. */
  if (e->tsocks < e->max_tsocks && (s = create(e, rs, call, err)) != NULL) return s;
  if (e->tsocks >= e->max_tsocks) *call = "socket", *err = EMFILE;
  for (tsock **pp = &e->rest_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->qnext) {
    if ((*pp)->pool != rs->pool) continue;
    s = *pp;
    *pp = s->qnext;
    if (e->rest_tail == s) e->rest_tail = prev;
    s->qnext = NULL;
    s->queued = 0;
    e->c.rests_cut_short++;
    return s;
  }
  return NULL;
}

/* Closed now; the memory waits for the end of the event batch (an event for it may still be in that batch). */
void pool_discard(engine *e, tsock *s) {
  if (s->kind == K_DEAD) return;
  close(s->fd);
  close(s->wfd);
  s->fd = s->wfd = -1;
  s->kind = s->watch.kind = K_DEAD;
  s->broken = 1;
  e->tsocks--;
  s->qnext = e->graveyard;
  e->graveyard = s;
}

void pool_bury(engine *e) {
  while (e->graveyard) {
    tsock *s = e->graveyard;
    e->graveyard = s->qnext;
    free(s);
  }
}

static void make_free(engine *e, tsock *s) {
  if (s->broken || e->stopping || e->idle >= e->cfg.max_idle_sockets) {
    pool_discard(e, s);
    return;
  }
  s->qnext = NULL;
  s->queued = 1;
  if (e->free_q_tail[s->pool]) e->free_q_tail[s->pool]->qnext = s;
  else e->free_q_head[s->pool] = s;
  e->free_q_tail[s->pool] = s;
  e->idle++;
}

/* The socket's transfer ended (s->t still names it): rest, or close when pooling is off, broken or stopping. */
void pool_put_back(engine *e, tsock *s) {
  transfer *t = s->t;
  s->t = NULL;
  if (e->stopping || s->broken || e->cfg.max_idle_sockets == 0) {
    pool_discard(e, s);
    return;
  }
  if (!t) {
    make_free(e, s);
    return;
  }
  s->last = t->p;
  s->rest_until = e->now + e->cfg.tid_reuse_delay_ms;
  s->qnext = NULL;
  s->queued = 1;
  if (e->rest_tail) e->rest_tail->qnext = s;
  else e->rest_head = s;
  e->rest_tail = s;
}

void pool_sweep(engine *e) {
  while (e->rest_head && e->rest_head->rest_until <= e->now) {
    tsock *s = e->rest_head;
    e->rest_head = s->qnext;
    if (!e->rest_head) e->rest_tail = NULL;
    s->queued = 0;
    make_free(e, s);
  }
}





/* Every socket not held by a transfer (run by the shutdown after every transfer was released). */
void pool_close_all(engine *e) {
  for (int i = 0; i < e->npools; i++) {
    while (e->free_q_head[i]) {
      tsock *s = e->free_q_head[i];
      e->free_q_head[i] = s->qnext;
      pool_discard(e, s);
    }
    e->free_q_tail[i] = NULL;
  }
  while (e->rest_head) {
    tsock *s = e->rest_head;
    e->rest_head = s->qnext;
    pool_discard(e, s);
  }
  e->rest_tail = NULL;
  e->idle = 0;
  pool_bury(e);
}
