/*
 * SRTP/SRTCP packet transforms (RFC 3711 §3-§4, RFC 7714 §7-§9) over a backend (srtp.h). See srtp.h for the
 * theory of operation. Every check happens before any state changes: a packet that fails authentication,
 * replay or parsing leaves the stream exactly as it was (RFC 3711 §3.3 step 5-7).
 */
#include <stdlib.h>
#include <string.h>
#include "srtp-internal.h"

/* RFC 4568 §6.2, RFC 6188 §7, RFC 7714 §14.2; RFC 4568 §6.2.2: SRTCP keeps the 80-bit tag for the _32 suites. */
static const suite_info SUITES[SBD_SUITE_COUNT] = {
    {SBD_CIPHER_CM, 16, 14, 10, 10}, {SBD_CIPHER_CM, 16, 14, 4, 10},  {SBD_CIPHER_GCM, 16, 12, 16, 16},
    {SBD_CIPHER_GCM, 32, 12, 16, 16}, {SBD_CIPHER_F8, 16, 14, 10, 10}, {SBD_CIPHER_CM, 24, 14, 10, 10},
    {SBD_CIPHER_CM, 24, 14, 4, 10},  {SBD_CIPHER_CM, 32, 14, 10, 10}, {SBD_CIPHER_CM, 32, 14, 4, 10},
};

/* Constant-time tag comparison. */
int tag_equal(const uint8_t *a, const uint8_t *b, int n) {
  uint8_t d = 0;
  for (int i = 0; i < n; i++) d |= a[i] ^ b[i];
  return d == 0;
}

/* ---------- key derivation: RFC 3711 §4.3.1-§4.3.3 (key_derivation_rate 0), RFC 7714 §11, RFC 6188 §6 ---------- */
static int kdf(const sbd_backend_ops *ops, const uint8_t *mkey, int klen, const uint8_t salt14[14], uint8_t label,
               uint8_t *out, int outlen) {
  sbd_keyset prf;
  memset(&prf, 0, sizeof prf);
  prf.cipher = SBD_CIPHER_CM;
  prf.fd_cipher = prf.fd_masked = prf.fd_hmac = -1;
  int rc = ops->init(&prf, mkey, klen, NULL, 0, NULL);
  if (rc == 0) {
    uint8_t iv[16] = {0};
    memcpy(iv, salt14, 14);
    iv[7] ^= label; /* x = key_id XOR master_salt, key_id = label || r with r = 0 */
    memset(out, 0, (size_t)outlen);
    rc = ops->ctr_xor(&prf, iv, out, (size_t)outlen);
  }
  ops->release(&prf);
  return rc;
}

static int keyset_init(sbd_srtp *c, sbd_keyset *ks, const sbd_backend_ops *ops, const uint8_t *mkey,
                       const uint8_t *salt14, int salt_len, int derive, uint8_t base_label) {
  uint8_t k[32], a[20], f8[32];
  int rc = 0;
  memset(ks, 0, sizeof *ks);
  ks->cipher = c->s.cipher;
  ks->key_len = c->s.key_len;
  ks->ops = ops;
  ks->salt_len = derive ? c->s.salt_len : salt_len;
  ks->fd_cipher = ks->fd_masked = ks->fd_hmac = -1;
  ks->gcm_provider_only = (c->flags & SBD_FLAG_PROVIDER_GCM) != 0;
  if (derive) {
    if ((rc = kdf(ops, mkey, c->s.key_len, salt14, base_label, k, c->s.key_len)) ||
        (rc = kdf(ops, mkey, c->s.key_len, salt14, base_label + 1, a, 20)) ||
        (rc = kdf(ops, mkey, c->s.key_len, salt14, base_label + 2, ks->salt, c->s.salt_len)))
      return rc;
  } else {
    memcpy(k, mkey, (size_t)c->s.key_len);
    memset(a, 0, sizeof a);
    memcpy(ks->salt, salt14, 14);
  }
  if (c->s.cipher == SBD_CIPHER_F8) {
    /* RFC 3711 §4.1.2.2: m = k_s || 0x555..., IV' = E(k_e XOR m, IV) */
    memset(f8, 0x55, sizeof f8);
    memcpy(f8, ks->salt, (size_t)ks->salt_len);
    for (int i = 0; i < c->s.key_len; i++) f8[i] ^= k[i];
  }
  rc = ops->init(ks, k, c->s.key_len, c->s.cipher == SBD_CIPHER_GCM ? NULL : a, 20, f8);
  memset(k, 0, sizeof k), memset(a, 0, sizeof a), memset(f8, 0, sizeof f8);
  return rc;
}

