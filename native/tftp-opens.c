/*
 * Pending opens: requests whose file is not in the cache wait for Node (OPEN → FILE or REFUSE). In a boot storm on
 * a cold cache thousands of phones ask for the same CTL at once; one OPEN per name is outstanding (the leader) and
 * later requests for that name wait on its answer (followers, counter opensCoalesced). A cacheable FILE starts every
 * follower with the same bytes (the cache already serves a cacheable answer to any client); an uncacheable FILE or
 * a REFUSE may depend on the client, so then each follower sends its own OPEN (or, over max_pending_opens, is
 * dropped like a busy request and retransmits). max_pending_opens bounds the OPENs outstanding, not the followers
 * (those are bounded by max_transfers).
 */
#include <stdlib.h>
#include <string.h>
#include "tftp-internal.h"

static transfer **leader_find(engine *e, const uint8_t *name, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ name[i]) * 1099511628211ull;
  transfer **pp = &e->opening[h & e->unacked_mask];
  while (*pp && !((*pp)->name_len == n && memcmp((*pp)->name, name, n) == 0)) pp = &(*pp)->onext;
  return pp;
}

int opens_has_leader(engine *e, const uint8_t *name, size_t n) { return *leader_find(e, name, n) != NULL; }

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v), put16(p + 2, (uint16_t)(v >> 16)); }

/* The OPEN frame (tftp-control.c describes the frames): u32 request id, u8 family, u16 port, the address, the name. */
static void open_frame(engine *e, const transfer *t) {
  uint8_t buf[16 + INET6_ADDRSTRLEN + NAME_CAP];
  char addr[INET6_ADDRSTRLEN + 1];
  peer_text(&t->p, addr, sizeof addr);
  size_t al = strlen(addr), o = 0;
  put32(buf, t->req_id);
  buf[4] = t->p.family;
  put16(buf + 5, t->p.port);
  buf[7] = (uint8_t)al;
  memcpy(buf + 8, addr, al);
  o = 8 + al;
  put16(buf + o, (uint16_t)t->name_len);
  memcpy(buf + o + 2, t->name, t->name_len);
  control_send(e, F_OPEN, buf, o + 2 + t->name_len, 0);
}

static void send_open(engine *e, transfer *t) {
  e->c.opens_forwarded++;
  e->pending++;
  t->req_id = (++e->next_seq << e->slot_bits) | (t->slot + 1);
  open_frame(e, t);
}

void opens_forward(engine *e, transfer *t, const uint8_t *opts, size_t opts_len) {
  t->state = T_PENDING;
  if (opts_len) {
    t->opts = malloc(opts_len);
    if (t->opts) memcpy(t->opts, opts, opts_len);
    t->opts_len = t->opts ? opts_len : 0;
  }
  transfer **lp = leader_find(e, t->name, t->name_len);
  if (*lp) {
    t->leader = *lp;
    t->wnext = (*lp)->waiters;
    (*lp)->waiters = t;
    e->c.opens_coalesced++;
    return;
  }
  t->onext = NULL;
  *lp = t;
  t->listed = 1;
  send_open(e, t);
}

/* A follower sends its own OPEN (not listed: its answer may be its own), or is dropped over the bound. */
static void open_alone(engine *e, transfer *w) {
  w->leader = w->wnext = NULL;
  if (e->pending >= e->cfg.max_pending_opens) {
    request_dropped(e, &w->p, w->name, w->name_len, "maxPendingOpens");
    transfer_release(e, w);
    return;
  }
  send_open(e, w);
}

/* The leader's answer came (or it is being released): off the table, its followers handed back. */
static transfer *detach(engine *e, transfer *t) {
  if (t->listed) {
    transfer **lp = leader_find(e, t->name, t->name_len);
    if (*lp == t) *lp = t->onext;
    t->listed = 0;
  }
  e->pending--;
  t->req_id = 0;
  transfer *w = t->waiters;
  t->waiters = NULL;
  for (transfer *x = w; x; x = x->wnext) x->leader = NULL;
  return w;
}

void opens_release(engine *e, transfer *t) {
  if (t->req_id) {
    transfer *w = detach(e, t);
    while (w) { /* a leader released before its answer (shutdown, or evicted unverified): followers ask alone */
      transfer *next = w->wnext;
      w->wnext = NULL;
      if (!e->stopping) open_alone(e, w);
      w = next;
    }
  } else if (t->leader) {
    transfer **pp = &t->leader->waiters;
    while (*pp && *pp != t) pp = &(*pp)->wnext;
    if (*pp) *pp = t->wnext;
    t->leader = t->wnext = NULL;
  }
}

static transfer *pending_slot(engine *e, uint32_t req) {
  uint32_t low = req & ((1u << e->slot_bits) - 1);
  if (low == 0 || low > e->cfg.max_transfers) return NULL;
  transfer *t = &e->slots[low - 1];
  return t->state == T_PENDING && t->req_id == req ? t : NULL;
}

static void start(engine *e, transfer *t, file_entry *f) {
  size_t count = 0;
  char m[256];
  sb msg;
  sb_init(&msg, m, sizeof m);
  if (t->opts) tftp_decode_options(t->opts, t->opts_len, 0, e->opts, e->opts_cap, &count, &msg);
  t->state = T_OPENING;
  transfer_start(e, t, f, e->opts, count < e->opts_cap ? count : e->opts_cap);
}

void requests_on_file(engine *e, uint32_t req, file_entry *f, int cacheable) {
  transfer *t = pending_slot(e, req);
  if (!t) return;
  transfer *w = detach(e, t);
  start(e, t, f);
  while (w) {
    transfer *next = w->wnext;
    w->wnext = NULL;
    if (cacheable) start(e, w, f);
    else open_alone(e, w);
    w = next;
  }
}

void requests_on_refuse(engine *e, uint32_t req, uint16_t tftp_code, const char *code, size_t code_len,
                        const char *msg, size_t msg_len) {
  transfer *t = pending_slot(e, req);
  if (!t) return;
  transfer *w = detach(e, t);
  request_refuse(e, &e->req[t->req_sock], &t->sa, t->salen, &t->p, tftp_code, code, code_len, msg, msg_len, t->name,
                 t->name_len);
  transfer_release(e, t);
  while (w) {
    transfer *next = w->wnext;
    w->wnext = NULL;
    open_alone(e, w);
    w = next;
  }
}
