/*
 * The engine's configuration: "key=value" lines. Defaults are the TypeScript server's (TftpServerOptions in
 * src/tftp/server.ts); every bound is a named key. An unknown key or a bad value fails with a message naming it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tftp-internal.h"

typedef struct {
  const char *key;
  size_t off;
  uint64_t min, max, def;
  int wide; /* uint64_t field */
} key_spec;

#define U32(k, f, lo, hi, d) {k, offsetof(tftp_config, f), lo, hi, d, 0}
#define U64(k, f, lo, hi, d) {k, offsetof(tftp_config, f), lo, hi, d, 1}
static const key_spec KEYS[] = {
    U32("port", port, 0, 65535, 69),
    U32("max_transfers", max_transfers, 1, 1u << 20, 16384),
    U32("max_transfers_per_client", max_per_client, 1, 1u << 20, 16),
    U32("max_unverified_per_client", max_unverified_per_client, 1, 1u << 20, 8),
    U32("max_retries", max_retries, 0, 1000, 5),
    U32("max_retries_unverified", max_retries_unverified, 0, 1000, 1),
    U32("max_lifetime_ms", max_lifetime_ms, 1, 86400000, 120000),
    U32("timeout_ms", timeout_ms, 1, 3600000, 1000),
    U32("min_timeout_s", min_timeout_s, 1, 255, 1),
    U32("max_timeout_s", max_timeout_s, 1, 255, 10),
    U32("max_blksize", max_blksize, 8, 65464, 65464),
    U32("max_windowsize", max_windowsize, 1, 65535, 64),
    U32("max_filename_length", max_filename_length, 1, NAME_CAP, 255),
    U32("max_request_bytes", max_request_bytes, 4, 65535, 512),
    U32("netascii", netascii, 0, 1, 1),
    U32("recv_buffer_size", recv_buffer_size, 0, 1u << 30, 4194304),
    U32("timer_resolution_ms", timer_resolution_ms, 1, 10000, 20),
    U32("tid_reuse_delay_ms", tid_reuse_delay_ms, 0, 3600000, 250),
    U32("max_idle_sockets", max_idle_sockets, 0, 1u << 20, 1024),
    U32("max_log_lines_per_second", max_log_lines_per_second, 0, 1u << 30, 100),
    U32("max_pending_opens", max_pending_opens, 1, 1u << 20, 4096),
    U64("max_cached_files", max_cached_files, 0, 1u << 24, 65536),
    U64("max_cache_bytes", max_cache_bytes, 0, 1ull << 40, 268435456),
    U32("folder_ttl_ms", folder_ttl_ms, 0, 3600000, 0),
    U64("folder_max_file_bytes", folder_max_file_bytes, 0, 1ull << 40, 268435456),
    U64("folder_read_max_bytes", folder_read_max_bytes, 0, 1ull << 40, 1048576),
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static int fail(char *err, int errlen, const char *what, const char *key, size_t klen) {
  if (err && errlen > 0) snprintf(err, (size_t)errlen, "%s: %.*s", what, (int)klen, key);
  return -1;
}

static int set_number(tftp_config *c, const key_spec *k, const char *v, size_t vlen) {
  if (vlen == 0 || vlen > 20) return -1;
  uint64_t n = 0;
  for (size_t i = 0; i < vlen; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    if (n > (UINT64_MAX - 9) / 10) return -1;
    n = n * 10 + (uint64_t)(v[i] - '0');
  }
  if (n < k->min || n > k->max) return -1;
  if (k->wide) *(uint64_t *)((char *)c + k->off) = n;
  else *(uint32_t *)((char *)c + k->off) = (uint32_t)n;
  return 0;
}

static char *dup_n(const char *p, size_t n) {
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, p, n);
    s[n] = 0;
  }
  return s;
}

