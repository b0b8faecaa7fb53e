/*
 * Server side of one read transfer (RFC 1350, RFC 2347 OACK, RFC 7440 windows): core/server-transfer.ts in C.
 *
 *   state   event                              action                                     next
 *   ------  ---------------------------------  -----------------------------------------  ----------
 *   begin   options acknowledged               send OACK, arm timer                       T_OACK
 *   begin   no options                         send window from block 1, arm timer        T_DATA
 *   T_OACK  ACK 0                              send window from block 1, arm timer        T_DATA
 *   T_DATA  ACK of a block in the window       slide past it; last block? done            T_DATA/done
 *   T_DATA  ACK of the block before the window ignored: a duplicate (RFC 1123 §4.2.3.1)   T_DATA
 *   T_DATA  ACK outside [window-1, last sent]  ignored (stale or from a wrapped block)     T_DATA
 *   any     timer, lifetime over               done(failed, lifetime)                     done
 *   any     timer, retries left                resend OACK / the whole window, re-arm     same
 *   any     timer, no retries left             done(failed, timeout)                      done
 *   any     ERROR from the client              done(failed)                               done
 *   any     malformed or other opcode          send ERROR 4, done(failed)                 done
 *
 * Only the timer ever retransmits (Sorcerer's Apprentice, RFC 1123 §4.2.3.1). RFC 7440 §4: an ACK inside the window
 * that is not its last means the client lost what followed; the next window starts right after it. Blocks are
 * absolute (1..block_count) inside; the wire carries block & 0xffff, so files past 65535 blocks roll over to 0.
 * Against spoofed sources: until the peer has acknowledged something it gets max_retries_unverified resends, not
 * max_retries, and every transfer ends max_lifetime_ms after it began (the timer is never armed later than that).
 * DATA packets are never built: each is a 4-byte header and a pointer into the file bytes (sendmmsg iovecs).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "tftp-internal.h"

/* A send that fails with a full buffer is a lost packet (the timer resends); other errors end the transfer. */
static int send_failed(engine *e, transfer *t, int err) {
  if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EINTR || pool_peer_gone(err)) return 0;
  transfer_socket_error(e, t->tid, "send", err);
  return -1;
}

static void send_bytes(engine *e, transfer *t, const uint8_t *p, size_t n) {
  if (!t->tid) return;
  e->c.bytes_sent += n;
  const struct sockaddr *to = t->tid->connected ? NULL : (const struct sockaddr *)&t->sa;
  if (sendto(t->tid->fd, p, n, MSG_DONTWAIT, to, to ? t->salen : 0) < 0) send_failed(e, t, errno);
}

/* The retransmission timer, never later than the end of the transfer's lifetime. */
static void arm(engine *e, transfer *t) {
  int64_t at = e->now + t->rto_ms;
  t->deadline = at < t->end_at ? at : t->end_at;
}

static void send_window(engine *e, transfer *t, uint64_t from, int retransmit) {
  uint64_t to = from + t->windowsize - 1;
  if (to > t->block_count) to = t->block_count;
  t->window_start = from;
  t->last_sent = to;
  arm(e, t);
  if (retransmit) t->retransmissions += (uint32_t)(to - from + 1);
  for (uint64_t b = from; b <= to && t->tid;) {
    uint32_t n = 0;
    for (; b <= to && n < e->mm_cap; b++, n++) {
      uint64_t off = (b - 1) * t->blksize;
      uint64_t len = t->len - off < t->blksize ? t->len - off : t->blksize;
      uint8_t *h = e->hdr[n];
      h[0] = 0;
      h[1] = OP_DATA;
      h[2] = (uint8_t)(b >> 8);
      h[3] = (uint8_t)b;
      struct iovec *iov = &e->iov[2 * n];
      iov[0].iov_base = h;
      iov[0].iov_len = 4;
      iov[1].iov_base = (void *)(t->data + off);
      iov[1].iov_len = (size_t)len;
      struct msghdr *m = &e->mm[n].msg_hdr;
      memset(m, 0, sizeof *m);
      if (!t->tid->connected) m->msg_name = &t->sa, m->msg_namelen = t->salen;
      m->msg_iov = iov;
      m->msg_iovlen = 2;
      e->c.bytes_sent += 4 + len;
    }
    if (n == 1) { /* lock-step (windowsize 1): plain sendmsg, no mmsghdr vector to copy in */
      if (sendmsg(t->tid->fd, &e->mm[0].msg_hdr, MSG_DONTWAIT) < 0 && send_failed(e, t, errno) < 0) return;
      continue;
    }
    for (uint32_t i = 0; i < n;) {
      int r = sendmmsg(t->tid->fd, e->mm + i, n - i, MSG_DONTWAIT);
      if (r < 0) {
        if (send_failed(e, t, errno) < 0) return;
        break; /* buffer full: the rest of this window is lost; the timer resends it */
      }
      i += (uint32_t)r;
    }
  }
}

