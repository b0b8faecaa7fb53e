/*
 * The request path (server.ts onRequest, opened, openFailed, finish, release) and its bounds. A request that
 * passes the packet, mode and name checks, is not a retransmitted RRQ of a transfer its client has not acknowledged
 * yet (key address|port|name) and fits max_transfers, max_transfers_per_client (and, for a cache miss,
 * max_pending_opens) becomes a transfer slot at once — a pending open counts as a running transfer, as in
 * server.ts. A cache hit starts the transfer in the same turn; a miss sends OPEN to Node and waits for FILE or
 * REFUSE. Slots, names and client counts are preallocated: nothing here allocates per request except the option
 * bytes of a pending open.
 *
 * A request's source can be forged: a transfer is unverified until its peer acknowledges something, and at most
 * max_unverified_per_client unverified transfers run per address. A request over that bound or over
 * max_transfers_per_client evicts the address's oldest unverified transfer rather than being dropped, so spoofed
 * RRQs bearing a phone's address push each other out instead of locking the phone out (server.ts does the same).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "tftp-internal.h"

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}
static uint64_t client_hash(const peer *p) { return mix(1469598103934665603ull ^ p->family, p->addr, 16); }
static uint64_t key_hash(const peer *p, const uint8_t *name, size_t n) {
  uint8_t port[2] = {(uint8_t)(p->port >> 8), (uint8_t)p->port};
  return mix(mix(client_hash(p), port, 2), name, n);
}

int requests_init(engine *e) {
  uint32_t max = e->cfg.max_transfers;
  e->name_cap = e->cfg.max_filename_length;
  e->slots = calloc(max, sizeof *e->slots);
  e->names = malloc((size_t)max * e->name_cap);
  e->client_pool = calloc(max, sizeof *e->client_pool);
  size_t buckets = 1024;
  while (buckets < 2 * (size_t)max) buckets <<= 1;
  e->unacked = calloc(buckets, sizeof *e->unacked);
  e->opening = calloc(buckets, sizeof *e->opening);
  e->clients = calloc(buckets, sizeof *e->clients);
  e->unacked_mask = e->clients_mask = buckets - 1;
  if (!e->slots || !e->names || !e->client_pool || !e->unacked || !e->opening || !e->clients) return -1;
  for (uint32_t i = max; i-- > 0;) {
    e->slots[i].slot = i;
    e->slots[i].name = e->names + (size_t)i * e->name_cap;
    e->slots[i].next = e->free_slots;
    e->free_slots = &e->slots[i];
    e->client_pool[i].hnext = e->free_clients;
    e->free_clients = &e->client_pool[i];
  }
  e->slot_bits = 1;
  while (((uint64_t)1 << e->slot_bits) <= max) e->slot_bits++;
  return 0;
}

void requests_destroy(engine *e) {
  free(e->slots);
  free(e->names);
  free(e->client_pool);
  free(e->unacked);
  free(e->opening);
  free(e->clients);
}

void json_client(sb *s, const peer *p) {
  char addr[INET6_ADDRSTRLEN + 1];
  peer_text(p, addr, sizeof addr);
  sb_str(s, "\"client\":{\"address\":\"");
  sb_str(s, addr);
  sb_str(s, "\",\"port\":");
  sb_u64(s, p->port);
  sb_str(s, p->family == 4 ? ",\"family\":\"IPv4\"}" : ",\"family\":\"IPv6\"}");
}

/* server.ts logLimited: at most max_log_lines_per_second lines a second, then one log-suppressed summary. */
void log_limited(engine *e, const char *event, const char *fields, size_t n) {
  uint64_t max = e->cfg.max_log_lines_per_second;
  if (e->now - e->log_window_start >= 1000) {
    if (e->log_window_count > max) {
      char f[48];
      sb s;
      sb_init(&s, f, sizeof f);
      sb_str(&s, "\"lines\":");
      sb_u64(&s, e->log_window_count - max);
      control_send_log(e, "warn", "log-suppressed", s.p, s.len);
    }
    e->log_window_start = e->now;
    e->log_window_count = 0;
  }
  if (++e->log_window_count > max) {
    e->c.log_suppressed++;
    return;
  }
  control_send_log(e, "warn", event, fields, n);
}