int sbd_srtp_kdf(int backend, const uint8_t *key, int key_len, const uint8_t *salt, int salt_len, int label,
                 uint8_t *out, int out_len) {
  const sbd_backend_ops *ops = backend == SBD_BACKEND_AF_ALG ? &sbd_afalg_ops : &sbd_openssl_ops;
  uint8_t salt14[14] = {0};
  if ((key_len != 16 && key_len != 24 && key_len != 32) || salt_len < 0 || salt_len > 14 || label < 0 ||
      label > 255 || out_len < 0 || out_len > 64)
    return SBD_E_PARAM;
  if (!sbd_srtp_backend_available(backend)) return SBD_E_BACKEND;
  memcpy(salt14, salt, (size_t)salt_len);
  return kdf(ops, key, key_len, salt14, (uint8_t)label, out, out_len);
}

uintptr_t sbd_address_of(const uint8_t *p) { return (uintptr_t)p; }

int sbd_srtp_gcm_builtin(const sbd_srtp *c) { return c->rtp.gcm_builtin; }

int sbd_srtp_backend_available(int backend) {
  return backend == SBD_BACKEND_OPENSSL ? 1 : backend == SBD_BACKEND_AF_ALG ? sbd_afalg_available() : 0;
}

sbd_srtp *sbd_srtp_new(int suite, const uint8_t *key, int key_len, const uint8_t *salt, int salt_len,
                       const uint8_t *mki, int mki_len, int replay_window, int max_ssrcs, int backend, int flags,
                       int *err) {
  int dummy;
  if (!err) err = &dummy;
  *err = SBD_E_PARAM;
  if (suite < 0 || suite >= SBD_SUITE_COUNT) return NULL;
  const suite_info *s = &SUITES[suite];
  int session = flags & SBD_FLAG_SESSION_KEYS;
  if (key_len != s->key_len || (session ? salt_len > 14 || salt_len < 4 : salt_len != s->salt_len)) return NULL;
  if (mki_len < 0 || mki_len > 128 || replay_window < 64 || replay_window > 32768 || max_ssrcs < 1 ||
      max_ssrcs > 65536)
    return NULL;
  const sbd_backend_ops *ops = backend == SBD_BACKEND_OPENSSL ? &sbd_openssl_ops
                               : backend == SBD_BACKEND_AF_ALG ? &sbd_afalg_ops
                                                               : NULL;
  if (!ops) return NULL;
  if (!sbd_srtp_backend_available(backend)) {
    *err = SBD_E_BACKEND;
    return NULL;
  }
  sbd_srtp *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->s = *s;
  c->flags = flags;
  c->mki_len = mki_len;
  if (mki_len) memcpy(c->mki, mki, (size_t)mki_len);
  c->window_words = (replay_window + 63) / 64;
  c->window_bits = replay_window;
  c->max_ssrcs = max_ssrcs;
  c->table_size = 2;
  while (c->table_size < 2 * max_ssrcs) c->table_size <<= 1;
  c->table = calloc((size_t)c->table_size, sizeof *c->table);
  c->bit_pool = calloc((size_t)max_ssrcs * 2 * (size_t)c->window_words, sizeof(uint64_t));
  c->rtp.fd_cipher = c->rtp.fd_masked = c->rtp.fd_hmac = -1;
  c->rtcp.fd_cipher = c->rtcp.fd_masked = c->rtcp.fd_hmac = -1;
  if (!c->table || !c->bit_pool) {
    sbd_srtp_free(c);
    return NULL;
  }
  /* A 96-bit GCM master salt enters the AES-CM PRF zero-padded to 112 bits (RFC 7714 §11). */
  uint8_t salt14[14] = {0};
  memcpy(salt14, salt, (size_t)salt_len);
  int rc = keyset_init(c, &c->rtp, ops, key, salt14, salt_len, !session, 0x00);
  if (!rc) rc = keyset_init(c, &c->rtcp, ops, key, salt14, salt_len, !session, 0x03);
  if (rc) {
    sbd_srtp_free(c);
    *err = rc;
    return NULL;
  }
  *err = 0;
  return c;
}

void sbd_srtp_free(sbd_srtp *c) {
  if (!c) return;
  if (c->rtp.ops) c->rtp.ops->release(&c->rtp);
  if (c->rtcp.ops) c->rtcp.ops->release(&c->rtcp);
  free(c->table);
  free(c->bit_pool);
  memset(c, 0, sizeof *c);
  free(c);
}

