/*
 * The engine: the API of tftp-engine.h, the request sockets, the epoll loop and the timer sweep. One thread runs
 * the loop; request sockets are read with recvmmsg in batches of REQ_BATCH, transfer sockets one datagram per
 * (level-triggered) wake-up. Every timer_resolution_ms the sweep moves rested transfer sockets to their free queue
 * and fires the transfers whose deadline passed (CLOCK_MONOTONIC), as server.ts's setInterval sweep does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include "tftp-internal.h"

#define EVENTS 256

int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}





static const char *errname(int en) {
  const char *n = strerrorname_np(en);
  return n ? n : "EIO";
}

static int fail(char *err, int errlen, const char *what, const char *detail) {
  if (err && errlen > 0) snprintf(err, (size_t)errlen, "%s%s", what, detail);
  return -1;
}

static int open_request_socket(engine *e, int i, char *err, int errlen) {
  request_socket *rs = &e->req[i];
  const char *addr = e->cfg.binds[i];
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)e->cfg.port);
    sl = sizeof *a4;
    rs->family = 4;
  } else {
    inet_pton(AF_INET6, addr, &a6->sin6_addr);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)e->cfg.port);
    sl = sizeof *a6;
    rs->family = 6;
  }
  rs->kind = K_REQUEST;
  rs->fd = udp_socket(ss.ss_family);
  if (rs->fd < 0) return fail(err, errlen, "socket ", errname(errno));
  int sz = (int)e->cfg.recv_buffer_size;
  if (sz > 0 && setsockopt(rs->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0)
    setsockopt(rs->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz); /* capped by net.core.rmem_max */
  if (bind(rs->fd, (struct sockaddr *)&ss, sl) < 0) {
    char d[128];
    snprintf(d, sizeof d, "%s %s:%u", errname(errno), addr, e->cfg.port);
    close(rs->fd);
    rs->fd = -1;
    return fail(err, errlen, "bind ", d);
  }
  rs->local_len = sizeof rs->local;
  getsockname(rs->fd, (struct sockaddr *)&rs->local, &rs->local_len);
  peer lp;
  memset(&lp, 0, sizeof lp);
  lp.family = (uint8_t)rs->family;
  if (rs->family == 4) memcpy(lp.addr, &((struct sockaddr_in *)&rs->local)->sin_addr, 4);
  else memcpy(lp.addr, &((struct sockaddr_in6 *)&rs->local)->sin6_addr, 16);
  peer_text(&lp, rs->addr, sizeof rs->addr);
  int port = ntohs(rs->family == 4 ? ((struct sockaddr_in *)&rs->local)->sin_port
                                   : ((struct sockaddr_in6 *)&rs->local)->sin6_port);
  char text[sizeof rs->text];
  snprintf(text, sizeof text, "%d %s %d", rs->family, rs->addr, port);
  memcpy(rs->text, text, sizeof text);
  /* Pools are per family and local address (server.ts: `${family}|${localAddress}`). */
  rs->pool = e->npools;
  for (int j = 0; j < i; j++)
    if (e->req[j].family == rs->family && strcmp(e->req[j].addr, rs->addr) == 0) rs->pool = e->req[j].pool;
  if (rs->pool == e->npools) e->npools++;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = rs};
  if (epoll_ctl(e->ep, EPOLL_CTL_ADD, rs->fd, &ev) < 0) return fail(err, errlen, "epoll_ctl ", errname(errno));
  return 0;
}

static int alloc_scratch(engine *e) {
  size_t rb = e->cfg.max_request_bytes;
  e->req_bufs = malloc(REQ_BATCH * rb);
  e->rmm = calloc(REQ_BATCH, sizeof *e->rmm);
  e->riov = calloc(REQ_BATCH, sizeof *e->riov);
  e->rsa = calloc(REQ_BATCH, sizeof *e->rsa);
  e->rx = malloc(RECV_MAX);
  e->tx = malloc(65536 + 8);
  e->opts_cap = rb / 3 + 2;
  e->opts = calloc(e->opts_cap, sizeof *e->opts);
  e->mm_cap = e->cfg.max_windowsize < 1024 ? e->cfg.max_windowsize : 1024;
  e->mm = calloc(e->mm_cap, sizeof *e->mm);
  e->iov = calloc(2 * (size_t)e->mm_cap, sizeof *e->iov);
  e->hdr = calloc(e->mm_cap, sizeof *e->hdr);
  e->c.errors_sent = calloc(65536, sizeof *e->c.errors_sent);
  return e->req_bufs && e->rmm && e->riov && e->rsa && e->rx && e->tx && e->opts && e->mm && e->iov && e->hdr &&
                 e->c.errors_sent
             ? 0
             : -1;
}

