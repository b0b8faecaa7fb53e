/*
 * AF_ALG backend of the SRTP engine: the Linux kernel crypto API (linux/if_alg.h), the door to hardware and
 * NIC crypto engines registered with the kernel. Each keyset opens one operation socket per transform
 * (ctr(aes) or gcm(aes) or ecb(aes), and hmac(sha1)), keyed once; a packet is one sendmsg + one read per
 * transform. The bytes are identical to the OpenSSL backend's; only the engine doing the work differs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include <errno.h>
#include <linux/if_alg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "srtp.h"

#ifndef SOL_ALG
#define SOL_ALG 279
#endif

static int alg_open(const char *type, const char *name, const uint8_t *key, int klen, int authsize) {
  struct sockaddr_alg sa;
  memset(&sa, 0, sizeof sa);
  sa.salg_family = AF_ALG;
  strncpy((char *)sa.salg_type, type, sizeof sa.salg_type - 1);
  strncpy((char *)sa.salg_name, name, sizeof sa.salg_name - 1);
  int tfm = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (tfm < 0) return -1;
  if (bind(tfm, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      (key && setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key, (socklen_t)klen) != 0) ||
      (authsize && setsockopt(tfm, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, NULL, (socklen_t)authsize) != 0)) {
    close(tfm);
    return -1;
  }
  int op = accept4(tfm, NULL, NULL, SOCK_CLOEXEC);
  close(tfm); /* the operation socket keeps the keyed transform alive */
  return op;
}

int sbd_afalg_available(void) {
  int fd = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  close(fd);
  return 1;
}

static int afalg_init(sbd_keyset *ks, const uint8_t *k, int klen, const uint8_t *a, int alen, const uint8_t *f8key) {
  ks->fd_cipher = ks->fd_masked = ks->fd_hmac = -1;
  if (ks->cipher == SBD_CIPHER_GCM) {
    ks->fd_cipher = alg_open("aead", "gcm(aes)", k, klen, 16);
  } else if (ks->cipher == SBD_CIPHER_CM) {
    ks->fd_cipher = alg_open("skcipher", "ctr(aes)", k, klen, 0);
  } else {
    ks->fd_cipher = alg_open("skcipher", "ecb(aes)", k, klen, 0);
    ks->fd_masked = alg_open("skcipher", "ecb(aes)", f8key, klen, 0);
    if (ks->fd_masked < 0) return SBD_E_BACKEND;
  }
  if (ks->fd_cipher < 0) return SBD_E_BACKEND;
  if (a && alen > 0) {
    ks->fd_hmac = alg_open("hash", "hmac(sha1)", a, alen, 0);
    if (ks->fd_hmac < 0) return SBD_E_BACKEND;
  }
  return 0;
}

static void afalg_release(sbd_keyset *ks) {
  if (ks->fd_cipher >= 0) close(ks->fd_cipher);
  if (ks->fd_masked >= 0) close(ks->fd_masked);
  if (ks->fd_hmac >= 0) close(ks->fd_hmac);
  ks->fd_cipher = ks->fd_masked = ks->fd_hmac = -1;
}

/* One request on an operation socket: control messages (op, IV, AEAD assoc length), the input iovecs, then
 * read the whole output into the output iovecs. */
