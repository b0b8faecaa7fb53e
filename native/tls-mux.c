/*
 * The stream between one worker and Node (a socketpair per worker, not per connection): every connection's
 * plaintext and events travel in frames `id u32 LE, kind u8, length u32 LE, payload`, so Node reads many
 * connections' bytes with one read and a connection costs it no file descriptor. Frames to Node queue in one
 * growable buffer written after each epoll batch; connections stop reading TLS while it holds more than
 * SBD_TLS_MUX_HIGH (tls-relay.c asks), so its size is bounded by that plus one record and the OPEN/CLOSE frames.
 * Ids index a slot table; an id is reused only after Node said CLOSE for it, so a late frame never names a
 * newer connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tls-internal.h"

int sbd_tls_mux_init(sbd_tls_mux *m, int fd) {
  memset(m, 0, sizeof *m);
  m->fd = fd;
  return 0;
}

void sbd_tls_mux_free(sbd_tls_mux *m) {
  free(m->out);
  free(m->slots);
  free(m->free_ids);
  if (m->fd >= 0) close(m->fd);
  m->out = NULL;
  m->slots = NULL;
  m->free_ids = NULL;
  m->fd = -1;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint8_t *sbd_tls_mux_reserve(sbd_tls_mux *m, size_t max) {
  if (m->out_off > 0 && m->out_off == m->out_len) m->out_off = m->out_len = 0;
  size_t need = m->out_len + SBD_TLS_FRAME_HEADER + max;
  if (need > m->out_cap && m->out_off > 0) { /* reclaim the written head first */
    memmove(m->out, m->out + m->out_off, m->out_len - m->out_off);
    m->out_len -= m->out_off;
    m->out_off = 0;
    need = m->out_len + SBD_TLS_FRAME_HEADER + max;
  }
  if (need > m->out_cap) {
    size_t cap = m->out_cap ? m->out_cap : 65536;
    while (cap < need) cap *= 2;
    uint8_t *p = realloc(m->out, cap);
    if (!p) return NULL;
    m->out = p;
    m->out_cap = cap;
  }
  return m->out + m->out_len + SBD_TLS_FRAME_HEADER;
}

void sbd_tls_mux_commit(sbd_tls_mux *m, uint32_t id, int kind, size_t len) {
  uint8_t *h = m->out + m->out_len;
  put32(h, id);
  h[4] = (uint8_t)kind;
  put32(h + 5, (uint32_t)len);
  m->out_len += SBD_TLS_FRAME_HEADER + len;
  if (kind == SBD_TLS_F_CREDIT) return;
  if (m->quiet) m->deferred = 1;
  else m->urgent = 1;
}

int sbd_tls_mux_frame(sbd_tls_mux *m, uint32_t id, int kind, const void *payload, size_t len) {
  uint8_t *p = sbd_tls_mux_reserve(m, len);
  if (!p) return -1;
  if (len) memcpy(p, payload, len);
  sbd_tls_mux_commit(m, id, kind, len);
  return 0;
}

int sbd_tls_mux_frame_deferred(sbd_tls_mux *m, uint32_t id, int kind, const void *payload, size_t len) {
  m->quiet = 1;
  int rc = sbd_tls_mux_frame(m, id, kind, payload, len);
  m->quiet = 0;
  return rc;
}

int sbd_tls_mux_credit(sbd_tls_mux *m, uint32_t id, uint32_t n) {
  uint8_t v[4];
  put32(v, n);
  return sbd_tls_mux_frame(m, id, SBD_TLS_F_CREDIT, v, 4);
}

size_t sbd_tls_mux_pending(const sbd_tls_mux *m) { return m->out_len - m->out_off; }

int sbd_tls_mux_flush(sbd_tls_mux *m) {
  while (m->out_len > m->out_off) {
    ssize_t n = write(m->fd, m->out + m->out_off, m->out_len - m->out_off);
    if (n > 0) {
      m->out_off += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return 1;
    } else {
      m->broken = 1; /* Node closed its end: nobody to tell */
      m->out_off = m->out_len = 0;
      return -1;
    }
  }
  m->out_off = m->out_len = 0;
  m->urgent = m->deferred = 0;
  return 0;
}

uint32_t sbd_tls_mux_attach(sbd_tls_mux *m, sbd_tls_conn *c) {
  if (m->nfree == 0) {
    uint32_t n = m->nslots ? m->nslots * 2 : 64;
    sbd_tls_conn **slots = realloc(m->slots, n * sizeof *slots);
    if (!slots) return 0;
    m->slots = slots;
    uint32_t *ids = realloc(m->free_ids, n * sizeof *ids);
    if (!ids) return 0;
    m->free_ids = ids;
    for (uint32_t i = n; i > m->nslots; i--) {
      m->slots[i - 1] = NULL;
      m->free_ids[m->nfree++] = i; /* ids are slot + 1; the lowest comes out first */
    }
    m->nslots = n;
  }
  uint32_t id = m->free_ids[--m->nfree];
  m->slots[id - 1] = c;
  return id;
}

sbd_tls_conn *sbd_tls_mux_conn(sbd_tls_mux *m, uint32_t id) {
  return id >= 1 && id <= m->nslots ? m->slots[id - 1] : NULL;
}

void sbd_tls_mux_detach(sbd_tls_mux *m, uint32_t id) {
  if (!sbd_tls_mux_conn(m, id)) return;
  m->slots[id - 1] = NULL;
  m->free_ids[m->nfree++] = id; /* free_ids has room for every slot */
}

int sbd_tls_mux_read(sbd_tls_mux *m, void (*on_frame)(void *ctx, uint32_t id, int kind, const uint8_t *p, uint32_t len),
                     void *ctx) {
  for (;;) {
    ssize_t n = read(m->fd, m->in + m->in_len, sizeof m->in - m->in_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 0;
    if (n <= 0) {
      m->broken = 1;
      return -1;
    }
    m->in_len += (size_t)n;
    size_t off = 0;
    while (m->in_len - off >= SBD_TLS_FRAME_HEADER) {
      const uint8_t *h = m->in + off;
      uint32_t len = get32(h + 5);
      if (len > SBD_TLS_FRAME_MAX) {
        m->broken = 1;
        return -1;
      }
      if (m->in_len - off < SBD_TLS_FRAME_HEADER + len) break;
      on_frame(ctx, get32(h), h[4], h + SBD_TLS_FRAME_HEADER, len);
      off += SBD_TLS_FRAME_HEADER + len;
    }
    memmove(m->in, m->in + off, m->in_len - off);
    m->in_len -= off;
  }
}