SBD_TFTP_API sbd_tftp_engine *sbd_tftp_engine_new(const char *config, char *err, int errlen) {
  engine *e = calloc(1, sizeof *e);
  if (!e) return fail(err, errlen, "out of memory", ""), NULL;
  e->ep = -1;
  e->files.gen_fd = -1;
  e->ctl.fd = e->ctl.node_fd = -1;
  for (int i = 0; i < MAX_BINDS; i++) e->req[i].fd = -1;
  if (config_parse(&e->cfg, config, err, errlen) < 0) {
    free(e);
    return NULL;
  }
  e->limits.max_blksize = e->cfg.max_blksize;
  e->limits.max_windowsize = e->cfg.max_windowsize;
  e->limits.min_timeout_s = e->cfg.min_timeout_s;
  e->limits.max_timeout_s = e->cfg.max_timeout_s;
  e->ep = epoll_create1(EPOLL_CLOEXEC);
  if (e->ep < 0 || alloc_scratch(e) < 0 || files_init(&e->files, e->cfg.max_cached_files, e->cfg.max_cache_bytes,
                                                      e->cfg.generation_file) < 0 ||
      requests_init(e) < 0) {
    fail(err, errlen, "out of memory or descriptors", "");
    sbd_tftp_engine_free(e);
    return NULL;
  }
  for (int i = 0; i < e->cfg.nbinds; i++) {
    e->nreq = i + 1;
    if (open_request_socket(e, i, err, errlen) < 0) {
      sbd_tftp_engine_free(e);
      return NULL;
    }
  }
  struct epoll_event ev = {.events = EPOLLIN};
  if (pool_init(e) < 0 || control_init(e) < 0 ||
      (ev.data.ptr = &e->ctl, epoll_ctl(e->ep, EPOLL_CTL_ADD, e->ctl.fd, &ev)) < 0) {
    fail(err, errlen, "control socket ", errname(errno));
    sbd_tftp_engine_free(e);
    return NULL;
  }
  return e;
}

SBD_TFTP_API int sbd_tftp_engine_sockets(sbd_tftp_engine *e) { return e->nreq; }

SBD_TFTP_API int sbd_tftp_engine_defaults(char *buf, int len) { return len > 0 ? config_defaults(buf, (size_t)len) : -1; }

SBD_TFTP_API int sbd_tftp_first_reply(const char *config, const uint8_t *req, int len, double file_size, uint8_t *out,
                                      int cap) {
  tftp_config c;
  if (len < 0 || len > RECV_MAX || cap < 4 || config_parse(&c, config, NULL, 0) < 0) return -2;
  uint8_t buf[RECV_MAX];
  memcpy(buf, req, (size_t)len);
  size_t opts_cap = (size_t)len / 3 + 2;
  tftp_option *opts = calloc(opts_cap, sizeof *opts);
  tftp_limits l = {c.max_blksize, c.max_windowsize, c.min_timeout_s, c.max_timeout_s};
  tftp_packet pk;
  tftp_verdict v;
  tftp_negotiated neg;
  char m[1024];
  sb msg;
  sb_init(&msg, m, sizeof m);
  int rc = -2;
  if (!opts) goto done;
  switch (tftp_judge_request(buf, (size_t)len, &c, &pk, opts, opts_cap, &v, &msg)) {
  case V_IGNORE:
  case V_STRAY:
    rc = -1;
    goto done;
  case V_REFUSE:
    break;
  default:
    if (tftp_negotiate(opts, pk.option_count < opts_cap ? pk.option_count : opts_cap, (uint64_t)file_size, &l, &neg,
                       &msg) < 0) {
      v.tftp_code = ERR_TFTP_OPTION_TFTP;
      break;
    }
    if ((size_t)cap < neg.oack_len) goto done;
    memcpy(out, neg.oack, neg.oack_len);
    rc = (int)neg.oack_len;
    goto done;
  }
  rc = (int)tftp_encode_error(out, (size_t)cap, v.tftp_code, msg.p, msg.len);
done:
  free(opts);
  config_free(&c);
  return rc;
}

SBD_TFTP_API int sbd_tftp_engine_local(sbd_tftp_engine *e, int i, char *buf, int len) {
  if (i < 0 || i >= e->nreq) return -1;
  int n = (int)strlen(e->req[i].text);
  if (n >= len) return -1;
  memcpy(buf, e->req[i].text, (size_t)n + 1);
  return n;
}

SBD_TFTP_API int sbd_tftp_engine_control_fd(sbd_tftp_engine *e) { return e->ctl.node_fd; }

