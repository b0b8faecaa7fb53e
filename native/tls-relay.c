/*
 * One connection of the TLS engine. Handshake on the TCP socket (non-blocking; OpenSSL says which way it waits),
 * then a relay between the TLS session and the worker's stream to Node (tls-mux.c), with a window each way
 * (`window` bytes, credit-based as HTTP/2's flow control, RFC 9113 §5.2): the engine sends Node DATA only while
 * Node has granted credit, so a daemon that stops reading stops the engine reading TLS, and TCP flow control
 * reaches the peer; Node sends no more than the window before the engine's CREDIT says it was written to TLS, so
 * the engine holds at most the window per connection. Nothing queues without bound on either side.
 *
 * Theory of the close (what node:tls does, kept): the peer's close_notify or FIN → END to Node; Node's end() →
 * our close_notify (SSL_shutdown) and FIN; the connection is done when both directions have ended, or at once when
 * Node destroyed its end (CLOSE). A TLS error ends the TLS side as an EOF would; Node sees the end.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
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

/* Node → TLS: what Node sent, as far as the socket takes it; the bytes written become credit for Node. */
static void node_to_tls(sbd_tls_conn *c, atomic_uint_fast64_t *held) {
  size_t done = 0;
  while (c->out_len > c->out_off && !c->tls_broken && !c->tls_wr_shut) {
    size_t left = c->out_len - c->out_off;
    int n = SSL_write(c->ssl, c->out + c->out_off, (int)(left > SBD_TLS_BUF ? SBD_TLS_BUF : left));
    if (n > 0) {
      c->out_off += (size_t)n;
      done += (size_t)n;
      continue;
    }
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_WRITE) c->want_tcp_out = 1;
    else if (e != SSL_ERROR_WANT_READ) c->tls_broken = c->tls_eof = 1;
    ERR_clear_error();
    break;
  }
  if (c->out_len > c->out_off && (c->tls_broken || c->tls_wr_shut)) { /* nowhere to go: dropped, as a socket would */
    done += c->out_len - c->out_off;
    c->out_off = c->out_len;
  }
  if (c->out && c->out_off == c->out_len) {
    free(c->out);
    c->out = NULL;
    c->out_off = c->out_len = c->out_cap = 0;
  }
  if (done) {
    atomic_fetch_sub(held, done);
    c->lazy_credit += (uint32_t)done;
  }
}

/* TLS → Node: records decrypted straight into the stream's buffer, while Node has credit and the stream room. */
static void tls_to_node(sbd_tls_conn *c, sbd_tls_mux *m, atomic_uint_fast64_t *to_node) {
  while (!c->tls_eof && !c->node_closed && c->credit > 0 && sbd_tls_mux_pending(m) < SBD_TLS_MUX_HIGH) {
    size_t want = c->credit < SBD_TLS_BUF ? c->credit : SBD_TLS_BUF;
    uint8_t *p = sbd_tls_mux_reserve(m, want);
    if (!p) return; /* out of memory: retried on the next event */
    int n = SSL_read(c->ssl, p, (int)want);
    if (n > 0) {
      sbd_tls_mux_commit(m, c->id, SBD_TLS_F_DATA, (size_t)n);
      c->credit -= (uint32_t)n;
      atomic_fetch_add(to_node, (uint64_t)n);
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
  }
}

int sbd_tls_relay_pump(sbd_tls_conn *c, sbd_tls_mux *m, atomic_uint_fast64_t *to_node, atomic_uint_fast64_t *held) {
  c->want_tcp_out = 0;
  node_to_tls(c, held);
  tls_to_node(c, m, to_node);
  if (c->node_closed) return SBD_TLS_DONE; /* Node destroyed its end: close at once */
  if (c->tls_eof && !c->eof_sent) {
    /* Node already ended its side: the END only completes its close, nothing waits for it */
    (c->node_end ? sbd_tls_mux_frame_deferred : sbd_tls_mux_frame)(m, c->id, SBD_TLS_F_END, NULL, 0);
    c->eof_sent = 1;
  }
  if (c->node_end && c->out_len == 0 && !c->tls_wr_shut) {
    if (!c->tls_broken) SSL_shutdown(c->ssl); /* close_notify, best effort (RFC 8446 §6.1) */
    ERR_clear_error();
    shutdown(c->tcp, SHUT_WR);
    c->tls_wr_shut = 1;
  }
  return c->tls_wr_shut && c->tls_eof ? SBD_TLS_DONE : SBD_TLS_KEEP;
}

int sbd_tls_relay_from_node(sbd_tls_conn *c, const uint8_t *p, uint32_t len, uint32_t window, atomic_uint_fast64_t *held) {
  size_t live = c->out_len - c->out_off;
  if (live + len > window) return -1;
  if (c->out_len + len > c->out_cap) {
    if (c->out_off > 0) {
      memmove(c->out, c->out + c->out_off, live);
      c->out_off = 0;
      c->out_len = live;
    }
    if (live + len > c->out_cap) {
      size_t cap = c->out_cap ? c->out_cap : 4096;
      while (cap < live + len) cap *= 2;
      if (cap > window) cap = window;
      uint8_t *b = realloc(c->out, cap);
      if (!b) return -1;
      c->out = b;
      c->out_cap = cap;
    }
  }
  memcpy(c->out + c->out_len, p, len);
  c->out_len += len;
  atomic_fetch_add(held, len);
  return 0;
}

uint32_t sbd_tls_relay_interest(const sbd_tls_conn *c, const sbd_tls_mux *m) {
  if (c->phase == SBD_TLS_HANDSHAKE) return c->want_tcp_out ? EPOLLOUT : EPOLLIN;
  uint32_t t = 0;
  if (!c->tls_eof && c->credit > 0 && sbd_tls_mux_pending(m) < SBD_TLS_MUX_HIGH) t |= EPOLLIN;
  if (c->want_tcp_out) t |= EPOLLOUT;
  return t;
}

int sbd_tls_relay_describe(sbd_tls_conn *c, char *out, size_t cap, unsigned char **der, int *der_len) {
  const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl);
  X509 *peer = SSL_get1_peer_certificate(c->ssl);
  /* verified: a certificate came and chained to the client CAs (a context that admits unverified ones lets it in) */
  int verified = peer && SSL_get_verify_result(c->ssl) == X509_V_OK;
  int n = snprintf(out, cap, "%s %s %d %d %d", SSL_get_version(c->ssl), cipher ? SSL_CIPHER_get_name(cipher) : "-",
                   SSL_session_reused(c->ssl), c->ktls, verified);
  *der = NULL;
  *der_len = peer ? i2d_X509(peer, der) : 0;
  if (*der_len < 0) *der_len = 0;
  X509_free(peer);
  return n < 0 || (size_t)n >= cap ? -1 : n;
}
