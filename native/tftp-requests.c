/*
 * The request path (server.ts onRequest) and its bounds; a started transfer's life is tftp-transfer.c's. A request that
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


/* Ends t, failed (reason NULL: quietly, at shutdown); a pending open leaves the open table first (tftp-opens.c), in
 * the order server.ts's finish → release runs: the transfer-failed line, then the followers' fate. */
static void release(engine *e, transfer *t, const char *reason, size_t n) {
  if (reason) transfer_account(e, t, 0, reason, n);
  if (t->state == T_PENDING) opens_release(e, t);
  transfer_release(e, t);
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
  tftp_packet pk;
  tftp_verdict v;
  switch (tftp_judge_request(buf, len, &e->cfg, &pk, e->opts, e->opts_cap, &v, &msg)) {
  case V_IGNORE:
    return; /* RFC 1350 §7: errors are never answered */
  case V_STRAY:
    e->c.stray_packets++; /* DATA/ACK/OACK at the request port: counted, not answered (no loops, no reflection) */
    return;
  case V_REFUSE:
    request_refuse_sb(e, rs, sa, salen, &p, v.tftp_code, v.code, &msg, pk.filename, pk.filename_len);
    return;
  }
  int ascii = v.netascii;
  if (*transfer_unacked_find(e, &p, pk.filename, pk.filename_len)) {
    e->c.duplicate_requests++;
    return;
  }
  client_entry **cp = transfer_client_find(e, &p);
  if (*cp && ((*cp)->unverified >= e->cfg.max_unverified_per_client || (*cp)->n >= e->cfg.max_transfers_per_client) &&
      (*cp)->uhead) {
    static const char why[] = "evicted: a newer request from this address and this one was never acknowledged";
    e->c.unverified_evicted++;
    release(e, (*cp)->uhead, why, sizeof why - 1);
    cp = transfer_client_find(e, &p); /* the entry is gone when that was the address's last transfer */
  }
  uint32_t n = *cp ? (*cp)->n : 0;
  if (e->active >= e->cfg.max_transfers || n >= e->cfg.max_transfers_per_client) {
    request_dropped(e, &p, pk.filename, pk.filename_len, n >= e->cfg.max_transfers_per_client ? "maxTransfersPerClient" : "maxTransfers");
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
      request_refuse_sb(e, rs, sa, salen, &p, tcode, code, &msg, pk.filename, pk.filename_len);
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
  transfer **up = transfer_unacked_find(e, &p, pk.filename, pk.filename_len);
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
    transfer_start(e, t, f, e->opts, pk.option_count < e->opts_cap ? pk.option_count : e->opts_cap);
    if (read_here) files_unref(&e->files, f);
    return;
  }
  size_t at = (size_t)(pk.mode + pk.mode_len + 1 - buf);
  opens_forward(e, t, buf + at, at < len ? len - at : 0);
}

void requests_release_all(engine *e) {
  while (e->running) release(e, e->running, NULL, 0);
}