static void read_requests(engine *e, request_socket *rs) {
  size_t rb = e->cfg.max_request_bytes;
  for (;;) {
    for (int i = 0; i < REQ_BATCH; i++) {
      e->riov[i].iov_base = e->req_bufs + (size_t)i * rb;
      e->riov[i].iov_len = rb;
      struct msghdr *m = &e->rmm[i].msg_hdr;
      m->msg_name = &e->rsa[i];
      m->msg_namelen = sizeof e->rsa[i];
      m->msg_iov = &e->riov[i];
      m->msg_iovlen = 1;
      m->msg_control = NULL;
      m->msg_controllen = 0;
      m->msg_flags = 0;
    }
    /* MSG_TRUNC: msg_len is the datagram's real length, so an over-long request is refused by its size. */
    int n = recvmmsg(rs->fd, e->rmm, REQ_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
    if (n <= 0) return;
    for (int i = 0; i < n; i++)
      request_datagram(e, rs, e->req_bufs + (size_t)i * rb, e->rmm[i].msg_len, &e->rsa[i], e->rmm[i].msg_hdr.msg_namelen);
    if (n < REQ_BATCH) return;
  }
}

static void sweep(engine *e) {
  pool_sweep(e);
  if (e->cfg.generation_file) files_gen_retry(&e->files);
  for (transfer *t = e->running, *next; t; t = next) {
    next = t->next;
    if ((t->state == T_OACK || t->state == T_DATA) && t->deadline <= e->now) {
      t->deadline = INT64_MAX;
      transfer_timeout(e, t);
    }
  }
}

static void fatal(engine *e, const char *call, int err) {
  char f[256], msg[96];
  sb s;
  sb_init(&s, f, sizeof f);
  errno_json(&s, call, err, msg, sizeof msg);
  control_send_log(e, "error", "engine-fatal", s.p, s.len);
  e->fatal = 1;
}

static void shutdown_engine(engine *e) {
  e->stopping = 1;
  requests_release_all(e);
  pool_close_all(e);
  for (int i = 0; i < e->nreq; i++) {
    if (e->req[i].fd >= 0) close(e->req[i].fd);
    e->req[i].fd = -1;
  }
  control_flush(e);
  if (e->ctl.fd >= 0) close(e->ctl.fd);
  e->ctl.fd = -1;
}

SBD_TFTP_API int sbd_tftp_engine_run(sbd_tftp_engine *e) {
  struct epoll_event evs[EVENTS];
  e->now = e->last_sweep = mono_ms();
  int res = (int)e->cfg.timer_resolution_ms;
  while (!e->stopping && !e->fatal) {
    int64_t wait = res - (e->now - e->last_sweep);
    int n = epoll_wait(e->ep, evs, EVENTS, wait < 0 ? 0 : (int)wait);
    if (n < 0 && errno != EINTR) {
      fatal(e, "epoll_wait", errno);
      break;
    }
    e->now = mono_ms();
    for (int i = 0; i < n; i++) {
      int kind = *(int *)evs[i].data.ptr;
      if (kind == K_TSOCK) {
        tsock *s = evs[i].data.ptr;
        transfer_datagram(e, s, s->fd);
      } else if (kind == K_TWATCH) {
        tsock *s = ((tsock_watch *)evs[i].data.ptr)->owner;
        if (s->kind == K_TSOCK) transfer_datagram(e, s, s->wfd);
      } else if (kind == K_REQUEST) {
        read_requests(e, evs[i].data.ptr);
      } else if (kind == K_CONTROL) {
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          int rc = control_readable(e);
          if (rc > 0) e->stopping = 1;
          if (rc < 0) fatal(e, "read", errno);
        }
      }
    }
    if (e->now - e->last_sweep >= res) {
      sweep(e);
      e->last_sweep = e->now;
    }
    if (control_flush(e) < 0) e->stopping = 1; /* Node's end is gone */
    pool_bury(e);
  }
  shutdown_engine(e);
  return e->fatal ? -1 : 0;
}

static void *engine_thread(void *arg) {
  engine *e = arg;
  e->thread_rc = sbd_tftp_engine_run(e);
  return NULL;
}

SBD_TFTP_API int sbd_tftp_engine_start(sbd_tftp_engine *e) {
  if (e->thread_started) return 0;
  /* Every signal blocked in the engine's thread (it inherits the mask): Node's handlers run on its own threads,
   * and the loop's system calls are not interrupted. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int rc = pthread_create(&e->thread, NULL, engine_thread, e);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) return -rc;
  pthread_setname_np(e->thread, "sbd-tftp"); /* top and perf name it; Node's own are "node", V8's "V8 Worker" */
  e->thread_started = 1;
  return 0;
}

SBD_TFTP_API int sbd_tftp_engine_join(sbd_tftp_engine *e) {
  if (!e->thread_started) return 0;
  pthread_join(e->thread, NULL);
  e->thread_started = 0;
  return e->thread_rc;
}

SBD_TFTP_API void sbd_tftp_engine_free(sbd_tftp_engine *e) {
  if (!e) return;
  sbd_tftp_engine_join(e);
  if (e->slots) {
    e->stopping = 1;
    requests_release_all(e);
  }
  if (e->free_q_head) pool_close_all(e);
  for (int i = 0; i < e->nreq; i++)
    if (e->req[i].fd >= 0) close(e->req[i].fd);
  control_destroy(e);
  if (e->ep >= 0) close(e->ep);
  files_destroy(&e->files);
  free(e->folder_real);
  requests_destroy(e);
  free(e->free_q_head);
  free(e->free_q_tail);
  free(e->req_bufs);
  free(e->rmm);
  free(e->riov);
  free(e->rsa);
  free(e->rx);
  free(e->tx);
  free(e->opts);
  free(e->mm);
  free(e->iov);
  free(e->hdr);
  free(e->c.errors_sent);
  config_free(&e->cfg);
  free(e);
}