void transfer_begin(engine *e, transfer *t, const tftp_negotiated *n) {
  t->blksize = n->blksize;
  t->windowsize = n->windowsize;
  t->rto_ms = n->timeout_s ? (int64_t)n->timeout_s * 1000 : e->cfg.timeout_ms;
  t->block_count = t->len / t->blksize + 1; /* the last block is shorter than blksize, maybe empty (RFC 1350 §6) */
  t->window_start = 1;
  t->last_sent = 0;
  t->retries = t->retransmissions = 0;
  t->acknowledged = 0;
  t->end_at = e->now + e->cfg.max_lifetime_ms;
  memcpy(t->oack, n->oack, n->oack_len);
  t->oack_len = n->oack_len;
  if (t->oack_len) {
    t->state = T_OACK;
    arm(e, t);
    send_bytes(e, t, t->oack, t->oack_len);
  } else {
    t->state = T_DATA;
    send_window(e, t, 1, 0);
  }
}

static void abort_transfer(engine *e, transfer *t, uint16_t code, const char *msg, size_t n) {
  uint8_t pkt[600];
  size_t len = tftp_encode_error(pkt, sizeof pkt, code, msg, n);
  t->state = T_DONE;
  count_error(e, code);
  send_bytes(e, t, pkt, len);
  transfer_finish(e, t, 0, msg, n);
}

static void on_ack(engine *e, transfer *t, uint16_t wire) {
  if (t->state == T_OACK) {
    if (wire != 0) return; /* not the ACK of the OACK (RFC 2347 §2): stale */
    t->acknowledged = 1;
    t->state = T_DATA;
    t->retries = 0;
    send_window(e, t, 1, 0);
    return;
  }
  uint64_t base = t->window_start - 1;
  uint64_t acked = base + ((wire - base) & 0xffff);
  if (acked > t->last_sent || acked == base) return; /* unknown or duplicate: never resend (SAS) */
  t->acknowledged = 1;
  if (acked == t->block_count) {
    t->state = T_DONE;
    transfer_finish(e, t, 1, "complete", 8);
    return;
  }
  t->retries = 0;
  /* RFC 7440 §4: blocks after `acked` already sent were lost; sending them again is a retransmission. */
  uint64_t resent = t->last_sent - acked;
  send_window(e, t, acked + 1, 0);
  t->retransmissions += (uint32_t)(resent < t->windowsize ? resent : t->windowsize);
}

void transfer_receive(engine *e, transfer *t, uint8_t *buf, size_t len) {
  if (t->state != T_OACK && t->state != T_DATA) return;
  tftp_packet p;
  char msg[512];
  sb err;
  sb_init(&err, msg, sizeof msg);
  if (tftp_decode(buf, len, &p, NULL, 0, &err) < 0) {
    abort_transfer(e, t, TE_ILLEGAL, err.p, err.len);
    return;
  }
  switch (p.opcode) {
  case OP_ACK:
    on_ack(e, t, p.block);
    return;
  case OP_ERROR: {
    t->state = T_DONE;
    sb_str(&err, "client sent error ");
    sb_u64(&err, p.error_code);
    sb_str(&err, ": ");
    sb_latin1(&err, p.message, p.message_len > 100 ? 100 : p.message_len);
    transfer_finish(e, t, 0, err.p, err.len);
    return;
  }
  default:
    sb_str(&err, "unexpected opcode ");
    sb_u64(&err, (uint64_t)p.opcode);
    sb_str(&err, " during a read transfer");
    abort_transfer(e, t, TE_ILLEGAL, err.p, err.len);
  }
}

