/*
 * AFL++ harness for the native TFTP data plane's request path without sockets: one input = one datagram, through
 * what request_datagram (tftp-requests.c) runs on it — tftp_decode (tftp-packet.c) with an options array of the
 * engine's capacity, tftp_check_filename, and tftp_negotiate (tftp-options.c) under the default limits and under
 * the loosest ones — plus the log-side string builders (tftp-text.c) on the decoded fields.
 *
 * Each input is copied into a buffer of exactly its length, so an out-of-bounds read is caught by ASan (the plain
 * build in test/security/afl-tftp-parser.test.ts) and may crash the AFL build. Built with afl-clang-fast it runs in
 * AFL's persistent shared-memory mode; built with any other compiler it reads the files named on its command line
 * (or stdin) and exits 0 when every one went through. scripts/fuzz-tftp.sh builds and runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* read(), used by AFL's persistent-mode macros */
#include "../tftp-internal.h"

#define MAX_INPUT 65536

static void negotiate_with(const tftp_option *opts, size_t n, uint64_t size, const tftp_limits *l) {
  tftp_negotiated out;
  char m[512];
  sb err;
  sb_init(&err, m, sizeof m);
  if (tftp_negotiate(opts, n, size, l, &out, &err) == 0) {
    /* The OACK must fit its buffer and name only the four options; the values must respect the limits. */
    if (out.oack_len > sizeof out.oack || out.blksize > l->max_blksize || out.windowsize > l->max_windowsize ||
        (out.timeout_s && (out.timeout_s < l->min_timeout_s || out.timeout_s > l->max_timeout_s)))
      abort();
  }
}

static void one(const uint8_t *data, size_t len) {
  if (len > MAX_INPUT) len = MAX_INPUT;
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return;
  memcpy(buf, data, len);
  size_t cap = len / 3 + 1; /* tftp-internal.h: enough for every option a datagram can hold */
  tftp_option *opts = malloc(cap * sizeof *opts);
  if (!opts) {
    free(buf);
    return;
  }
  tftp_packet p;
  char m[1024];
  sb err;
  sb_init(&err, m, sizeof m);
  if (tftp_decode(buf, len, &p, opts, cap, &err) == 0) {
    char text[2048];
    sb s;
    sb_init(&s, text, sizeof text);
    if (p.opcode == OP_RRQ || p.opcode == OP_WRQ) {
#ifdef SBD_FUZZ_CANARY
      /* A planted bug, one byte away from the seeds: proves the pipeline reports a crash (the AFL test). */
      if (p.filename_len > 0 && p.filename[0] == 'Z') abort();
#endif
      const char *code;
      char nm[1024];
      sb msg;
      sb_init(&msg, nm, sizeof nm);
      tftp_check_filename(p.filename, p.filename_len, 255, &code, &msg);
      sb_json(&s, msg.p, msg.len);
      sb_printable(&s, p.mode, p.mode_len);
      size_t n = p.option_count < cap ? p.option_count : cap;
      const tftp_limits defaults = {.max_blksize = 65464, .max_windowsize = 64, .min_timeout_s = 1, .max_timeout_s = 10};
      const tftp_limits loose = {.max_blksize = 65464, .max_windowsize = 65535, .min_timeout_s = 1, .max_timeout_s = 255};
      const tftp_limits tight = {.max_blksize = 512, .max_windowsize = 1, .min_timeout_s = 5, .max_timeout_s = 5};
      negotiate_with(opts, n, 0, &defaults);
      negotiate_with(opts, n, 6144, &loose);
      negotiate_with(opts, n, UINT64_C(9007199254740991), &tight);
      if (p.filename_len <= 4096) {
        uint8_t ascii[8192];
        if (tftp_netascii_len(p.filename, p.filename_len) <= sizeof ascii) tftp_to_netascii(p.filename, p.filename_len, ascii);
      }
    } else if (p.opcode == OP_ERROR) {
      sb_latin1(&s, p.message, p.message_len > 100 ? 100 : p.message_len);
      uint8_t pkt[600];
      tftp_encode_error(pkt, sizeof pkt, p.error_code, s.p, s.len);
    }
  } else {
    uint8_t pkt[600];
    tftp_encode_error(pkt, sizeof pkt, TE_ILLEGAL, err.p, err.len);
  }
  free(opts);
  free(buf);
}

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();

int main(void) {
  __AFL_INIT();
  const uint8_t *data = __AFL_FUZZ_TESTCASE_BUF;
  while (__AFL_LOOP(100000)) one(data, (size_t)__AFL_FUZZ_TESTCASE_LEN);
  return 0;
}
#else
static int run_file(FILE *f) {
  static uint8_t data[MAX_INPUT];
  size_t len = fread(data, 1, sizeof data, f);
  if (ferror(f)) return -1;
  one(data, len);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return run_file(stdin) < 0;
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (!f || run_file(f) < 0) {
      fprintf(stderr, "%s: cannot read\n", argv[i]);
      return 2;
    }
    fclose(f);
  }
  return 0;
}
#endif
