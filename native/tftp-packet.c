/*
 * TFTP packet decoding (RFC 1350 §5, RFC 2347 §2), the ERROR encoding, file-name rules and netascii: the same
 * results and messages as core/packet.ts, core/filename.ts and core/netascii.ts. Every length is checked; a
 * malformed datagram gives a message, never a read past its end.
 */
#include <string.h>
#include "tftp-internal.h"

/* Every file name refusal answers with one number, the table's (src/tftp/core/errors.ts). */
_Static_assert(ERR_TFTP_NAME_EMPTY_TFTP == TE_ACCESS && ERR_TFTP_NAME_TOO_LONG_TFTP == TE_ACCESS &&
                   ERR_TFTP_NAME_NUL_TFTP == TE_ACCESS && ERR_TFTP_NAME_UNPRINTABLE_TFTP == TE_ACCESS &&
                   ERR_TFTP_NAME_BACKSLASH_TFTP == TE_ACCESS && ERR_TFTP_NAME_ABSOLUTE_TFTP == TE_ACCESS &&
                   ERR_TFTP_NAME_PARENT_TFTP == TE_ACCESS && ERR_TFTP_NAME_SEGMENT_TFTP == TE_ACCESS,
               "file name errors are access violations");

static const uint8_t *find_nul(const uint8_t *buf, size_t from, size_t len) {
  return from < len ? memchr(buf + from, 0, len - from) : NULL;
}

static int malformed(sb *err, const char *a, size_t n, const char *b) {
  sb_str(err, a);
  if (n != (size_t)-1) sb_u64(err, n);
  sb_str(err, b);
  return -1;
}

/* RFC 2347 §2: name/value pairs of NUL-terminated strings; trailing NUL padding is tolerated. */
int tftp_decode_options(uint8_t *buf, size_t len, size_t at, tftp_option *opts, size_t opts_cap, size_t *count,
                        sb *err) {
  *count = 0;
  while (at < len) {
    const uint8_t *ne = find_nul(buf, at, len);
    if (!ne) return malformed(err, "option name is not NUL-terminated", (size_t)-1, "");
    size_t nend = (size_t)(ne - buf);
    if (nend == at) {
      for (size_t i = at; i < len; i++)
        if (buf[i] != 0) return malformed(err, "empty option name", (size_t)-1, "");
      break;
    }
    const uint8_t *ve = find_nul(buf, nend + 1, len);
    if (!ve) {
      size_t cut = nend < at + 32 ? nend : at + 32;
      sb_str(err, "option \"");
      sb_latin1(err, buf + at, cut - at);
      sb_str(err, "\" has no NUL-terminated value");
      return -1;
    }
    size_t vend = (size_t)(ve - buf);
    latin1_lower(buf + at, nend - at);
    if (opts && *count < opts_cap) {
      opts[*count].name = buf + at;
      opts[*count].name_len = nend - at;
      opts[*count].value = buf + nend + 1;
      opts[*count].value_len = vend - nend - 1;
    }
    (*count)++;
    at = vend + 1;
  }
  return 0;
}

static int decode_request(uint8_t *buf, size_t len, tftp_packet *p, tftp_option *opts, size_t cap, sb *err) {
  const char *name = p->opcode == OP_RRQ ? "RRQ" : "WRQ";
  const uint8_t *fe = find_nul(buf, 2, len);
  if (!fe) return sb_str(err, name), malformed(err, " file name is not NUL-terminated", (size_t)-1, "");
  size_t fend = (size_t)(fe - buf);
  const uint8_t *me = find_nul(buf, fend + 1, len);
  if (!me) return sb_str(err, name), malformed(err, " mode is not NUL-terminated", (size_t)-1, "");
  size_t mend = (size_t)(me - buf);
  p->filename = buf + 2;
  p->filename_len = fend - 2;
  p->mode = buf + fend + 1;
  p->mode_len = mend - fend - 1;
  latin1_lower(buf + fend + 1, p->mode_len);
  if (p->mode_len == 0) return sb_str(err, name), malformed(err, " has an empty mode", (size_t)-1, "");
  return tftp_decode_options(buf, len, mend + 1, opts, cap, &p->option_count, err);
}

