/*
 * SRTCP (RFC 3711 §3.4, RFC 7714 §9) and the batch entry point. Packets are always sent encrypted (E = 1);
 * unencrypted SRTCP (E = 0) is accepted on receive, authenticated only.
 *   AES-CM / F8: header(8) | encrypted | E|index | MKI | tag — tag over header..E|index (RFC 3711 §3.4)
 *   AEAD:        header(8) | encrypted | tag(16) | E|index | MKI — AAD = header || E|index (RFC 7714 §9.2)
 */
#include <string.h>
#include "srtp-internal.h"

/* RFC 3711 §4.1.2.3: IV = 0x00000000 || E || SRTCP index || V..length || SSRC (the first 8 header octets) */
static void f8_rtcp_iv(const uint8_t *p, uint32_t trailer, uint8_t iv[16]) {
  memset(iv, 0, 4);
  wr32(iv + 4, trailer);
  memcpy(iv + 8, p, 8);
}

static int rtcp_check_header(const uint8_t *p, int len) {
  /* RFC 3550 §6.4: version 2, at least the 8-octet header with the sender's SSRC */
  if (len < 8 || (p[0] >> 6) != 2) return SBD_E_MALFORMED;
  return 0;
}

int sbd_srtp_protect_rtcp(sbd_srtp *c, uint8_t *p, int len, int cap) {
  int rc = rtcp_check_header(p, len);
  if (rc) return fail(c, rc);
  int tag = c->s.rtcp_tag, out = len + 4 + tag + c->mki_len;
  if (out > cap) return fail(c, SBD_E_NO_ROOM);
  uint32_t ssrc = rd32(p + 4);
  ssrc_state *st = find_ssrc(c, ssrc, 1);
  if (!st) return fail(c, SBD_E_SSRC_LIMIT);
  /* RFC 3711 §3.4: the 31-bit SRTCP index; at its end the master key must be replaced (§9.2) */
  if (st->rtcp_tx_index >= 0x7fffffffu) return fail(c, SBD_E_INDEX);
  uint32_t index = st->rtcp_tx_index + 1, trailer = 0x80000000u | index;
  sbd_keyset *ks = &c->rtcp;
  if (c->s.cipher == SBD_CIPHER_GCM) {
    uint8_t iv[12], tw[4];
    wr32(tw, trailer);
    gcm_iv(ks->salt, ssrc, 0, index, 1, iv);
    if ((rc = ks->ops->gcm_seal(ks, iv, p, 8, tw, 4, p + 8, (size_t)(len - 8), p + len))) return fail(c, rc);
    wr32(p + len + tag, trailer);
    if (c->mki_len) memcpy(p + len + tag + 4, c->mki, (size_t)c->mki_len);
  } else {
    uint8_t iv[16], mac[20];
    if (c->s.cipher == SBD_CIPHER_CM) {
      cm_iv(ks->salt, ssrc, index, iv);
      rc = ks->ops->ctr_xor(ks, iv, p + 8, (size_t)(len - 8));
    } else {
      f8_rtcp_iv(p, trailer, iv);
      rc = f8_xor(ks, iv, p + 8, (size_t)(len - 8));
    }
    if (rc) return fail(c, rc);
    wr32(p + len, trailer);
    if ((rc = ks->ops->hmac_sha1(ks, p, (size_t)len + 4, NULL, 0, mac))) return fail(c, rc);
    if (c->mki_len) memcpy(p + len + 4, c->mki, (size_t)c->mki_len);
    memcpy(p + len + 4 + c->mki_len, mac, (size_t)tag);
  }
  st->rtcp_tx_index = index;
  c->stats[SBD_STAT_RTCP_PROTECTED]++;
  return out;
}

