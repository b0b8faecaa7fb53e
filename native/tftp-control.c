/*
 * The control socketpair between the engine and Node (SOCK_STREAM; every integer little-endian). Every frame is
 * `u32 length` (of what follows), `u8 type`, body. Node → engine: 1 FILE, 2 REFUSE, 3 FLUSH, 4 STATS, 5 STOP.
 * Engine → Node: 129 OPEN, 130 LOG, 131 STATS. Frames may be split across reads and several may come in one read;
 * a frame larger than the read buffer (a FILE of megabytes) is read in place into its own allocation, which the
 * cache then adopts. Output queues while the socket is full: OPEN and STATS always (their number is bounded by
 * max_pending_opens and by Node's requests), LOG only up to OUT_LOG_LIMIT queued bytes (counted when dropped).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "tftp-internal.h"

#define IN_CAP (256 * 1024)
#define FRAME_MAX (1u << 30)

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v), put16(p + 2, (uint16_t)(v >> 16)); }

int control_init(engine *e) {
  control *c = &e->ctl;
  int sv[2];
  c->kind = K_CONTROL;
  c->fd = c->node_fd = -1;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) return -1;
  c->fd = sv[0];
  c->node_fd = sv[1];
  int sz = 4 * 1024 * 1024;
  setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  c->in_cap = IN_CAP;
  c->out_cap = 64 * 1024;
  c->in = malloc(c->in_cap);
  c->out = malloc(c->out_cap);
  return c->in && c->out ? 0 : -1;
}

void control_destroy(engine *e) {
  control *c = &e->ctl;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  free(c->in);
  free(c->out);
  free(c->frame);
  c->in = c->out = c->frame = NULL;
}




static void send_stats(engine *e) {
  size_t codes = 0;
  for (size_t i = 0; i < 65536; i++) codes += e->c.errors_sent[i] != 0;
  size_t cap = 2048 + codes * 32;
  char *buf = malloc(cap);
  if (!buf) return;
  sb s;
  sb_init(&s, buf + 4, cap - 4);
  const counters *c = &e->c;
  const struct { const char *k; uint64_t v; } first[] = {
      {"requests", c->requests}, {"transfersStarted", c->transfers_started},
      {"transfersCompleted", c->transfers_completed}, {"transfersFailed", c->transfers_failed},
      {"retransmissions", c->retransmissions}};
  const struct { const char *k; uint64_t v; } rest[] = {
      {"busyDrops", c->busy_drops}, {"unverifiedEvicted", c->unverified_evicted},
      {"lifetimeExpired", c->lifetime_expired}, {"duplicateRequests", c->duplicate_requests}, {"unknownTid", c->unknown_tid},
      {"strayPackets", c->stray_packets}, {"logSuppressed", c->log_suppressed}, {"bytesSent", c->bytes_sent},
      {"active", e->active}, {"transferSockets", e->tsocks}, {"idleSockets", e->idle},
      {"cachedFiles", e->files.count}, {"cacheBytes", e->files.bytes}, {"opensForwarded", c->opens_forwarded},
      {"cacheHits", c->cache_hits}, {"pendingOpens", e->pending}, {"logFramesDropped", c->log_frames_dropped},
      {"restsCutShort", c->rests_cut_short}, {"opensCoalesced", c->opens_coalesced},
      {"folderReads", c->folder_reads}};
  sb_str(&s, "{");
  for (size_t i = 0; i < sizeof first / sizeof first[0]; i++) {
    sb_str(&s, i ? ",\"" : "\"");
    sb_str(&s, first[i].k);
    sb_str(&s, "\":");
    sb_u64(&s, first[i].v);
  }
  sb_str(&s, ",\"errorsSent\":{");
  for (size_t i = 0, k = 0; i < 65536; i++) {
    if (!c->errors_sent[i]) continue;
    sb_str(&s, k++ ? ",\"" : "\"");
    sb_u64(&s, i);
    sb_str(&s, "\":");
    sb_u64(&s, c->errors_sent[i]);
  }
  sb_str(&s, "}");
  for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
    sb_str(&s, ",\"");
    sb_str(&s, rest[i].k);
    sb_str(&s, "\":");
    sb_u64(&s, rest[i].v);
  }
  sb_str(&s, "}");
  put32((uint8_t *)buf, (uint32_t)s.len);
  control_send(e, F_STATS_OUT, buf, s.len + 4, 0);
  free(buf);
}

static void bad_frame(engine *e, const char *what) {
  char f[128];
  sb s;
  sb_init(&s, f, sizeof f);
  sb_str(&s, "\"reason\":");
  sb_json(&s, what, strlen(what));
  control_send_log(e, "error", "control-frame-invalid", s.p, s.len);
}

/* One whole frame: p[0] is the type. `owned` is p's own allocation (a large frame), adopted by a FILE. */
static int dispatch(engine *e, uint8_t *p, size_t n, uint8_t *owned) {
  const uint8_t *b = p + 1;
  size_t bl = n - 1;
  switch (p[0]) {
  case F_FILE: {
    if (bl < 19) break;
    uint32_t req = get32(b);
    uint8_t flags = b[4];
    uint64_t gen = get64(b + 5);
    uint32_t ttl = get32(b + 13);
    size_t nl = get16(b + 17);
    if (bl < 19 + nl + 4) break;
    const uint8_t *name = b + 19;
    size_t dl = get32(b + 19 + nl);
    if (bl != 23 + nl + dl) break;
    const uint8_t *data = b + 23 + nl;
    uint8_t *block = owned;
    if (!block) {
      block = malloc(dl ? dl : 1);
      if (!block) return -1;
      memcpy(block, data, dl);
      data = block;
    }
    file_entry *f = files_make(name, nl, block, data, dl, gen, gen != UINT64_MAX, ttl ? e->now + ttl : 0);
    if (!f) {
      if (!owned) free(block);
      return -1;
    }
    if (owned) e->ctl.frame = NULL; /* adopted */
    f->refs++; /* held while it is inserted and handed to the request */
    if (flags & 1) files_insert(&e->files, f);
    if (req) requests_on_file(e, req, f, flags & 1);
    files_unref(&e->files, f);
    return 0;
  }
  case F_REFUSE: {
    if (bl < 8) break;
    uint32_t req = get32(b);
    uint16_t code = get16(b + 4);
    size_t cl = get16(b + 6);
    if (bl < 8 + cl + 2) break;
    size_t ml = get16(b + 8 + cl);
    if (bl != 10 + cl + ml) break;
    requests_on_refuse(e, req, code, (const char *)b + 8, cl, (const char *)b + 10 + cl, ml);
    return 0;
  }
  case F_FLUSH:
    files_flush(&e->files);
    return 0;
  case F_STATS:
    send_stats(e);
    return 0;
  case F_STOP:
    return 1;
  default:
    bad_frame(e, "unknown frame type");
    return 0;
  }
  bad_frame(e, "frame lengths do not add up");
  return 0;
}

