/*
 * sbd SRTP/SRTCP engine, native part (RFC 3711, RFC 7714).
 *
 * Theory of operation: one `sbd_srtp` context holds the session keys derived once from one master key (one
 * direction: the sender's or the receiver's), the crypto handles of one backend (OpenSSL EVP contexts created
 * once, or AF_ALG sockets), and a fixed table of per-SSRC states (ROC, highest index, replay bitmap, SRTCP
 * index) allocated at creation. The per-packet functions parse the header, estimate the index, check the
 * replay window, transform and authenticate in place, and only then commit the new state — no allocation, one
 * call from JavaScript per packet or per batch.
 */
#ifndef SBD_SRTP_H
#define SBD_SRTP_H
#include <stddef.h>
#include <stdint.h>

/* Suites: the numbers are the binding's; names are RFC 4568 / RFC 6188 / RFC 7714 crypto-suite names. */
#define SBD_SUITE_AES_CM_128_HMAC_SHA1_80 0
#define SBD_SUITE_AES_CM_128_HMAC_SHA1_32 1
#define SBD_SUITE_AEAD_AES_128_GCM 2
#define SBD_SUITE_AEAD_AES_256_GCM 3
#define SBD_SUITE_F8_128_HMAC_SHA1_80 4
#define SBD_SUITE_AES_192_CM_HMAC_SHA1_80 5
#define SBD_SUITE_AES_192_CM_HMAC_SHA1_32 6
#define SBD_SUITE_AES_256_CM_HMAC_SHA1_80 7
#define SBD_SUITE_AES_256_CM_HMAC_SHA1_32 8
#define SBD_SUITE_COUNT 9

#define SBD_BACKEND_OPENSSL 0
#define SBD_BACKEND_AF_ALG 1

/* Flags for sbd_srtp_new. */
#define SBD_FLAG_SESSION_KEYS 1 /* key/salt are session keys (test vectors): no key derivation */
#define SBD_FLAG_PROVIDER_GCM 2 /* OpenSSL backend: GCM on provider contexts only, not the built-in tables (tests) */

/* Results: >= 0 is a packet length; negative values are these errors. */
#define SBD_E_PARAM -1
#define SBD_E_MALFORMED -2
#define SBD_E_TRUNCATED -3
#define SBD_E_AUTH -4
#define SBD_E_REPLAY -5
#define SBD_E_REPLAY_OLD -6
#define SBD_E_MKI -7
#define SBD_E_NO_ROOM -8
#define SBD_E_SSRC_LIMIT -9
#define SBD_E_CRYPTO -10
#define SBD_E_BACKEND -11
#define SBD_E_INDEX -12

/* Counters returned by sbd_srtp_stats (indexes). */
#define SBD_STAT_RTP_PROTECTED 0
#define SBD_STAT_RTP_UNPROTECTED 1
#define SBD_STAT_RTCP_PROTECTED 2
#define SBD_STAT_RTCP_UNPROTECTED 3
#define SBD_STAT_AUTH_FAIL 4
#define SBD_STAT_REPLAY 5
#define SBD_STAT_REPLAY_OLD 6
#define SBD_STAT_MALFORMED 7
#define SBD_STAT_MKI 8
#define SBD_STAT_OTHER 9
#define SBD_STAT_COUNT 10

/* Batch operations. */
#define SBD_OP_PROTECT_RTP 0
#define SBD_OP_UNPROTECT_RTP 1
#define SBD_OP_PROTECT_RTCP 2
#define SBD_OP_UNPROTECT_RTCP 3

typedef struct sbd_srtp sbd_srtp;
#define SBD_API __attribute__((visibility("default")))

SBD_API sbd_srtp *sbd_srtp_new(int suite, const uint8_t *key, int key_len, const uint8_t *salt, int salt_len,
                       const uint8_t *mki, int mki_len, int replay_window, int max_ssrcs, int backend, int flags,
                       int *err);
SBD_API void sbd_srtp_free(sbd_srtp *ctx);
SBD_API int sbd_srtp_protect(sbd_srtp *ctx, uint8_t *pkt, int len, int cap);
SBD_API int sbd_srtp_unprotect(sbd_srtp *ctx, uint8_t *pkt, int len);
SBD_API int sbd_srtp_protect_rtcp(sbd_srtp *ctx, uint8_t *pkt, int len, int cap);
SBD_API int sbd_srtp_unprotect_rtcp(sbd_srtp *ctx, uint8_t *pkt, int len);
/* One call for n packets laid out in `arena` (arena_len bytes) at offsets[i] with lengths lens[i] and room
 * caps[i]; lens[i] receives the new length or a negative error. Returns the number of packets that succeeded,
 * or SBD_E_PARAM (nothing done) when a slot lies outside the arena or a length is negative. */
SBD_API int sbd_srtp_batch(sbd_srtp *ctx, int op, uint8_t *arena, int64_t arena_len, const int32_t *offsets,
                           int32_t *lens, const int32_t *caps, int n);
SBD_API void sbd_srtp_stats(const sbd_srtp *ctx, double *out);
/* ROC of an SSRC's RTP stream (-1 when the SSRC is unknown) and setting it (RFC 3711 §3.3.1, e.g. a
 * receiver joining a running stream). */