void transfer_timeout(engine *e, transfer *t) {
  if (t->state != T_OACK && t->state != T_DATA) return;
  if (e->now >= t->end_at) {
    char msg[64];
    sb s;
    sb_init(&s, msg, sizeof msg);
    sb_str(&s, "transfer lifetime of ");
    sb_u64(&s, e->cfg.max_lifetime_ms);
    sb_str(&s, " ms exceeded");
    e->c.lifetime_expired++;
    t->state = T_DONE;
    transfer_finish(e, t, 0, s.p, s.len);
    return;
  }
  if (t->retries >= (t->acknowledged ? e->cfg.max_retries : e->cfg.max_retries_unverified)) {
    char msg[64];
    sb s;
    sb_init(&s, msg, sizeof msg);
    sb_str(&s, "timed out after ");
    sb_u64(&s, t->retries);
    sb_str(&s, " retransmissions");
    t->state = T_DONE;
    transfer_finish(e, t, 0, s.p, s.len);
    return;
  }
  t->retries++;
  if (t->state == T_OACK) {
    t->retransmissions++;
    arm(e, t);
    send_bytes(e, t, t->oack, t->oack_len);
    return;
  }
  send_window(e, t, t->window_start, 1);
}

/* ---------- lifecycle: start, datagrams, socket errors, finish, release (the bookkeeping server.ts does) ---------- */

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static uint64_t client_hash(const peer *p) { return mix(1469598103934665603ull ^ p->family, p->addr, 16); }

static uint64_t key_hash(const peer *p, const uint8_t *name, size_t n) {
  uint8_t port[2] = {(uint8_t)(p->port >> 8), (uint8_t)p->port};
  return mix(mix(client_hash(p), port, 2), name, n);
}

client_entry **transfer_client_find(engine *e, const peer *p) {
  client_entry **pp = &e->clients[client_hash(p) & e->clients_mask];
  while (*pp && !((*pp)->family == p->family && memcmp((*pp)->addr, p->addr, 16) == 0)) pp = &(*pp)->hnext;
  return pp;
}

transfer **transfer_unacked_find(engine *e, const peer *p, const uint8_t *name, size_t n) {
  transfer **pp = &e->unacked[key_hash(p, name, n) & e->unacked_mask];
  while (*pp && !((*pp)->p.port == p->port && (*pp)->p.family == p->family && (*pp)->name_len == n &&
                  memcmp((*pp)->p.addr, p->addr, 16) == 0 && memcmp((*pp)->name, name, n) == 0))
    pp = &(*pp)->hnext;
  return pp;
}

/* The peer acknowledged something (it is verified) or the transfer ends: out of the duplicate-RRQ table and out of
 * its client's unverified list. */
void transfer_forget_request(engine *e, transfer *t) {
  t->unacked = 0;
  transfer **pp = transfer_unacked_find(e, &t->p, t->name, t->name_len);
  if (*pp == t) *pp = t->hnext;
  t->hnext = NULL;
  client_entry *c = t->client;
  if (!c) return;
  if (t->uprev) t->uprev->unext = t->unext;
  else c->uhead = t->unext;
  if (t->unext) t->unext->uprev = t->uprev;
  else c->utail = t->uprev;
  t->uprev = t->unext = NULL;
  c->unverified--;
}

void transfer_release(engine *e, transfer *t) {
  if (t->state == T_FREE) return;
  t->state = T_FREE;
  if (t->prev) t->prev->next = t->next;
  else e->running = t->next;
  if (t->next) t->next->prev = t->prev;
  if (t->unacked) transfer_forget_request(e, t);
  client_entry **cp = transfer_client_find(e, &t->p);
  if (*cp && --(*cp)->n == 0) {
    client_entry *c = *cp;
    *cp = c->hnext;
    c->hnext = e->free_clients;
    e->free_clients = c;
  }
  t->client = NULL;
  if (t->tid) pool_put_back(e, t->tid);
  t->tid = NULL;
  if (t->file) files_unref(&e->files, t->file);
  t->file = NULL;
  free(t->opts);
  t->opts = NULL;
  t->prev = NULL;
  t->next = e->free_slots;
  e->free_slots = t;
  e->active--;
}

void transfer_account(engine *e, transfer *t, int ok, const char *reason, size_t n) {
  if (t->state == T_FREE) return;
  e->c.retransmissions += t->retransmissions;
  if (ok) {
    e->c.transfers_completed++;
  } else {
    e->c.transfers_failed++;
    char f[1536];
    sb s;
    sb_init(&s, f, sizeof f);
    log_fields_client_name(&s, &t->p, t->name, t->name_len);
    sb_str(&s, ",\"reason\":");
    sb_json(&s, reason, n);
    log_limited(e, "transfer-failed", s.p, s.len);
  }
}

void transfer_finish(engine *e, transfer *t, int ok, const char *reason, size_t n) {
  transfer_account(e, t, ok, reason, n);
  transfer_release(e, t);
}