int control_readable(engine *e) {
  control *c = &e->ctl;
  for (;;) {
    if (c->frame) {
      ssize_t r = read(c->fd, c->frame + c->frame_have, c->frame_len - c->frame_have);
      if (r == 0) return 1;
      if (r < 0) {
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
      }
      c->frame_have += (size_t)r;
      if (c->frame_have < c->frame_len) continue;
      uint8_t *f = c->frame;
      int rc = dispatch(e, f, c->frame_len, f);
      if (c->frame) free(c->frame); /* not adopted */
      c->frame = NULL;
      if (rc) return rc;
      continue;
    }
    ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (r == 0) return 1;
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
    c->in_len += (size_t)r;
    size_t pos = 0;
    int rc = 0;
    while (rc == 0 && c->in_len - pos >= 4) {
      uint32_t len = get32(c->in + pos);
      if (len == 0 || len > FRAME_MAX) return -1; /* the stream cannot be resynchronised */
      if (c->in_len - pos - 4 >= len) {
        rc = dispatch(e, c->in + pos + 4, len, NULL);
        pos += 4 + (size_t)len;
      } else if ((size_t)len + 4 > c->in_cap) {
        c->frame = malloc(len);
        if (!c->frame) return -1;
        c->frame_len = len;
        c->frame_have = c->in_len - pos - 4;
        memcpy(c->frame, c->in + pos + 4, c->frame_have);
        pos = c->in_len;
      } else {
        break;
      }
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    if (rc) return rc;
  }
}

/* Writes what is queued; arms EPOLLOUT while the socket is full. 0, or -1 when Node's end is gone. */
int control_flush(engine *e) {
  control *c = &e->ctl;
  while (c->out_off < c->out_len) {
    ssize_t r = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      break;
    }
    c->out_off += (size_t)r;
  }
  if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
  int want = c->out_len > 0;
  if (want != c->out_armed) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(e->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_armed = want;
  }
  return 0;
}