void sbd_srtp_stats(const sbd_srtp *c, double *out) {
  for (int i = 0; i < SBD_STAT_COUNT; i++) out[i] = (double)c->stats[i];
}

/* ---------- per-SSRC state and the replay window (RFC 3711 §3.3.2) ---------- */
ssrc_state *find_ssrc(sbd_srtp *c, uint32_t ssrc, int create) {
  uint32_t mask = (uint32_t)c->table_size - 1, i = (ssrc * 2654435761u) & mask;
  for (;;) {
    ssrc_state *st = &c->table[i];
    if (st->used && st->ssrc == ssrc) return st;
    if (!st->used) {
      if (!create || c->n_ssrcs >= c->max_ssrcs) return NULL;
      uint64_t *bits = c->bit_pool + (size_t)c->n_ssrcs * 2 * (size_t)c->window_words;
      c->n_ssrcs++;
      st->used = 1;
      st->ssrc = ssrc;
      st->rtp.bits = bits;
      st->rtcp.bits = bits + c->window_words;
      return st;
    }
    i = (i + 1) & mask;
  }
}

/* Returns 0 when `index` may be accepted, else SBD_E_REPLAY / SBD_E_REPLAY_OLD. */
int window_check(const sbd_srtp *c, const replay_window *w, int64_t index) {
  if (!w->any || index > w->highest) return 0;
  int64_t back = w->highest - index;
  if (back >= c->window_bits) return SBD_E_REPLAY_OLD;
  return (w->bits[back >> 6] >> (back & 63)) & 1 ? SBD_E_REPLAY : 0;
}

void window_add(const sbd_srtp *c, replay_window *w, int64_t index) {
  int n = c->window_words;
  if (!w->any || index - w->highest >= c->window_bits) {
    memset(w->bits, 0, (size_t)n * 8);
  } else if (index > w->highest) {
    int64_t d = index - w->highest;
    int ws = (int)(d >> 6), bs = (int)(d & 63);
    for (int i = n - 1; i >= 0; i--) {
      uint64_t hi = i - ws >= 0 ? w->bits[i - ws] : 0, lo = i - ws - 1 >= 0 ? w->bits[i - ws - 1] : 0;
      w->bits[i] = bs ? (hi << bs) | (lo >> (64 - bs)) : hi;
    }
  } else {
    int64_t back = w->highest - index;
    w->bits[back >> 6] |= (uint64_t)1 << (back & 63);
    return;
  }
  w->bits[0] |= 1;
  w->highest = index;
  w->any = 1;
}

/* RFC 3711 §3.3.1 and Appendix A: the index estimate from SEQ and the highest index seen. While the stream is
 * still in its first half-cycle (highest <= 32768, ROC 0) the estimate is SEQ itself, as libsrtp does, so a
 * stream that starts at any sequence number is accepted. */
static int64_t estimate_index(const ssrc_state *st, uint16_t seq) {
  const replay_window *w = &st->rtp;
  if (!w->any) return (int64_t)st->initial_roc << 16 | seq;
  int64_t roc = w->highest >> 16;
  uint32_t s_l = (uint32_t)(w->highest & 0xffff);
  if (w->highest <= 32768) return seq;
  int64_t v = roc;
  if (s_l < 32768) {
    if ((int32_t)seq - (int32_t)s_l > 32768) v = roc - 1;
  } else if ((int32_t)s_l - 32768 > (int32_t)seq) {
    v = roc + 1;
  }
  return v << 16 | seq;
}

int64_t sbd_srtp_get_roc(sbd_srtp *c, uint32_t ssrc) {
  ssrc_state *st = find_ssrc(c, ssrc, 0);
  if (!st) return -1;
  return st->rtp.any ? st->rtp.highest >> 16 : st->initial_roc;
}

int sbd_srtp_set_roc(sbd_srtp *c, uint32_t ssrc, uint32_t roc) {
  ssrc_state *st = find_ssrc(c, ssrc, 1);
  if (!st) return SBD_E_SSRC_LIMIT;
  st->initial_roc = roc;
  st->rtp.any = 0;
  return 0;
}

/* ---------- RTP ---------- */
/* RFC 3550 §5.1: fixed header, CSRC list, optional extension. Returns the header length or an error. */
static int rtp_header_len(const uint8_t *p, int len) {
  if (len < 12) return SBD_E_MALFORMED;
  if ((p[0] >> 6) != 2) return SBD_E_MALFORMED;
  int h = 12 + 4 * (p[0] & 0x0f);
  if (p[0] & 0x10) {
    if (len < h + 4) return SBD_E_MALFORMED;
    h += 4 + 4 * rd16(p + h + 2);
  }
  return h > len ? SBD_E_MALFORMED : h;
}

