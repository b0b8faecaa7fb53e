/*
 * Text as the TypeScript server makes it. Messages and log fields are built as UTF-8 here; a JS string holding
 * latin1-decoded bytes (file names, modes, option names and values: core/packet.ts decodes them as latin1) becomes
 * UTF-8 through sb_latin1, and the ERROR packet's wire form is Buffer.from(message, 'latin1'), i.e. each UTF-16
 * unit's low byte (utf8_to_wire). printable() is core/errors.ts's: cut at 80 characters plus "…", then
 * JSON.stringify without the quotes.
 */
#include <string.h>
#include "tftp-internal.h"

void sb_init(sb *s, char *buf, size_t cap) {
  s->p = buf;
  s->len = 0;
  s->cap = cap;
  if (cap) buf[0] = 0;
}

void sb_mem(sb *s, const void *p, size_t n) {
  if (s->cap == 0) return;
  size_t room = s->cap - 1 - s->len;
  if (n > room) n = room;
  memcpy(s->p + s->len, p, n);
  s->len += n;
  s->p[s->len] = 0;
}

void sb_str(sb *s, const char *z) { sb_mem(s, z, strlen(z)); }

void sb_u64(sb *s, uint64_t v) {
  char b[24];
  int i = 24;
  do b[--i] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  sb_mem(s, b + i, (size_t)(24 - i));
}

static void sb_cp(sb *s, uint32_t cp) {
  char b[4];
  if (cp < 0x80) {
    b[0] = (char)cp;
    sb_mem(s, b, 1);
  } else if (cp < 0x800) {
    b[0] = (char)(0xc0 | (cp >> 6));
    b[1] = (char)(0x80 | (cp & 0x3f));
    sb_mem(s, b, 2);
  } else {
    b[0] = (char)(0xe0 | (cp >> 12));
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[2] = (char)(0x80 | (cp & 0x3f));
    sb_mem(s, b, 3);
  }
}

void sb_latin1(sb *s, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) sb_cp(s, p[i]);
}

/* JSON.stringify's escaping of one character (ES2019 well-formed: only controls, quote and backslash). */
static void json_escape_cp(sb *s, uint32_t cp) {
  static const char hex[] = "0123456789abcdef";
  switch (cp) {
  case '"': sb_mem(s, "\\\"", 2); return;
  case '\\': sb_mem(s, "\\\\", 2); return;
  case '\b': sb_mem(s, "\\b", 2); return;
  case '\f': sb_mem(s, "\\f", 2); return;
  case '\n': sb_mem(s, "\\n", 2); return;
  case '\r': sb_mem(s, "\\r", 2); return;
  case '\t': sb_mem(s, "\\t", 2); return;
  default:
    if (cp < 0x20) {
      char u[6] = {'\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15]};
      sb_mem(s, u, 6);
    } else {
      sb_cp(s, cp);
    }
  }
}

void sb_printable(sb *s, const uint8_t *name, size_t n) {
  size_t cut = n > 80 ? 80 : n;
  for (size_t i = 0; i < cut; i++) json_escape_cp(s, name[i]);
  if (n > 80) sb_cp(s, 0x2026);
}

/* A JSON string literal of UTF-8 text (quotes included). Invalid UTF-8 bytes are taken as latin1. */
void sb_json(sb *s, const char *utf8, size_t n) {
  const uint8_t *u = (const uint8_t *)utf8;
  sb_mem(s, "\"", 1);
  for (size_t i = 0; i < n;) {
    uint8_t b = u[i];
    if (b < 0x80) {
      json_escape_cp(s, b);
      i++;
      continue;
    }
    size_t k = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
    int ok = k >= 2 && i + k <= n;
    for (size_t j = 1; ok && j < k; j++) ok = (u[i + j] & 0xc0) == 0x80;
    if (ok) {
      sb_mem(s, u + i, k);
      i += k;
    } else {
      sb_cp(s, b);
      i++;
    }
  }
  sb_mem(s, "\"", 1);
}

/* Buffer.from(string, 'latin1'): each UTF-16 code unit's low byte. */
size_t utf8_to_wire(const char *utf8, size_t n, uint8_t *out, size_t cap) {
  const uint8_t *u = (const uint8_t *)utf8;
  size_t o = 0;
  for (size_t i = 0; i < n && o < cap;) {
    uint32_t cp = u[i];
    size_t k = cp >= 0xf0 ? 4 : cp >= 0xe0 ? 3 : cp >= 0xc0 ? 2 : 1;
    if (i + k > n) k = 1;
    if (k == 2) cp = ((cp & 0x1f) << 6) | (u[i + 1] & 0x3f);
    if (k == 3) cp = ((cp & 0x0f) << 12) | ((uint32_t)(u[i + 1] & 0x3f) << 6) | (u[i + 2] & 0x3f);
    if (k == 4) cp = ((cp & 0x07) << 18) | ((uint32_t)(u[i + 1] & 0x3f) << 12) | ((uint32_t)(u[i + 2] & 0x3f) << 6) |
                     (u[i + 3] & 0x3f);
    i += k;
    if (cp >= 0x10000) { /* a surrogate pair: two code units */
      cp -= 0x10000;
      out[o++] = (uint8_t)((0xd800 + (cp >> 10)) & 0xff);
      if (o < cap) out[o++] = (uint8_t)((0xdc00 + (cp & 0x3ff)) & 0xff);
    } else {
      out[o++] = (uint8_t)(cp & 0xff);
    }
  }
  return o;
}

/* String.prototype.toLowerCase on a latin1-decoded string: A-Z and À-Þ except × (0xd7). */
void latin1_lower(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 0xc0 && c <= 0xde && c != 0xd7)) p[i] = (uint8_t)(c + 0x20);
  }
}

/* n cut to at most max bytes without splitting a UTF-8 sequence. */
size_t utf8_cut(const char *u, size_t n, size_t max) {
  if (n <= max) return n;
  while (max > 0 && ((uint8_t)u[max] & 0xc0) == 0x80) max--;
  return max;
}