SBD_API int64_t sbd_srtp_get_roc(sbd_srtp *ctx, uint32_t ssrc);
SBD_API int sbd_srtp_set_roc(sbd_srtp *ctx, uint32_t ssrc, uint32_t roc);
/* RFC 3711 §4.3.1 PRF with key_derivation_rate 0: `out` = the session key for `label` (test vectors, tools). */
SBD_API int sbd_srtp_kdf(int backend, const uint8_t *key, int key_len, const uint8_t *salt, int salt_len, int label,
                         uint8_t *out, int out_len);
/* The address of a buffer, so JavaScript can pass packets by plain number afterwards (koffi marshals a number
 * several times faster than a Buffer). The caller keeps the buffer alive and in bounds. */
SBD_API uintptr_t sbd_address_of(const uint8_t *p);
/* 1 when the backend can be used on this kernel/library, else 0. */
SBD_API int sbd_srtp_backend_available(int backend);
/* 1 when the context's GCM runs on libcrypto's built-in stitched tables for long packets, else 0. */
SBD_API int sbd_srtp_gcm_builtin(const sbd_srtp *ctx);

/* ---- internal: the crypto backend interface ---- */
typedef struct sbd_keyset sbd_keyset;
typedef struct sbd_backend_ops {
  /* Key one keyset's handles: cipher key `k` (for CM/F8/GCM), auth key `a` (20 bytes, may be NULL),
   * and for F8 the masked key k XOR m (RFC 3711 §4.1.2.2). */
  int (*init)(sbd_keyset *ks, const uint8_t *k, int klen, const uint8_t *a, int alen, const uint8_t *f8key);
  void (*release)(sbd_keyset *ks);
  int (*ctr_xor)(sbd_keyset *ks, const uint8_t iv[16], uint8_t *buf, size_t len);
  int (*ecb_block)(sbd_keyset *ks, int masked, const uint8_t in[16], uint8_t out[16]);
  int (*hmac_sha1)(sbd_keyset *ks, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[20]);
  /* AAD is aad || aad2 (SRTCP's trailer word is not contiguous with its header, RFC 7714 §9.2) */
  int (*gcm_seal)(sbd_keyset *ks, const uint8_t iv[12], const uint8_t *aad, size_t aadlen, const uint8_t *aad2,
                  size_t aad2len, uint8_t *buf, size_t len, uint8_t tag[16]);
  /* returns 0, SBD_E_AUTH or SBD_E_CRYPTO */
  int (*gcm_open)(sbd_keyset *ks, const uint8_t iv[12], const uint8_t *aad, size_t aadlen, const uint8_t *aad2,
                  size_t aad2len, uint8_t *buf, size_t len, const uint8_t tag[16]);
} sbd_backend_ops;

/* Packets whose keystream fits in this many AES blocks (an Ethernet MTU) take the ECB-keystream path, which
 * measured faster than the EVP CTR/GCM contexts up to 1400-byte packets on AES-NI, even against libcrypto's
 * stitched AES-NI+PCLMULQDQ GCM reached without the provider layer; longer ones take EVP. */
#define SBD_KS_BLOCKS 96

#define SBD_CIPHER_CM 0
#define SBD_CIPHER_GCM 1
#define SBD_CIPHER_F8 2

struct sbd_keyset {
  int cipher;
  int key_len;
  uint8_t salt[14];
  int salt_len; /* bytes of salt in use (the F8 mask m, RFC 3711 §4.1.2.2) */
  const sbd_backend_ops *ops;
  /* backend state: OpenSSL */
  void *evp_a, *evp_b, *evp_c; /* CM/F8: evp_a = ctr or ecb(k), evp_c = ecb(k^m); GCM: evp_a enc, evp_b dec */
  uint8_t sha_inner[128], sha_outer[128]; /* precomputed HMAC-SHA1 states (SHA_CTX), OpenSSL backend */
  void *evp_ecb;  /* AES-ECB under the session key: keystream blocks in bulk, no IV re-initialisation */
  void *gcm128;   /* libcrypto's GCM128 context: GHASH and tag, fed keystream from evp_ecb */
  uint8_t *ks;    /* keystream scratch (SBD_KS_BLOCKS blocks) */
  int ks_live;    /* GCM128 block callback: 1 = encrypt for real (key setup), 0 = read precomputed ks */
  int gcm_builtin; /* GCM: evp_a/evp_b run on libcrypto's built-in GCM tables (srtp-builtin-gcm.c) */
  int gcm_provider_only; /* set before init: keep GCM on provider contexts (SBD_FLAG_PROVIDER_GCM) */
  /* backend state: AF_ALG (operation sockets, -1 when unused) */
  int fd_cipher, fd_masked, fd_hmac;
};

extern const sbd_backend_ops sbd_openssl_ops;
/* srtp-bytes.c: counter blocks ctr0 + j (j < n, big-endian increment of the last word) and out = in XOR k. */
void sbd_bytes_init(void);
void sbd_counter_blocks(const uint8_t ctr0[16], int n, uint8_t *out);
void sbd_xor_bytes(uint8_t *out, const uint8_t *in, const uint8_t *k, size_t n);
/* An AES-GCM EVP_CIPHER_CTX (klen 16 or 32) keyed with k, dispatched to libcrypto's built-in GCM code, or NULL
 * when this libcrypto cannot (srtp-builtin-gcm.c). */
void *sbd_builtin_gcm_new(int klen, const uint8_t *k, int enc);
extern const sbd_backend_ops sbd_afalg_ops;
int sbd_afalg_available(void);

#endif