/* IVs are built in two 64-bit words and stored whole (8 + 8, or 8 + 4 octets): the keystream code loads
 * them right away, and a load that spans several narrower, still-buffered stores stalls (no forwarding). */
static inline uint64_t rd64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
static inline void wr64(uint8_t *p, uint64_t v) {
  v = __builtin_bswap64(v);
  memcpy(p, &v, 8);
}
static inline uint32_t ld32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
static inline void st32(uint8_t *p, uint32_t v) {
  v = __builtin_bswap32(v);
  memcpy(p, &v, 4);
}

void cm_iv(const uint8_t salt[14], uint32_t ssrc, int64_t index, uint8_t iv[16]) {
  /* RFC 3711 §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16) */
  uint64_t lo = (uint64_t)ld32(salt + 8) << 32 | (uint64_t)salt[12] << 24 | (uint64_t)salt[13] << 16;
  wr64(iv, rd64(salt) ^ ssrc);
  wr64(iv + 8, lo ^ ((uint64_t)index << 16));
}

/* RFC 3711 §4.1.2: F8 keystream S(j) = E(k_e, IV' XOR j XOR S(j-1)), IV' = E(k_e XOR m, IV). */
int f8_xor(sbd_keyset *ks, const uint8_t iv[16], uint8_t *buf, size_t len) {
  uint8_t ivp[16], s[16] = {0}, x[16];
  int rc = ks->ops->ecb_block(ks, 1, iv, ivp);
  if (rc) return rc;
  for (uint32_t j = 0; len > 0; j++) {
    for (int i = 0; i < 16; i++) x[i] = ivp[i] ^ s[i];
    x[12] ^= (uint8_t)(j >> 24), x[13] ^= (uint8_t)(j >> 16), x[14] ^= (uint8_t)(j >> 8), x[15] ^= (uint8_t)j;
    if ((rc = ks->ops->ecb_block(ks, 0, x, s))) return rc;
    size_t n = len < 16 ? len : 16;
    for (size_t i = 0; i < n; i++) buf[i] ^= s[i];
    buf += n, len -= n;
  }
  return 0;
}

void gcm_iv(const uint8_t salt[12], uint32_t ssrc, uint32_t hi, uint32_t lo, int srtcp, uint8_t iv[12]) {
  /* RFC 7714 §8.1 (SRTP): 00 00 || SSRC || ROC || SEQ; §9.1 (SRTCP): 00 00 || SSRC || 00 00 || 0 || index */
  uint64_t w0 = (uint64_t)ssrc << 16;
  uint32_t w1 = lo;
  if (!srtcp) w0 |= hi >> 16, w1 = hi << 16 | (lo & 0xffff);
  wr64(iv, rd64(salt) ^ w0);
  st32(iv + 8, ld32(salt + 8) ^ w1);
}

int fail(sbd_srtp *c, int rc) {
  int k = rc == SBD_E_AUTH ? SBD_STAT_AUTH_FAIL
          : rc == SBD_E_REPLAY ? SBD_STAT_REPLAY
          : rc == SBD_E_REPLAY_OLD ? SBD_STAT_REPLAY_OLD
          : rc == SBD_E_MALFORMED || rc == SBD_E_TRUNCATED ? SBD_STAT_MALFORMED
          : rc == SBD_E_MKI ? SBD_STAT_MKI
                            : SBD_STAT_OTHER;
  c->stats[k]++;
  return rc;
}

/* AES-CM or F8 over the payload p[h..end) of the packet with this index (encryption = decryption). */
static int rtp_xor(sbd_srtp *c, sbd_keyset *ks, uint8_t *p, int h, int end, uint32_t ssrc, int64_t index) {
  uint8_t iv[16];
  if (c->s.cipher == SBD_CIPHER_CM) {
    cm_iv(ks->salt, ssrc, index, iv);
    return ks->ops->ctr_xor(ks, iv, p + h, (size_t)(end - h));
  }
  /* RFC 3711 §4.1.2.2: IV = 0x00 || M || PT || SEQ || TS || SSRC || ROC */
  memcpy(iv, p, 12);
  iv[0] = 0;
  wr32(iv + 12, (uint32_t)(index >> 16));
  return f8_xor(ks, iv, p + h, (size_t)(end - h));
}

