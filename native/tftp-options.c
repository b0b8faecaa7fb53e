/*
 * Server side of RFC 2347 option negotiation with blksize (RFC 2348), timeout and tsize (RFC 2349) and windowsize
 * (RFC 7440): core/options.ts `negotiate`, same choices and error-8 messages. Unknown options are ignored; a value
 * outside the RFC's own range, not a decimal number, or an option named twice refuses the request; blksize and
 * windowsize above our limit are lowered; a timeout outside our range (max_timeout_s, default 10) is declined, not
 * lowered: RFC 2349 wants the OACK's timeout equal to the client's; tsize of an empty file is left out.
 */
#include <string.h>
#include "tftp-internal.h"

#define BLKSIZE_MIN 8
#define BLKSIZE_MAX 65464
#define WINDOWSIZE_MAX 65535
#define TIMEOUT_MAX_S 255

static int named(const tftp_option *o, const char *z) {
  size_t n = strlen(z);
  return o->name_len == n && memcmp(o->name, z, n) == 0;
}

/* parseDecimal: /^[0-9]{1,10}$/ then min..max. */
static int parse_decimal(const tftp_option *o, const char *name, uint64_t min, uint64_t max, uint64_t *out, sb *err) {
  int ok = o->value_len >= 1 && o->value_len <= 10;
  uint64_t v = 0;
  for (size_t i = 0; ok && i < o->value_len; i++) {
    ok = o->value[i] >= '0' && o->value[i] <= '9';
    v = v * 10 + (uint64_t)(o->value[i] - '0');
  }
  if (!ok) {
    sb_str(err, "option ");
    sb_str(err, name);
    sb_str(err, " has a value that is not a decimal number: \"");
    sb_latin1(err, o->value, o->value_len > 20 ? 20 : o->value_len);
    sb_str(err, "\"");
    return -1;
  }
  if (v < min || v > max) {
    sb_str(err, "option ");
    sb_str(err, name);
    sb_str(err, "=");
    sb_u64(err, v);
    sb_str(err, " is outside ");
    sb_u64(err, min);
    sb_str(err, "..");
    sb_u64(err, max);
    return -1;
  }
  *out = v;
  return 0;
}

static void oack_put(tftp_negotiated *out, const char *name, uint64_t v) {
  char num[24];
  sb s;
  sb_init(&s, num, sizeof num);
  sb_u64(&s, v);
  size_t nl = strlen(name);
  /* At most four known options, each at most once: 2 + 4 * (11 + 21) < sizeof oack. */
  memcpy(out->oack + out->oack_len, name, nl + 1);
  out->oack_len += nl + 1;
  memcpy(out->oack + out->oack_len, num, s.len + 1);
  out->oack_len += s.len + 1;
}

int tftp_negotiate(const tftp_option *opts, size_t n, uint64_t file_size, const tftp_limits *l, tftp_negotiated *out,
                   sb *err) {
  out->blksize = 512;
  out->windowsize = 1;
  out->timeout_s = 0;
  out->oack[0] = 0;
  out->oack[1] = OP_OACK;
  out->oack_len = 2;
  for (size_t i = 0; i < n; i++) {
    const tftp_option *o = &opts[i];
    /* O(n²) over the request's options: a request holds at most max_request_bytes / 3 of them. */
    for (size_t j = 0; j < i; j++) {
      if (opts[j].name_len == o->name_len && memcmp(opts[j].name, o->name, o->name_len) == 0) {
        sb_str(err, "option ");
        sb_latin1(err, o->name, o->name_len);
        sb_str(err, " appears twice");
        return -1;
      }
    }
    uint64_t v;
    if (named(o, "blksize")) {
      if (parse_decimal(o, "blksize", BLKSIZE_MIN, BLKSIZE_MAX, &v, err)) return -1;
      out->blksize = (uint32_t)(v < l->max_blksize ? v : l->max_blksize);
      oack_put(out, "blksize", out->blksize);
    } else if (named(o, "windowsize")) {
      if (parse_decimal(o, "windowsize", 1, WINDOWSIZE_MAX, &v, err)) return -1;
      out->windowsize = (uint32_t)(v < l->max_windowsize ? v : l->max_windowsize);
      oack_put(out, "windowsize", out->windowsize);
    } else if (named(o, "timeout")) {
      if (parse_decimal(o, "timeout", 1, TIMEOUT_MAX_S, &v, err)) return -1;
      if (v < l->min_timeout_s || v > l->max_timeout_s) continue;
      out->timeout_s = (uint32_t)v;
      oack_put(out, "timeout", v);
    } else if (named(o, "tsize")) {
      /* RFC 2349 §3.2: the client sends 0 and the server answers with the size. An empty file's size is left out:
       * curl (7.88) takes "tsize 0" in an OACK for an invalid value and aborts. */
      if (parse_decimal(o, "tsize", 0, 9007199254740991ull, &v, err)) return -1;
      if (file_size == 0) continue;
      oack_put(out, "tsize", file_size);
    }
    /* RFC 2347 §2: unknown options are ignored. */
  }
  if (out->oack_len == 2) out->oack_len = 0;
  return 0;
}