int tftp_decode(uint8_t *buf, size_t len, tftp_packet *p, tftp_option *opts, size_t opts_cap, sb *err) {
  memset(p, 0, sizeof *p);
  if (len < 2) return malformed(err, "packet of ", len, " bytes is shorter than an opcode");
  p->opcode = (buf[0] << 8) | buf[1];
  switch (p->opcode) {
  case OP_RRQ:
  case OP_WRQ:
    return decode_request(buf, len, p, opts, opts_cap, err);
  case OP_DATA:
    if (len < 4) return malformed(err, "DATA packet of ", len, " bytes has no block number");
    p->block = (uint16_t)((buf[2] << 8) | buf[3]);
    return 0;
  case OP_ACK:
    /* RFC 1350 §5: an ACK is exactly 4 bytes; trailing bytes are tolerated (some stacks pad). */
    if (len < 4) return malformed(err, "ACK packet of ", len, " bytes has no block number");
    p->block = (uint16_t)((buf[2] << 8) | buf[3]);
    return 0;
  case OP_ERROR: {
    if (len < 4) return malformed(err, "ERROR packet of ", len, " bytes has no error code");
    p->error_code = (uint16_t)((buf[2] << 8) | buf[3]);
    const uint8_t *end = find_nul(buf, 4, len);
    p->message = buf + 4;
    p->message_len = end ? (size_t)(end - buf) - 4 : len - 4;
    return 0;
  }
  case OP_OACK:
    return tftp_decode_options(buf, len, 2, opts, opts_cap, &p->option_count, err);
  default:
    return malformed(err, "unknown opcode ", (size_t)p->opcode, "");
  }
}

size_t tftp_encode_error(uint8_t *out, size_t cap, uint16_t code, const char *msg, size_t n) {
  out[0] = 0;
  out[1] = OP_ERROR;
  out[2] = (uint8_t)(code >> 8);
  out[3] = (uint8_t)code;
  size_t m = utf8_to_wire(msg, n, out + 4, cap - 5);
  out[4 + m] = 0;
  return 5 + m;
}

static int refuse_name(const char **code, const char *c, sb *msg, const char *text, const uint8_t *name, size_t n) {
  *code = c;
  sb_str(msg, text);
  sb_str(msg, ": \"");
  sb_printable(msg, name, n);
  sb_str(msg, "\"");
  return TE_ACCESS;
}

/* core/filename.ts: phones ask for plain names and relative paths into static folders; anything else → error 2. */
int tftp_check_filename(const uint8_t *name, size_t n, size_t max, const char **code, sb *msg) {
  static const char hex[] = "0123456789abcdef";
  if (n == 0) return *code = ERR_TFTP_NAME_EMPTY_CODE, sb_str(msg, ERR_TFTP_NAME_EMPTY_MESSAGE), TE_ACCESS;
  if (n > max) {
    *code = ERR_TFTP_NAME_TOO_LONG_CODE;
    sb_str(msg, "file name of ");
    sb_u64(msg, n);
    sb_str(msg, " bytes is longer than ");
    sb_u64(msg, max);
    return TE_ACCESS;
  }
  for (size_t i = 0; i < n; i++) {
    uint8_t c = name[i];
    if (c == 0) return refuse_name(code, ERR_TFTP_NAME_NUL_CODE, msg, "file name contains a NUL byte", name, n);
    if (c < 0x20 || c >= 0x7f) {
      char t[] = "file name contains a non-printable byte 0x00";
      t[sizeof t - 3] = hex[c >> 4];
      t[sizeof t - 2] = hex[c & 15];
      return refuse_name(code, ERR_TFTP_NAME_UNPRINTABLE_CODE, msg, t, name, n);
    }
    if (c == '\\') return refuse_name(code, ERR_TFTP_NAME_BACKSLASH_CODE, msg, "file name contains a backslash", name, n);
  }
  if (name[0] == '/') return refuse_name(code, ERR_TFTP_NAME_ABSOLUTE_CODE, msg, "absolute path refused", name, n);
  if (n >= 2 && name[1] == ':' && ((name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'z'))
    return refuse_name(code, ERR_TFTP_NAME_ABSOLUTE_CODE, msg, "drive-letter path refused", name, n);
  for (size_t at = 0;;) {
    const uint8_t *slash = at < n ? memchr(name + at, '/', n - at) : NULL;
    size_t end = slash ? (size_t)(slash - name) : n;
    size_t sl = end - at;
    if (sl == 2 && name[at] == '.' && name[at + 1] == '.')
      return refuse_name(code, ERR_TFTP_NAME_PARENT_CODE, msg, "\"..\" in file name refused", name, n);
    if (sl == 0 || (sl == 1 && name[at] == '.'))
      return refuse_name(code, ERR_TFTP_NAME_SEGMENT_CODE, msg, "empty or \".\" path segment refused", name, n);
    if (!slash) break;
    at = end + 1;
  }
  return 0;
}

/* netascii (RFC 1350 §5 via RFC 764): LF → CR LF, CR → CR NUL, converted whole before the transfer. */
size_t tftp_netascii_len(const uint8_t *p, size_t n) {
  size_t extra = 0;
  for (size_t i = 0; i < n; i++) extra += p[i] == '\n' || p[i] == '\r';
  return n + extra;
}

void tftp_to_netascii(const uint8_t *p, size_t n, uint8_t *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\n') {
      out[o++] = '\r';
      out[o++] = '\n';
    } else if (p[i] == '\r') {
      out[o++] = '\r';
      out[o++] = 0;
    } else {
      out[o++] = p[i];
    }
  }
}