static int alg_request(int fd, int op, const uint8_t *iv, int ivlen, int assoclen, struct iovec *in, int nin,
                       struct iovec *out, int nout, size_t outlen) {
  char cbuf[CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(sizeof(struct af_alg_iv) + 16) + CMSG_SPACE(sizeof(uint32_t))];
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  memset(cbuf, 0, sizeof cbuf);
  msg.msg_control = cbuf;
  msg.msg_controllen = CMSG_SPACE(sizeof(uint32_t)) + (ivlen ? CMSG_SPACE(sizeof(struct af_alg_iv) + ivlen) : 0) +
                       (assoclen >= 0 ? CMSG_SPACE(sizeof(uint32_t)) : 0);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_ALG;
  c->cmsg_type = ALG_SET_OP;
  c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
  *(uint32_t *)CMSG_DATA(c) = (uint32_t)op;
  if (ivlen) {
    c = CMSG_NXTHDR(&msg, c);
    c->cmsg_level = SOL_ALG;
    c->cmsg_type = ALG_SET_IV;
    c->cmsg_len = CMSG_LEN(sizeof(struct af_alg_iv) + ivlen);
    struct af_alg_iv *v = (struct af_alg_iv *)CMSG_DATA(c);
    v->ivlen = (uint32_t)ivlen;
    memcpy(v->iv, iv, (size_t)ivlen);
  }
  if (assoclen >= 0) {
    c = CMSG_NXTHDR(&msg, c);
    c->cmsg_level = SOL_ALG;
    c->cmsg_type = ALG_SET_AEAD_ASSOCLEN;
    c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
    *(uint32_t *)CMSG_DATA(c) = (uint32_t)assoclen;
  }
  msg.msg_iov = in;
  msg.msg_iovlen = (size_t)nin;
  if (sendmsg(fd, &msg, 0) < 0) return SBD_E_CRYPTO;
  ssize_t r = readv(fd, out, nout);
  if (r < 0) return errno == EBADMSG ? SBD_E_AUTH : SBD_E_CRYPTO;
  return (size_t)r == outlen ? 0 : SBD_E_CRYPTO;
}

static int afalg_ctr_xor(sbd_keyset *ks, const uint8_t iv[16], uint8_t *buf, size_t len) {
  if (!len) return 0;
  struct iovec io = {buf, len};
  return alg_request(ks->fd_cipher, ALG_OP_ENCRYPT, iv, 16, -1, &io, 1, &io, 1, len);
}

static int afalg_ecb_block(sbd_keyset *ks, int masked, const uint8_t in[16], uint8_t out[16]) {
  struct iovec i = {(void *)in, 16}, o = {out, 16};
  return alg_request(masked ? ks->fd_masked : ks->fd_cipher, ALG_OP_ENCRYPT, NULL, 0, -1, &i, 1, &o, 1, 16);
}

static int afalg_hmac(sbd_keyset *ks, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[20]) {
  if (send(ks->fd_hmac, a, alen, blen ? MSG_MORE : 0) != (ssize_t)alen) return SBD_E_CRYPTO;
  if (blen && send(ks->fd_hmac, b, blen, 0) != (ssize_t)blen) return SBD_E_CRYPTO;
  return read(ks->fd_hmac, out, 20) == 20 ? 0 : SBD_E_CRYPTO;
}

/* Kernel AEAD layout: input AAD || text (|| tag when decrypting), output AAD || text (|| tag when encrypting). */
static int afalg_gcm_seal(sbd_keyset *ks, const uint8_t iv[12], const uint8_t *aad, size_t aadlen, const uint8_t *aad2,
                          size_t aad2len, uint8_t *buf, size_t len, uint8_t tag[16]) {
  /* the kernel copies the AAD through unchanged: reading it back over itself writes the same bytes */
  struct iovec in[3] = {{(void *)aad, aadlen}, {(void *)aad2, aad2len}, {buf, len}};
  struct iovec out[4] = {{(void *)aad, aadlen}, {(void *)aad2, aad2len}, {buf, len}, {tag, 16}};
  size_t a = aadlen + aad2len;
  return alg_request(ks->fd_cipher, ALG_OP_ENCRYPT, iv, 12, (int)a, in, 3, out, 4, a + len + 16);
}

static int afalg_gcm_open(sbd_keyset *ks, const uint8_t iv[12], const uint8_t *aad, size_t aadlen, const uint8_t *aad2,
                          size_t aad2len, uint8_t *buf, size_t len, const uint8_t tag[16]) {
  struct iovec in[4] = {{(void *)aad, aadlen}, {(void *)aad2, aad2len}, {buf, len}, {(void *)tag, 16}};
  struct iovec out[3] = {{(void *)aad, aadlen}, {(void *)aad2, aad2len}, {buf, len}};
  size_t a = aadlen + aad2len;
  return alg_request(ks->fd_cipher, ALG_OP_DECRYPT, iv, 12, (int)a, in, 4, out, 3, a + len);
}

const sbd_backend_ops sbd_afalg_ops = {
    afalg_init, afalg_release, afalg_ctr_xor, afalg_ecb_block, afalg_hmac, afalg_gcm_seal, afalg_gcm_open,
};