static void fields_client_name(sb *s, const peer *p, const uint8_t *name, size_t n) {
  char pr[600];
  sb q;
  sb_init(&q, pr, sizeof pr);
  sb_printable(&q, name, n);
  json_client(s, p);
  sb_str(s, ",\"filename\":");
  sb_json(s, q.p, q.len);
}

/* Answer a request with an error from the request socket, and write its one log line. */
void request_refuse(engine *e, const request_socket *rs, const struct sockaddr_storage *sa, socklen_t salen,
                   const peer *p, uint16_t tftp_code, const char *code, size_t code_len, const char *msg, size_t n,
                   const uint8_t *name, size_t name_len) {
  send_error_to(e, rs->fd, (const struct sockaddr *)sa, salen, tftp_code, msg, n);
  char f[8192];
  sb s;
  sb_init(&s, f, sizeof f);
  fields_client_name(&s, p, name, name_len);
  sb_str(&s, ",\"tftpCode\":");
  sb_u64(&s, tftp_code);
  sb_str(&s, ",\"code\":");
  /* Node's code and message are bounded for the log line (the fields buffer must hold whole JSON). */
  sb_json(&s, code, utf8_cut(code, code_len, 64));
  sb_str(&s, ",\"message\":");
  sb_json(&s, msg, utf8_cut(msg, n, 512));
  log_limited(e, "request-refused", s.p, s.len);
}

static void refuse_z(engine *e, const request_socket *rs, const struct sockaddr_storage *sa, socklen_t salen,
                     const peer *p, uint16_t tftp_code, const char *code, const sb *msg, const uint8_t *name,
                     size_t name_len) {
  request_refuse(e, rs, sa, salen, p, tftp_code, code, strlen(code), msg->p, msg->len, name, name_len);
}

void request_dropped(engine *e, const peer *p, const uint8_t *name, size_t n, const char *reason) {
  char f[1024];
  sb s;
  sb_init(&s, f, sizeof f);
  fields_client_name(&s, p, name, n);
  sb_str(&s, ",\"reason\":\"");
  sb_str(&s, reason);
  sb_str(&s, "\"");
  e->c.busy_drops++;
  log_limited(e, "request-dropped", s.p, s.len);
}

static client_entry **client_find(engine *e, const peer *p) {
  client_entry **pp = &e->clients[client_hash(p) & e->clients_mask];
  while (*pp && !((*pp)->family == p->family && memcmp((*pp)->addr, p->addr, 16) == 0)) pp = &(*pp)->hnext;
  return pp;
}

