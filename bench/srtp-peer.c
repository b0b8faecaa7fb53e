/*
 * bench/srtp: libsrtp2 side of the comparison. Built by bench/srtp-libsrtp.ts twice — against Debian's libsrtp2
 * (NSS) and against libsrtp2 built from Debian's source with --enable-openssl. Measures CPU time per packet of
 * srtp_protect / srtp_unprotect for one suite and packet size.
 * Usage: srtp-peer SUITE SIZE COUNT   → prints "protect_pps unprotect_pps"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "srtp.h"

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int policy(const char *name, srtp_crypto_policy_t *p, srtp_crypto_policy_t *rtcp) {
  if (!strcmp(name, "AES_CM_128_HMAC_SHA1_80")) srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(p);
  else if (!strcmp(name, "AES_CM_128_HMAC_SHA1_32")) srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p);
  else if (!strcmp(name, "AEAD_AES_128_GCM")) srtp_crypto_policy_set_aes_gcm_128_16_auth(p);
  else if (!strcmp(name, "AEAD_AES_256_GCM")) srtp_crypto_policy_set_aes_gcm_256_16_auth(p);
  else return -1;
  srtp_crypto_policy_set_rtcp_default(rtcp);
  return 0;
}

static srtp_t session(const char *suite, unsigned char *key, int outbound) {
  srtp_policy_t p;
  srtp_t s;
  memset(&p, 0, sizeof p);
  if (policy(suite, &p.rtp, &p.rtcp)) exit(3);
  p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
  p.key = key;
  p.window_size = 128;
  if (srtp_create(&s, &p) != srtp_err_status_ok) exit(3);
  return s;
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  const char *suite = argv[1];
  int size = atoi(argv[2]), count = atoi(argv[3]);
  if (size < 12 || size > 1400 || count < 1) return 2;
  static unsigned char key[64];
  for (int i = 0; i < 64; i++) key[i] = (unsigned char)(i * 37 + 11);
  if (srtp_init() != srtp_err_status_ok) return 1;
  int stride = size + 64;
  unsigned char *pkts = calloc((size_t)count, (size_t)stride);
  int *lens = calloc((size_t)count, sizeof(int));
  unsigned char buf[1500];
  memset(buf, 0xab, sizeof buf);
  buf[0] = 0x80, buf[1] = 0, buf[8] = 0xca, buf[9] = 0xfe, buf[10] = 0xba, buf[11] = 0xbe;

  /* protect: one buffer, a new sequence number each time (the content does not change the cost) */
  srtp_t tx = session(suite, key, 1);
  double t0 = cpu_now();
  for (int i = 0; i < count; i++) {
    int len = size;
    buf[2] = (unsigned char)(i >> 8), buf[3] = (unsigned char)i;
    if (srtp_protect(tx, buf, &len) != srtp_err_status_ok) return 4;
  }
  double protect_s = cpu_now() - t0;
  srtp_dealloc(tx);

  /* unprotect: `count` distinct valid packets prepared beforehand, each authenticated and decrypted once */
  tx = session(suite, key, 1);
  for (int i = 0; i < count; i++) {
    unsigned char *p = pkts + (size_t)i * stride;
    memcpy(p, buf, (size_t)size);
    p[2] = (unsigned char)(i >> 8), p[3] = (unsigned char)i;
    lens[i] = size;
    if (srtp_protect(tx, p, &lens[i]) != srtp_err_status_ok) return 4;
  }
  srtp_t rx = session(suite, key, 0);
  t0 = cpu_now();
  for (int i = 0; i < count; i++) {
    if (srtp_unprotect(rx, pkts + (size_t)i * stride, &lens[i]) != srtp_err_status_ok) return 5;
  }
  double unprotect_s = cpu_now() - t0;
  printf("%.0f %.0f\n", count / protect_s, count / unprotect_s);
  srtp_dealloc(tx);
  srtp_dealloc(rx);
  srtp_shutdown();
  return 0;
}