/* server.ts onRequest's first checks, in its order (core/request.ts judgeRequest): too long, malformed, ERROR,
 * WRQ, stray, mode, file name. On V_REFUSE the message is in msg and pk's file name is set (empty when the packet
 * did not decode). */
int tftp_judge_request(uint8_t *buf, size_t len, const tftp_config *c, tftp_packet *pk, tftp_option *opts,
                       size_t opts_cap, tftp_verdict *v, sb *msg) {
  memset(pk, 0, sizeof *pk);
  v->netascii = 0;
  if (len > c->max_request_bytes) {
    sb_str(msg, "request of ");
    sb_u64(msg, len);
    sb_str(msg, " bytes is longer than ");
    sb_u64(msg, c->max_request_bytes);
    v->tftp_code = ERR_TFTP_REQUEST_TOO_LONG_TFTP, v->code = ERR_TFTP_REQUEST_TOO_LONG_CODE;
    return V_REFUSE;
  }
  if (tftp_decode(buf, len, pk, opts, opts_cap, msg) < 0) {
    pk->filename = NULL, pk->filename_len = 0;
    v->tftp_code = ERR_TFTP_MALFORMED_TFTP, v->code = ERR_TFTP_MALFORMED_CODE;
    return V_REFUSE;
  }
  if (pk->opcode == OP_ERROR) return V_IGNORE;
  if (pk->opcode == OP_WRQ) {
    sb_str(msg, ERR_TFTP_WRITE_REFUSED_MESSAGE);
    v->tftp_code = ERR_TFTP_WRITE_REFUSED_TFTP, v->code = ERR_TFTP_WRITE_REFUSED_CODE;
    return V_REFUSE;
  }
  if (pk->opcode != OP_RRQ) return V_STRAY;
  int octet = pk->mode_len == 5 && memcmp(pk->mode, "octet", 5) == 0;
  int ascii = pk->mode_len == 8 && memcmp(pk->mode, "netascii", 8) == 0;
  if (!octet && !(ascii && c->netascii)) {
    sb_str(msg, "transfer mode \"");
    sb_printable(msg, pk->mode, pk->mode_len);
    sb_str(msg, "\" is not supported");
    v->tftp_code = ERR_TFTP_MODE_TFTP, v->code = ERR_TFTP_MODE_CODE;
    return V_REFUSE;
  }
  int bad = tftp_check_filename(pk->filename, pk->filename_len, c->max_filename_length, &v->code, msg);
  if (bad) {
    v->tftp_code = (uint16_t)bad;
    return V_REFUSE;
  }
  v->netascii = ascii;
  return V_READ;
}
