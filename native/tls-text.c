/* The TLS engine's text helpers: bounded error messages and `key=value` config lines (as tftp-config.c reads). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "tls-internal.h"

void sbd_tls_err(char *err, int errlen, const char *fmt, ...) {
  if (!err || errlen <= 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, (size_t)errlen, fmt, ap);
  va_end(ap);
}

const char *sbd_tls_config_get(const char *config, const char *key, char *out, size_t cap) {
  size_t klen = strlen(key);
  for (const char *line = config; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
      size_t vlen = len - klen - 1;
      if (vlen >= cap) vlen = cap - 1;
      memcpy(out, line + klen + 1, vlen);
      out[vlen] = 0;
      return out;
    }
    line = end ? end + 1 : NULL;
  }
  return NULL;
}
