/* Internal layout shared by the SRTP and SRTCP transform files (not part of the binding's interface). */
#ifndef SBD_SRTP_INTERNAL_H
#define SBD_SRTP_INTERNAL_H
#include "srtp.h"

typedef struct {
  int cipher, key_len, salt_len, rtp_tag, rtcp_tag;
} suite_info;

typedef struct {
  uint64_t *bits; /* bit k set: index (highest - k) was accepted */
  int64_t highest;
  int any;
} replay_window;

typedef struct {
  uint32_t ssrc;
  int used;
  uint32_t initial_roc; /* RFC 3711 §3.3.1: ROC a receiver starts from, 0 unless signalled */
  replay_window rtp, rtcp;
  uint32_t rtcp_tx_index;
} ssrc_state;

struct sbd_srtp {
  suite_info s;
  sbd_keyset rtp, rtcp;
  uint8_t mki[128];
  int mki_len;
  int flags; /* SBD_FLAG_* given to sbd_srtp_new */
  int window_bits, window_words;
  int table_size; /* power of two, at least twice max_ssrcs */
  int max_ssrcs, n_ssrcs;
  ssrc_state *table;
  uint64_t *bit_pool;
  uint64_t stats[SBD_STAT_COUNT];
};

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

int tag_equal(const uint8_t *a, const uint8_t *b, int n);
int fail(sbd_srtp *c, int rc);
ssrc_state *find_ssrc(sbd_srtp *c, uint32_t ssrc, int create);
int window_check(const sbd_srtp *c, const replay_window *w, int64_t index);
void window_add(const sbd_srtp *c, replay_window *w, int64_t index);
void cm_iv(const uint8_t salt[14], uint32_t ssrc, int64_t index, uint8_t iv[16]);
int f8_xor(sbd_keyset *ks, const uint8_t iv[16], uint8_t *buf, size_t len);
void gcm_iv(const uint8_t salt[12], uint32_t ssrc, uint32_t hi, uint32_t lo, int srtcp, uint8_t iv[12]);

#endif