int sbd_srtp_unprotect_rtcp(sbd_srtp *c, uint8_t *p, int len) {
  int rc = rtcp_check_header(p, len);
  if (rc) return fail(c, rc);
  int tag = c->s.rtcp_tag, gcm = c->s.cipher == SBD_CIPHER_GCM;
  int tpos = gcm ? len - c->mki_len - 4 : len - tag - c->mki_len - 4; /* where E|index sits */
  int body = gcm ? tpos - tag : tpos;                                  /* end of the encrypted portion */
  if (body < 8) return fail(c, SBD_E_TRUNCATED);
  if (c->mki_len && !tag_equal(p + tpos + 4, c->mki, c->mki_len)) return fail(c, SBD_E_MKI);
  uint32_t trailer = rd32(p + tpos), index = trailer & 0x7fffffffu, ssrc = rd32(p + 4);
  int encrypted = (int)(trailer >> 31);
  ssrc_state *st = find_ssrc(c, ssrc, 1);
  if (!st) return fail(c, SBD_E_SSRC_LIMIT);
  if ((rc = window_check(c, &st->rtcp, index))) return fail(c, rc);
  sbd_keyset *ks = &c->rtcp;
  if (gcm) {
    uint8_t iv[12];
    gcm_iv(ks->salt, ssrc, 0, index, 1, iv);
    /* RFC 7714 §9.3: with E = 0 the whole packet is AAD and nothing is encrypted */
    rc = encrypted ? ks->ops->gcm_open(ks, iv, p, 8, p + tpos, 4, p + 8, (size_t)(body - 8), p + body)
                   : ks->ops->gcm_open(ks, iv, p, (size_t)body, p + tpos, 4, p + body, 0, p + body);
    if (rc) return fail(c, rc);
  } else {
    uint8_t mac[20], iv[16];
    if ((rc = ks->ops->hmac_sha1(ks, p, (size_t)tpos + 4, NULL, 0, mac))) return fail(c, rc);
    if (!tag_equal(mac, p + tpos + 4 + c->mki_len, tag)) return fail(c, SBD_E_AUTH);
    if (encrypted) {
      if (c->s.cipher == SBD_CIPHER_CM) {
        cm_iv(ks->salt, ssrc, index, iv);
        rc = ks->ops->ctr_xor(ks, iv, p + 8, (size_t)(body - 8));
      } else {
        f8_rtcp_iv(p, trailer, iv);
        rc = f8_xor(ks, iv, p + 8, (size_t)(body - 8));
      }
      if (rc) return fail(c, rc);
    }
  }
  window_add(c, &st->rtcp, index);
  c->stats[SBD_STAT_RTCP_UNPROTECTED]++;
  return body;
}

int sbd_srtp_batch(sbd_srtp *c, int op, uint8_t *arena, int64_t arena_len, const int32_t *offsets, int32_t *lens,
                   const int32_t *caps, int n) {
  int ok = 0;
  /* every slot inside the arena before anything is touched (cheaper here than per packet in JavaScript) */
  if (n < 0 || arena_len < 0) return SBD_E_PARAM;
  for (int i = 0; i < n; i++) {
    int64_t o = offsets[i], l = lens[i], cap = caps[i];
    if (o < 0 || l < 0 || l > cap || o + cap > arena_len) return SBD_E_PARAM;
  }
  for (int i = 0; i < n; i++) {
    uint8_t *p = arena + offsets[i];
    int r;
    switch (op) {
      case SBD_OP_PROTECT_RTP: r = sbd_srtp_protect(c, p, lens[i], caps[i]); break;
      case SBD_OP_UNPROTECT_RTP: r = sbd_srtp_unprotect(c, p, lens[i]); break;
      case SBD_OP_PROTECT_RTCP: r = sbd_srtp_protect_rtcp(c, p, lens[i], caps[i]); break;
      case SBD_OP_UNPROTECT_RTCP: r = sbd_srtp_unprotect_rtcp(c, p, lens[i]); break;
      default: return SBD_E_PARAM;
    }
    lens[i] = r;
    ok += r >= 0;
  }
  return ok;
}
