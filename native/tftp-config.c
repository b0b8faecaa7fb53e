/*
 * The engine's configuration: "key=value" lines. Every bound is a named key whose default and range come from
 * src/tftp/limits.ts, the table TypeScript's defaults and the CLI's flags come from too. An unknown key or a bad
 * value fails with a message naming it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tftp-internal.h"
#include "tftp-limits.h"

typedef struct {
  const char *key;
  size_t off;
  uint64_t min, max, def;
  int wide; /* uint64_t field */
} key_spec;

/* Every key, default and range from src/tftp/limits.ts (tftp-limits.h is generated from it). */
#define KEY(k, lo, hi, d, w) {#k, offsetof(tftp_config, k), lo, hi, d, w},
static const key_spec KEYS[] = {TFTP_LIMITS(KEY)};
#undef KEY
/* The file name buffers are NAME_CAP long: the table may not allow longer names. */
#define FITS(k, lo, hi, d, w) _Static_assert((w) || (hi) <= UINT32_MAX, #k " does not fit its uint32_t field");
TFTP_LIMITS(FITS)
#undef FITS
_Static_assert(TFTP_MAX_MAX_FILENAME_LENGTH <= NAME_CAP, "max_filename_length may exceed NAME_CAP");
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