/* The file is known: netascii, negotiation (errors refuse the request, as openFailed does), a TID, the start. */
void transfer_start(engine *e, transfer *t, file_entry *f, const tftp_option *opts, size_t nopts) {
  const request_socket *rs = &e->req[t->req_sock];
  char m[512];
  sb msg;
  sb_init(&msg, m, sizeof m);
  t->file = f;
  f->refs++;
  t->data = files_data(&e->files, f, t->netascii, &t->len);
  if (!t->data) {
    sb_str(&msg, ERR_TFTP_INTERNAL_MESSAGE);
    request_refuse_sb(e, rs, &t->sa, t->salen, &t->p, ERR_TFTP_INTERNAL_TFTP, ERR_TFTP_INTERNAL_CODE, &msg, t->name, t->name_len);
    transfer_release(e, t);
    return;
  }
  tftp_negotiated neg;
  if (tftp_negotiate(opts, nopts, t->len, &e->limits, &neg, &msg) < 0) {
    request_refuse_sb(e, rs, &t->sa, t->salen, &t->p, ERR_TFTP_OPTION_TFTP, ERR_TFTP_OPTION_CODE, &msg, t->name, t->name_len);
    transfer_release(e, t);
    return;
  }
  const char *call = "socket";
  int err = 0;
  tsock *s = pool_take(e, t->req_sock, &call, &err);
  if (!s) {
    char f2[1024], em[96];
    sb fs;
    sb_init(&fs, f2, sizeof f2);
    json_client(&fs, &t->p);
    sb_str(&fs, ",");
    errno_json(&fs, call, err, em, sizeof em);
    log_limited(e, "transfer-socket-error", fs.p, fs.len);
    transfer_release(e, t);
    return;
  }
  t->tid = s;
  s->t = t;
  pool_connect(s, &t->sa, t->salen);
  e->c.transfers_started++;
  transfer_begin(e, t, &neg);
}

void transfer_socket_error(engine *e, tsock *s, const char *call, int err) {
  char f[512], msg[96];
  sb fields;
  sb_init(&fields, f, sizeof f);
  transfer *t = s->t;
  if (t) {
    json_client(&fields, &t->p);
    sb_str(&fields, ",");
  }
  errno_json(&fields, call, err, msg, sizeof msg);
  log_limited(e, "transfer-socket-error", fields.p, fields.len);
  s->broken = 1;
  if (t) {
    char reason[128];
    sb r;
    sb_init(&r, reason, sizeof reason);
    sb_str(&r, "socket error: ");
    sb_str(&r, msg);
    transfer_finish(e, t, 0, r.p, r.len); /* puts the socket back: broken, so closed */
  } else if (!s->queued) {
    pool_discard(e, s);
  }
}

static void to_peer(const struct sockaddr_storage *sa, peer *p) {
  if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    p->family = 4;
    memset(p->addr, 0, 16);
    memcpy(p->addr, &a->sin_addr, 4);
    p->port = ntohs(a->sin_port);
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    p->family = 6;
    memcpy(p->addr, &a->sin6_addr, 16);
    p->port = ntohs(a->sin6_port);
  }
}

static int same_peer(const peer *a, const peer *b) {
  return a->port == b->port && a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
}

/* A datagram on fd (s->fd or s->wfd): judged by its sender, whichever descriptor it came in on. */
void transfer_datagram(engine *e, tsock *s, int fd) {
  struct sockaddr_storage sa;
  socklen_t salen = sizeof sa;
  ssize_t n = recvfrom(fd, e->rx, RECV_MAX, MSG_DONTWAIT, (struct sockaddr *)&sa, &salen);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && !pool_peer_gone(errno))
      transfer_socket_error(e, s, "recv", errno);
    return;
  }
  peer p;
  to_peer(&sa, &p);
  transfer *t = s->t;
  if (!t || !same_peer(&p, &t->p)) {
    /* Late packets of the transfer that just ended here (a repeated final ACK) are not worth an error. */
    if (!t && same_peer(&p, &s->last) && e->now < s->rest_until) return;
    /* RFC 1350 §4: a packet from an unknown TID gets error 5; the transfer is not disturbed. */
    e->c.unknown_tid++;
    send_error_to(e, fd, (struct sockaddr *)&sa, salen, ERR_TFTP_UNKNOWN_TID_TFTP, ERR_TFTP_UNKNOWN_TID_MESSAGE, ERR_TFTP_UNKNOWN_TID_MESSAGE_LEN);
    return;
  }
  transfer_receive(e, t, e->rx, (size_t)n);
  if (t->state != T_FREE && t->unacked && t->acknowledged) transfer_forget_request(e, t);
}