static transfer **unacked_find(engine *e, const peer *p, const uint8_t *name, size_t n) {
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
  transfer **pp = unacked_find(e, &t->p, t->name, t->name_len);
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
  if (t->state == T_PENDING) opens_release(e, t);
  t->state = T_FREE;
  if (t->prev) t->prev->next = t->next;
  else e->running = t->next;
  if (t->next) t->next->prev = t->prev;
  if (t->unacked) transfer_forget_request(e, t);
  client_entry **cp = client_find(e, &t->p);
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

void transfer_finish(engine *e, transfer *t, int ok, const char *reason, size_t n) {
  if (t->state == T_FREE) return;
  e->c.retransmissions += t->retransmissions;
  if (ok) {
    e->c.transfers_completed++;
  } else {
    e->c.transfers_failed++;
    char f[1536];
    sb s;
    sb_init(&s, f, sizeof f);
    fields_client_name(&s, &t->p, t->name, t->name_len);
    sb_str(&s, ",\"reason\":");
    sb_json(&s, reason, n);
    log_limited(e, "transfer-failed", s.p, s.len);
  }
  transfer_release(e, t);
}

/* The file is known: netascii, negotiation (errors refuse the request, as openFailed does), a TID, the start. */
void request_opened(engine *e, transfer *t, file_entry *f, const tftp_option *opts, size_t nopts) {
  const request_socket *rs = &e->req[t->req_sock];
  char m[512];
  sb msg;
  sb_init(&msg, m, sizeof m);
  t->file = f;
  f->refs++;
  t->data = files_data(&e->files, f, t->netascii, &t->len);
  if (!t->data) {
    sb_str(&msg, "internal error");
    refuse_z(e, rs, &t->sa, t->salen, &t->p, TE_NOT_DEFINED, "ERR_TFTP_INTERNAL", &msg, t->name, t->name_len);
    transfer_release(e, t);
    return;
  }
  tftp_negotiated neg;
  if (tftp_negotiate(opts, nopts, t->len, &e->limits, &neg, &msg) < 0) {
    refuse_z(e, rs, &t->sa, t->salen, &t->p, TE_OPTION, "ERR_TFTP_OPTION", &msg, t->name, t->name_len);
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

void request_datagram(engine *e, request_socket *rs, uint8_t *buf, size_t len, const struct sockaddr_storage *sa,
                      socklen_t salen) {
  e->c.requests++;
  peer p;
  memset(&p, 0, sizeof p);
  if (sa->ss_family == AF_INET) {
    p.family = 4;
    memcpy(p.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    p.port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
  } else {
    p.family = 6;
    memcpy(p.addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    p.port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
  }
  char m[1024];
  sb msg;
  sb_init(&msg, m, sizeof m);
  if (len > e->cfg.max_request_bytes) {
    sb_str(&msg, "request of ");
    sb_u64(&msg, len);
    sb_str(&msg, " bytes is longer than ");
    sb_u64(&msg, e->cfg.max_request_bytes);
    refuse_z(e, rs, sa, salen, &p, TE_ILLEGAL, "ERR_TFTP_REQUEST_TOO_LONG", &msg, NULL, 0);
    return;
  }
  tftp_packet pk;
  if (tftp_decode(buf, len, &pk, e->opts, e->opts_cap, &msg) < 0) {
    refuse_z(e, rs, sa, salen, &p, TE_ILLEGAL, "ERR_TFTP_MALFORMED", &msg, NULL, 0);
    return;
  }
  if (pk.opcode == OP_ERROR) return; /* RFC 1350 §7: errors are never answered */
  if (pk.opcode == OP_WRQ) {
    sb_str(&msg, "write requests are refused: this server is read-only");
    refuse_z(e, rs, sa, salen, &p, TE_ACCESS, "ERR_TFTP_WRITE_REFUSED", &msg, pk.filename, pk.filename_len);
    return;
  }
  if (pk.opcode != OP_RRQ) {
    /* DATA/ACK/OACK at the request port belong to no transfer: counted, not answered (no loops, no reflection). */
    e->c.stray_packets++;
    return;
  }
  int octet = pk.mode_len == 5 && memcmp(pk.mode, "octet", 5) == 0;
  int ascii = pk.mode_len == 8 && memcmp(pk.mode, "netascii", 8) == 0;
  if (!octet && !(ascii && e->cfg.netascii)) {
    sb_str(&msg, "transfer mode \"");
    sb_printable(&msg, pk.mode, pk.mode_len);
    sb_str(&msg, "\" is not supported");
    refuse_z(e, rs, sa, salen, &p, TE_ILLEGAL, "ERR_TFTP_MODE", &msg, pk.filename, pk.filename_len);
    return;
  }
  const char *code;
  int bad = tftp_check_filename(pk.filename, pk.filename_len, e->cfg.max_filename_length, &code, &msg);
  if (bad) {
    refuse_z(e, rs, sa, salen, &p, (uint16_t)bad, code, &msg, pk.filename, pk.filename_len);
    return;
  }
  if (*unacked_find(e, &p, pk.filename, pk.filename_len)) {
    e->c.duplicate_requests++;
    return;
  }
  client_entry **cp = client_find(e, &p);
  if (*cp && ((*cp)->unverified >= e->cfg.max_unverified_per_client || (*cp)->n >= e->cfg.max_per_client) &&
      (*cp)->uhead) {
    static const char why[] = "evicted: a newer request from this address and this one was never acknowledged";
    e->c.unverified_evicted++;
    transfer_finish(e, (*cp)->uhead, 0, why, sizeof why - 1);
    cp = client_find(e, &p); /* the entry is gone when that was the address's last transfer */
  }
  uint32_t n = *cp ? (*cp)->n : 0;
  if (e->active >= e->cfg.max_transfers || n >= e->cfg.max_per_client) {
    request_dropped(e, &p, pk.filename, pk.filename_len, n >= e->cfg.max_per_client ? "maxTransfersPerClient" : "maxTransfers");
    return;
  }
  file_entry *f = files_lookup(&e->files, pk.filename, pk.filename_len, e->now);
  int read_here = 0; /* f read from the folder now (tftp-folder.c): this function holds one reference */
  if (!f) {
    uint16_t tcode;
    const char *code;
    sb_init(&msg, m, sizeof m);
    read_here = folder_open(e, pk.filename, pk.filename_len, &f, &tcode, &code, &msg);
    if (read_here < 0) {
      refuse_z(e, rs, sa, salen, &p, tcode, code, &msg, pk.filename, pk.filename_len);
      return;
    }
  }
  if (!f && e->pending >= e->cfg.max_pending_opens && !opens_has_leader(e, pk.filename, pk.filename_len)) {
    request_dropped(e, &p, pk.filename, pk.filename_len, "maxPendingOpens");
    return;
  }
  transfer *t = e->free_slots;
  e->free_slots = t->next;
  uint32_t slot = t->slot;
  uint8_t *name = t->name;
  memset(t, 0, sizeof *t);
  t->slot = slot;
  t->name = name;
  memcpy(t->name, pk.filename, pk.filename_len);
  t->name_len = pk.filename_len;
  t->p = p;
  memcpy(&t->sa, sa, salen);
  t->salen = salen;
  t->req_sock = (int)(rs - e->req);
  t->netascii = ascii;
  t->deadline = INT64_MAX;
  t->next = e->running;
  if (e->running) e->running->prev = t;
  e->running = t;
  e->active++;
  transfer **up = unacked_find(e, &p, pk.filename, pk.filename_len);
  t->hnext = *up;
  *up = t;
  t->unacked = 1;
  if (!*cp) {
    client_entry *c = e->free_clients;
    e->free_clients = c->hnext;
    c->family = p.family;
    memcpy(c->addr, p.addr, 16);
    c->n = c->unverified = 0;
    c->uhead = c->utail = NULL;
    c->hnext = NULL;
    *cp = c;
  }
  (*cp)->n++;
  t->client = *cp;
  t->uprev = (*cp)->utail;
  if ((*cp)->utail) (*cp)->utail->unext = t;
  else (*cp)->uhead = t;
  (*cp)->utail = t;
  (*cp)->unverified++;
  if (f) {
    if (!read_here) e->c.cache_hits++;
    t->state = T_OPENING;
    request_opened(e, t, f, e->opts, pk.option_count < e->opts_cap ? pk.option_count : e->opts_cap);
    if (read_here) files_unref(&e->files, f);
    return;
  }
  size_t at = (size_t)(pk.mode + pk.mode_len + 1 - buf);
  opens_forward(e, t, buf + at, at < len ? len - at : 0);
}

void requests_release_all(engine *e) {
  while (e->running) transfer_release(e, e->running);
}
