/*
 * What the engine writes to Node: the control socket's output queue (control_send; tftp-control.c flushes it) and
 * the log lines sent through it, rate-limited as server.ts logLimited, including a refused request's ERROR reply and
 * line. Calls only tftp-net.c and tftp-text.c below it.
 */
#include <stdlib.h>
#include <string.h>
#include "tftp-internal.h"

#define OUT_LOG_LIMIT (1024 * 1024) /* LOG frames queued at most while Node's end is full (then dropped, counted) */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v), put16(p + 2, (uint16_t)(v >> 16)); }

void control_send(engine *e, uint8_t type, const void *body, size_t n, int droppable) {
  control *c = &e->ctl;
  size_t queued = c->out_len - c->out_off;
  if (droppable && queued + 5 + n > OUT_LOG_LIMIT) {
    e->c.log_frames_dropped++;
    return;
  }
  if (c->out_off > 0 && c->out_len + 5 + n > c->out_cap) {
    memmove(c->out, c->out + c->out_off, queued);
    c->out_len = queued;
    c->out_off = 0;
  }
  if (c->out_len + 5 + n > c->out_cap) {
    size_t cap = c->out_cap;
    while (c->out_len + 5 + n > cap) cap *= 2;
    uint8_t *p = realloc(c->out, cap);
    if (!p) {
      e->c.log_frames_dropped += type == F_LOG;
      return;
    }
    c->out = p;
    c->out_cap = cap;
  }
  put32(c->out + c->out_len, (uint32_t)(n + 1));
  c->out[c->out_len + 4] = type;
  memcpy(c->out + c->out_len + 5, body, n);
  c->out_len += 5 + n;
}

/* {"level":..,"event":..,<fields>} with fields a JSON member list (or empty). */
void control_send_log(engine *e, const char *level, const char *event, const char *fields, size_t n) {
  char buf[8192];
  sb s;
  sb_init(&s, buf + 2, sizeof buf - 2);
  sb_str(&s, "{\"level\":\"");
  sb_str(&s, level);
  sb_str(&s, "\",\"event\":\"");
  sb_str(&s, event);
  sb_str(&s, "\"");
  if (n) {
    sb_str(&s, ",");
    if (s.len + n + 2 > s.cap) return; /* a field list this long is a bug; never send broken JSON */
    sb_mem(&s, fields, n);
  }
  sb_str(&s, "}");
  put16((uint8_t *)buf, (uint16_t)s.len);
  control_send(e, F_LOG, buf, s.len + 2, 1);
}

/* err as Node's logger writes an errno exception: {"name":"Error","message":"<call> <CODE>","code":"<CODE>"}. */
void errno_json(sb *s, const char *call, int err, char *msg, size_t msg_cap) {
  const char *name = strerrorname_np(err);
  sb m;
  sb_init(&m, msg, msg_cap);
  sb_str(&m, call);
  sb_str(&m, " ");
  sb_str(&m, name ? name : "EIO");
  sb_str(s, "\"err\":{\"name\":\"Error\",\"message\":");
  sb_json(s, m.p, m.len);
  sb_str(s, ",\"code\":");
  sb_json(s, name ? name : "EIO", strlen(name ? name : "EIO"));
  sb_str(s, "}");
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

void log_fields_client_name(sb *s, const peer *p, const uint8_t *name, size_t n) {
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
  log_fields_client_name(&s, p, name, name_len);
  sb_str(&s, ",\"tftpCode\":");
  sb_u64(&s, tftp_code);
  sb_str(&s, ",\"code\":");
  /* Node's code and message are bounded for the log line (the fields buffer must hold whole JSON). */
  sb_json(&s, code, utf8_cut(code, code_len, 64));
  sb_str(&s, ",\"message\":");
  sb_json(&s, msg, utf8_cut(msg, n, 512));
  log_limited(e, "request-refused", s.p, s.len);
}

void request_refuse_sb(engine *e, const request_socket *rs, const struct sockaddr_storage *sa, socklen_t salen,
                     const peer *p, uint16_t tftp_code, const char *code, const sb *msg, const uint8_t *name,
                     size_t name_len) {
  request_refuse(e, rs, sa, salen, p, tftp_code, code, strlen(code), msg->p, msg->len, name, name_len);
}

void request_dropped(engine *e, const peer *p, const uint8_t *name, size_t n, const char *reason) {
  char f[1024];
  sb s;
  sb_init(&s, f, sizeof f);
  log_fields_client_name(&s, p, name, n);
  sb_str(&s, ",\"reason\":\"");
  sb_str(&s, reason);
  sb_str(&s, "\"");
  e->c.busy_drops++;
  log_limited(e, "request-dropped", s.p, s.len);
}
