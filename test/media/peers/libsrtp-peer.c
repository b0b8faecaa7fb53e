/*
 * Interop peer on Debian's libsrtp2, built by test/media/srtp-libsrtp-interop.test.ts into a temp folder.
 * Usage: libsrtp-peer PROFILE KEYHEX [MKIHEX]   (KEYHEX = master key || master salt)
 * Reads frames from stdin: u8 op (0 protect RTP, 1 unprotect RTP, 2 protect RTCP, 3 unprotect RTCP),
 * u32 length (big-endian), bytes. Writes for each: i32 libsrtp status, u32 length, bytes.
 * PROFILE: AES_CM_128_HMAC_SHA1_80 ... AEAD_AES_256_GCM (RFC 4568 / 6188 / 7714 names). Exit 3: unsupported.
 */
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_profile(const char *name, srtp_crypto_policy_t *rtp, srtp_crypto_policy_t *rtcp) {
  if (!strcmp(name, "AES_CM_128_HMAC_SHA1_80")) {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtp), srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp);
  } else if (!strcmp(name, "AES_CM_128_HMAC_SHA1_32")) {
    /* RFC 4568 §6.2.2: SRTCP keeps the 80-bit tag */
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(rtp), srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(rtcp);
  } else if (!strcmp(name, "AES_192_CM_HMAC_SHA1_80")) {
    srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(rtp), srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(rtcp);
  } else if (!strcmp(name, "AES_192_CM_HMAC_SHA1_32")) {
    srtp_crypto_policy_set_aes_cm_192_hmac_sha1_32(rtp), srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(rtcp);
  } else if (!strcmp(name, "AES_256_CM_HMAC_SHA1_80")) {
    srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtp), srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp);
  } else if (!strcmp(name, "AES_256_CM_HMAC_SHA1_32")) {
    srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(rtp), srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(rtcp);
  } else if (!strcmp(name, "AEAD_AES_128_GCM")) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(rtp), srtp_crypto_policy_set_aes_gcm_128_16_auth(rtcp);
  } else if (!strcmp(name, "AEAD_AES_256_GCM")) {
    srtp_crypto_policy_set_aes_gcm_256_16_auth(rtp), srtp_crypto_policy_set_aes_gcm_256_16_auth(rtcp);
  } else {
    return -1;
  }
  return 0;
}

static int unhex(const char *s, unsigned char *out, int max) {
  int n = (int)strlen(s) / 2;
  if (n > max) return -1;
  for (int i = 0; i < n; i++) sscanf(s + 2 * i, "%2hhx", &out[i]);
  return n;
}

static int read_full(void *p, size_t n) { return fread(p, 1, n, stdin) == n; }

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  static unsigned char key[64], mki[128], buf[70000];
  int mki_len = 0;
  if (unhex(argv[2], key, sizeof key) < 0) return 2;
  if (argc > 3 && (mki_len = unhex(argv[3], mki, sizeof mki)) < 0) return 2;
  if (srtp_init() != srtp_err_status_ok) return 1;
  srtp_t tx, rx;
  srtp_master_key_t mk = {key, mki, (unsigned)mki_len}, *mks[1] = {&mk};
  for (int dir = 0; dir < 2; dir++) {
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    if (set_profile(argv[1], &p.rtp, &p.rtcp)) return 3;
    p.ssrc.type = dir == 0 ? ssrc_any_outbound : ssrc_any_inbound;
    if (mki_len) {
      p.keys = mks;
      p.num_master_keys = 1;
    } else {
      p.key = key;
    }
    p.window_size = 128;
    srtp_err_status_t st = srtp_create(dir == 0 ? &tx : &rx, &p);
    if (st != srtp_err_status_ok) {
      fprintf(stderr, "srtp_create %s: status %d\n", argv[1], st);
      return 3;
    }
  }
  unsigned char hdr[5];
  while (read_full(hdr, 5)) {
    int len = hdr[1] << 24 | hdr[2] << 16 | hdr[3] << 8 | hdr[4];
    if (len < 0 || len > 65536 || !read_full(buf, (size_t)len)) return 2;
    srtp_err_status_t st;
    switch (hdr[0]) {
      case 0: st = srtp_protect_mki(tx, buf, &len, mki_len > 0, 0); break;
      case 1: st = srtp_unprotect_mki(rx, buf, &len, mki_len > 0); break;
      case 2: st = srtp_protect_rtcp_mki(tx, buf, &len, mki_len > 0, 0); break;
      case 3: st = srtp_unprotect_rtcp_mki(rx, buf, &len, mki_len > 0); break;
      default: return 2;
    }
    if (st != srtp_err_status_ok) len = 0;
    unsigned char out[8] = {0, 0, 0, (unsigned char)st, (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                            (unsigned char)(len >> 8), (unsigned char)len};
    fwrite(out, 1, 8, stdout);
    fwrite(buf, 1, (size_t)len, stdout);
  }
  srtp_dealloc(tx);
  srtp_dealloc(rx);
  srtp_shutdown();
  return 0;
}
