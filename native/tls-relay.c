/*
 * One connection of the TLS engine. Handshake on the TCP socket (non-blocking; OpenSSL says which way it waits),
 * then a relay between the TLS session and the engine's end of a socketpair whose other end Node reads as an
 * ordinary net.Socket. Each direction holds one buffer: a direction reads only when its buffer is empty, so a slow
 * reader stops the other side (TCP flow control, no unbounded queue).
 *
 * Theory of the close (what node:tls does, kept): the peer's close_notify or FIN → EOF to Node (shutdown of the
 * pair's write side); Node's end() → our close_notify (SSL_shutdown) and FIN; the connection is done when both
 * directions have ended, or at once when Node destroyed its end (nothing left to deliver to). A TLS error ends the
 * TLS side as an EOF would; Node sees the close.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "tls-internal.h"

int sbd_tls_relay_handshake(sbd_tls_conn *c, char *reason, int cap) {
  int rc = SSL_do_handshake(c->ssl);
  if (rc == 1) return SBD_TLS_READY;
  int e = SSL_get_error(c->ssl, rc);
  if (e == SSL_ERROR_WANT_READ) {
    c->want_tcp_out = 0;
    return SBD_TLS_KEEP;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    c->want_tcp_out = 1;
    return SBD_TLS_KEEP;
  }
  unsigned long code = ERR_peek_last_error();
  if (code) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    sbd_tls_err(reason, cap, "%s", buf);
  } else {
    sbd_tls_err(reason, cap, "%s", e == SSL_ERROR_SYSCALL && errno ? strerror(errno) : "peer closed during the handshake");
  }
  ERR_clear_error();
  return SBD_TLS_DONE;
}

/* TLS → Node: write what is buffered, read more records only when the buffer is empty. */
static void tls_to_node(sbd_tls_conn *c) {
  for (;;) {
    if (c->in_len > c->in_off) {
      if (c->pair_dead) {
        c->in_off = c->in_len = 0;
        continue;
      }
      ssize_t n = send(c->pair, c->in + c->in_off, c->in_len - c->in_off, MSG_NOSIGNAL);
      if (n > 0) {
        c->in_off += (size_t)n;
        if (c->in_off == c->in_len) c->in_off = c->in_len = 0;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      c->pair_dead = 1; /* Node closed its end */
      continue;
    }
    if (c->tls_eof) return;
    int n = SSL_read(c->ssl, c->in, SBD_TLS_BUF);
    if (n > 0) {
      c->in_off = 0;
      c->in_len = (size_t)n;
      continue;
    }
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ) return;
    if (e == SSL_ERROR_WANT_WRITE) {
      c->want_tcp_out = 1;
      return;
    }
    c->tls_eof = 1; /* close_notify (SSL_ERROR_ZERO_RETURN), or FIN / reset / a bad record: the TLS side ended */
    if (e != SSL_ERROR_ZERO_RETURN) c->tls_broken = 1;
    ERR_clear_error();
    return;
  }
}

/* Node → TLS: the same, the other way. */
static void node_to_tls(sbd_tls_conn *c) {
  for (;;) {
    if (c->out_len > c->out_off) {
      if (c->tls_broken || c->tls_wr_shut) {
        c->out_off = c->out_len = 0;
        continue;
      }
      int n = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
      if (n > 0) {
        c->out_off += (size_t)n;
        if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
        continue;
      }
      int e = SSL_get_error(c->ssl, n);
      if (e == SSL_ERROR_WANT_WRITE) {
        c->want_tcp_out = 1;
        return;
      }
      if (e == SSL_ERROR_WANT_READ) return;
      c->tls_broken = c->tls_eof = 1;
      ERR_clear_error();
      continue;
    }
    if (c->pair_eof) return;
    ssize_t n = recv(c->pair, c->out, SBD_TLS_BUF, 0);
    if (n > 0) {
      c->out_off = 0;
      c->out_len = (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    c->pair_eof = 1;
    if (n < 0) c->pair_dead = 1;
    return;
  }
}

int sbd_tls_relay_pump(sbd_tls_conn *c) {
  c->want_tcp_out = 0;
  tls_to_node(c);
  node_to_tls(c);
  if (c->tls_eof && c->in_len == 0 && !c->pair_wr_shut && !c->pair_dead) {
    shutdown(c->pair, SHUT_WR);
    c->pair_wr_shut = 1;
  }
  if (c->pair_eof && c->out_len == 0 && !c->tls_wr_shut) {
    if (!c->tls_broken) SSL_shutdown(c->ssl); /* close_notify, best effort (RFC 8446 §6.1) */
    ERR_clear_error();
    shutdown(c->tcp, SHUT_WR);
    c->tls_wr_shut = 1;
  }
  if (c->tls_wr_shut && (c->pair_dead || (c->tls_eof && c->in_len == 0))) return SBD_TLS_DONE;
  return SBD_TLS_KEEP;
}

void sbd_tls_relay_interest(const sbd_tls_conn *c, uint32_t *tcp, uint32_t *pair) {
  uint32_t t = 0, p = 0;
  if (c->phase == SBD_TLS_HANDSHAKE) {
    *tcp = c->want_tcp_out ? EPOLLOUT : EPOLLIN;
    *pair = 0;
    return;
  }
  if (!c->tls_eof && c->in_len == 0) t |= EPOLLIN;
  if (c->want_tcp_out) t |= EPOLLOUT;
  if (!c->pair_eof && c->out_len == 0) p |= EPOLLIN;
  if (c->in_len > 0 && !c->pair_dead) p |= EPOLLOUT;
  *tcp = t;
  *pair = p;
}

int sbd_tls_relay_describe(sbd_tls_conn *c, char *out, size_t cap) {
  const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
  X509 *peer = SSL_get1_peer_certificate(c->ssl);
  /* verified: a certificate came and chained to the client CAs (a context that admits unverified ones lets it in) */
  int verified = peer && SSL_get_verify_result(c->ssl) == X509_V_OK;
  int n = snprintf(out, cap, "%s %s %d %d %d ", SSL_get_version(c->ssl), cipher ? SSL_CIPHER_get_name(cipher) : "-",
                   SSL_session_reused(c->ssl), c->ktls, verified);
  if (n < 0 || (size_t)n >= cap) {
    X509_free(peer);
    return -1;
  }
  unsigned char *der = NULL;
  int len = peer ? i2d_X509(peer, &der) : -1;
  X509_free(peer);
  if (len <= 0 || (size_t)n + 4 * ((size_t)len + 2) / 3 + 1 >= cap) {
    OPENSSL_free(der);
    return n + snprintf(out + n, cap - (size_t)n, "-");
  }
  n += EVP_EncodeBlock((unsigned char *)out + n, der, len);
  OPENSSL_free(der);
  return n;
}