int config_parse(tftp_config *c, const char *text, char *err, int errlen) {
  memset(c, 0, sizeof *c);
  for (size_t i = 0; i < NKEYS; i++) {
    if (KEYS[i].wide) *(uint64_t *)((char *)c + KEYS[i].off) = KEYS[i].def;
    else *(uint32_t *)((char *)c + KEYS[i].off) = (uint32_t)KEYS[i].def;
  }
  for (const char *line = text ? text : ""; *line;) {
    const char *end = strchr(line, '\n');
    if (!end) end = line + strlen(line);
    const char *eq = memchr(line, '=', (size_t)(end - line));
    size_t llen = (size_t)(end - line);
    const char *next = *end ? end + 1 : end;
    if (llen > 0 && line[llen - 1] == '\r') llen--;
    if (llen == 0) {
      line = next;
      continue;
    }
    if (!eq || eq >= line + llen) return config_free(c), fail(err, errlen, "config line without '='", line, llen);
    size_t klen = (size_t)(eq - line);
    const char *v = eq + 1;
    size_t vlen = llen - klen - 1;
    if (klen == 4 && memcmp(line, "bind", 4) == 0) {
      struct in6_addr a6;
      char tmp[INET6_ADDRSTRLEN + 1];
      if (vlen == 0 || vlen >= sizeof tmp) return config_free(c), fail(err, errlen, "bad value for config key", line, llen);
      memcpy(tmp, v, vlen);
      tmp[vlen] = 0;
      if (inet_pton(AF_INET, tmp, &a6) != 1 && inet_pton(AF_INET6, tmp, &a6) != 1)
        return config_free(c), fail(err, errlen, "bind is not an IPv4 or IPv6 literal", v, vlen);
      if (c->nbinds >= MAX_BINDS) return config_free(c), fail(err, errlen, "too many bind addresses", v, vlen);
      if (!(c->binds[c->nbinds++] = dup_n(v, vlen))) return config_free(c), fail(err, errlen, "out of memory", v, 0);
    } else if (klen == 11 && memcmp(line, "folder_root", 11) == 0) {
      if (vlen == 0) return config_free(c), fail(err, errlen, "bad value for config key", line, llen);
      free(c->folder_root);
      if (!(c->folder_root = dup_n(v, vlen))) return config_free(c), fail(err, errlen, "out of memory", v, 0);
    } else if (klen == 15 && memcmp(line, "generation_file", 15) == 0) {
      if (vlen == 0) return config_free(c), fail(err, errlen, "bad value for config key", line, llen);
      free(c->generation_file);
      if (!(c->generation_file = dup_n(v, vlen))) return config_free(c), fail(err, errlen, "out of memory", v, 0);
    } else {
      size_t i = 0;
      while (i < NKEYS && !(strlen(KEYS[i].key) == klen && memcmp(KEYS[i].key, line, klen) == 0)) i++;
      if (i == NKEYS) return config_free(c), fail(err, errlen, "unknown config key", line, klen);
      if (set_number(c, &KEYS[i], v, vlen) < 0) return config_free(c), fail(err, errlen, "bad value for config key", line, llen);
    }
    line = next;
  }
  if (c->min_timeout_s > c->max_timeout_s)
    return config_free(c), fail(err, errlen, "min_timeout_s is above", "max_timeout_s", 13);
  if (c->nbinds == 0 && !(c->binds[c->nbinds++] = dup_n("127.0.0.1", 9)))
    return config_free(c), fail(err, errlen, "out of memory", "", 0);
  return 0;
}

int config_defaults(char *buf, size_t cap) {
  sb s;
  sb_init(&s, buf, cap);
  for (size_t i = 0; i < NKEYS; i++) {
    sb_str(&s, KEYS[i].key);
    sb_str(&s, "=");
    sb_u64(&s, KEYS[i].def);
    sb_str(&s, "\n");
  }
  return s.len + 1 < cap ? (int)s.len : -1;
}

void config_free(tftp_config *c) {
  for (int i = 0; i < c->nbinds; i++) free(c->binds[i]);
  c->nbinds = 0;
  free(c->generation_file);
  c->generation_file = NULL;
  free(c->folder_root);
  c->folder_root = NULL;
}