int sbd_srtp_protect(sbd_srtp *c, uint8_t *p, int len, int cap) {
  int h = rtp_header_len(p, len);
  if (h < 0) return fail(c, h);
  int tag = c->s.rtp_tag, out = len + tag + c->mki_len;
  if (out > cap) return fail(c, SBD_E_NO_ROOM);
  uint32_t ssrc = rd32(p + 8);
  ssrc_state *st = find_ssrc(c, ssrc, 1);
  if (!st) return fail(c, SBD_E_SSRC_LIMIT);
  int64_t index = estimate_index(st, rd16(p + 2));
  /* a sender never reuses an index: the keystream would repeat (RFC 3711 §9.1) */
  int rc = index < 0 ? SBD_E_REPLAY_OLD : window_check(c, &st->rtp, index);
  if (rc) return fail(c, rc);
  if (index >> 48) return fail(c, SBD_E_INDEX);
  uint32_t roc = (uint32_t)(index >> 16);
  sbd_keyset *ks = &c->rtp;
  if (c->s.cipher == SBD_CIPHER_GCM) {
    uint8_t iv[12];
    gcm_iv(ks->salt, ssrc, roc, (uint32_t)index & 0xffff, 0, iv);
    /* RFC 7714 §7.1: AAD = the RTP header; tag follows the ciphertext, MKI follows the tag */
    if ((rc = ks->ops->gcm_seal(ks, iv, p, (size_t)h, NULL, 0, p + h, (size_t)(len - h), p + len))) return fail(c, rc);
    if (c->mki_len) memcpy(p + len + tag, c->mki, (size_t)c->mki_len);
  } else {
    uint8_t mac[20], rocb[4];
    if ((rc = rtp_xor(c, ks, p, h, len, ssrc, index))) return fail(c, rc);
    /* RFC 3711 §4.2: tag over the authenticated portion || ROC; the MKI sits between payload and tag */
    wr32(rocb, roc);
    if ((rc = ks->ops->hmac_sha1(ks, p, (size_t)len, rocb, 4, mac))) return fail(c, rc);
    if (c->mki_len) memcpy(p + len, c->mki, (size_t)c->mki_len);
    memcpy(p + len + c->mki_len, mac, (size_t)tag);
  }
  window_add(c, &st->rtp, index);
  c->stats[SBD_STAT_RTP_PROTECTED]++;
  return out;
}

int sbd_srtp_unprotect(sbd_srtp *c, uint8_t *p, int len) {
  int tag = c->s.rtp_tag, body = len - tag - c->mki_len;
  int h = rtp_header_len(p, len);
  if (h < 0) return fail(c, h);
  if (body < h) return fail(c, SBD_E_TRUNCATED);
  int gcm = c->s.cipher == SBD_CIPHER_GCM;
  const uint8_t *mki = gcm ? p + body + tag : p + body;
  if (c->mki_len && !tag_equal(mki, c->mki, c->mki_len)) return fail(c, SBD_E_MKI);
  uint32_t ssrc = rd32(p + 8);
  ssrc_state *st = find_ssrc(c, ssrc, 1);
  if (!st) return fail(c, SBD_E_SSRC_LIMIT);
  int64_t index = estimate_index(st, rd16(p + 2));
  int rc = index < 0 ? SBD_E_REPLAY_OLD : window_check(c, &st->rtp, index);
  if (rc) return fail(c, rc);
  uint32_t roc = (uint32_t)(index >> 16);
  sbd_keyset *ks = &c->rtp;
  if (gcm) {
    uint8_t iv[12];
    gcm_iv(ks->salt, ssrc, roc, (uint32_t)index & 0xffff, 0, iv);
    if ((rc = ks->ops->gcm_open(ks, iv, p, (size_t)h, NULL, 0, p + h, (size_t)(body - h), p + body))) return fail(c, rc);
  } else {
    uint8_t mac[20], rocb[4];
    wr32(rocb, roc);
    if ((rc = ks->ops->hmac_sha1(ks, p, (size_t)body, rocb, 4, mac))) return fail(c, rc);
    if (!tag_equal(mac, p + body + c->mki_len, tag)) return fail(c, SBD_E_AUTH);
    if ((rc = rtp_xor(c, ks, p, h, body, ssrc, index))) return fail(c, rc);
  }
  window_add(c, &st->rtp, index);
  c->stats[SBD_STAT_RTP_UNPROTECTED]++;
  return body;
}
