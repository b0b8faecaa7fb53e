/*
 * bench/tvs-tls-client: a server-bound TVS load client in C over libssl and epoll (issue 20), so the servers, not
 * the client, set bench/tls's TVS rates. The Node client (queryTvs) is latency-bound one at a time and takes a core
 * of the two at 8 in flight.
 *
 * N connections, at most K in flight; each one is its own TCP connection and TLS handshake (full, or resuming
 * the newest session/ticket any earlier connection received, with --resume), then:
 *   state      event                                  action                                          next
 *   CONNECT    socket writable, SO_ERROR 0            SSL_connect state                               HANDSHAKE
 *   HANDSHAKE  handshake done, --request FILE         VERIFY_REQUEST (the file's bytes)               SEND
 *   HANDSHAKE  handshake done, no --request           close_notify (the bare handshake, as s_server    DRAIN
 *                                                     is measured: handshake, then close)
 *   SEND       all bytes written                      -                                               WAIT
 *   WAIT       a whole frame (spec §3.1: 10-byte      checked: id 87, version 1, command 2, the        DRAIN
 *              header, u16 body length)               request's session id, STATUS (7) = 0 (valid)
 *   DRAIN      the peer's close_notify or EOF         close_notify (if not sent), close; success       (next)
 *   any        other bytes, EOF, error, deadline      a failure, counted by cause; close              (next)
 * DRAIN reads to the server's end before closing so a TLS 1.3 ticket that follows the handshake is taken and the
 * socket never closes with unread bytes (an RST to the server). One level-triggered epoll loop drives every lane.
 *
 * Usage: tvs-tls-client --port N [--server 127.0.0.1] --connections N [--in-flight K] [--request FILE]
 *        [--ca cert.pem] [--tls12 [--ciphers LIST]] [--resume] [--sources S] [--timeout-ms MS]
 * --sources S binds lane i to 127.1.0.(1 + i % S): TVS caps connections per source address (32 by default).
 * Prints one JSON line: ok, failed, failedBy (cause), resumed, wallMs, rate, p50Ms, p99Ms, cpuS (getrusage of
 * this process during the run), negotiated (version and suite of the first handshake), lastError.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { S_IDLE, S_CONNECT, S_HANDSHAKE, S_SEND, S_WAIT, S_DRAIN };
#define LOAD_CLIENT_NAME "tvs-tls-client"
#include "../c-common/load-client.h"
#define RX_CAP 4096
#define TVS_HEADER 10

typedef struct {
  int fd, state, index, lane;
  unsigned events;
  SSL *ssl;
  double start, deadline;
  unsigned char rx[RX_CAP];
  size_t rxLen, txOff;
} Lane;

static struct {
  struct sockaddr_in server;
  const char *serverText, *ca, *ciphers, *requestPath;
  int port, connections, inFlight, tls12, resume, sources;
  double timeoutMs;
} o = {.serverText = "127.0.0.1", .ciphers = "ECDHE-RSA-AES256-GCM-SHA384", .inFlight = 32, .timeoutMs = 30000};

static SSL_CTX *ctx;
/* --resume: the newest session a server gave, offered by every new connection. Kept as DER and decoded per
 * connection, as Node's client passes its `session` Buffer: OpenSSL marks a TLS 1.3 session object spent once it
 * resumed (single use, RFC 8446 §C.4), and a server that sends no new ticket after a resumption (the engine
 * with its current ticket key) would otherwise get a full handshake every other time. */
static unsigned char sessionDer[8192];
static int sessionLen;
static unsigned char *request;
static size_t requestLen;
static unsigned long requestSession;
static Lane *lanes;
static int ep, next, done, started; /* lanes started: with --resume one, until the first session arrives */
static long ok, failedBy[F_COUNT], resumed;
static double *latencyMs;
static char lastError[256], negotiated[96];

/* Every session a server sends (TLS 1.2 at the handshake's end, TLS 1.3 in a NewSessionTicket after it). */
static int onNewSession(SSL *ssl, SSL_SESSION *s) {
  (void)ssl;
  if (!o.resume) return 0;
  int n = i2d_SSL_SESSION(s, NULL);
  unsigned char *p = sessionDer;
  if (n > 0 && n <= (int)sizeof sessionDer) sessionLen = i2d_SSL_SESSION(s, &p);
  return 0; /* not kept: OpenSSL frees it */
}

static void watch(Lane *l, unsigned events) {
  if (l->events == events) return;
  struct epoll_event ev = {.events = events, .data.ptr = l};
  if (epoll_ctl(ep, l->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, l->fd, &ev) != 0) die("epoll_ctl failed", NULL);
  l->events = events;
}

static void release(Lane *l) {
  if (l->ssl) SSL_free(l->ssl);
  if (l->fd >= 0) close(l->fd); /* also leaves the epoll set */
  l->ssl = NULL, l->fd = -1, l->events = 0, l->state = S_IDLE;
}

static void startNext(Lane *l);

static void fail(Lane *l, int cause, const char *detail) {
  failedBy[cause]++;
  snprintf(lastError, sizeof lastError, "connection %d: %s: %s", l->index, F_NAMES[cause], detail);
  ERR_clear_error();
  release(l);
  done++;
  startNext(l);
}

static void succeed(Lane *l) {
  latencyMs[ok++] = nowMs() - l->start;
  release(l);
  done++;
  startNext(l);
  for (; started < o.inFlight && started < o.connections; started++) lanes[started].fd = -1, lanes[started].lane = started, startNext(&lanes[started]);
}

/* A whole VERIFY_RESPONSE in rx: 1 valid, else fails the lane and returns 0. */
static int checkResponse(Lane *l) {
  const unsigned char *h = l->rx;
  size_t body = (size_t)h[8] << 8 | h[9];
  unsigned long session = (unsigned long)h[4] << 24 | (unsigned long)h[5] << 16 | (unsigned long)h[6] << 8 | h[7];
  if (h[0] != 87 || h[1] != 1 || h[2] != 2) return fail(l, F_PROTOCOL, "not a TVS VERIFY_RESPONSE header"), 0;
  if (session != requestSession) return fail(l, F_PROTOCOL, "the response's session id is not the request's"), 0;
  if (l->rxLen != TVS_HEADER + body) return fail(l, F_PROTOCOL, "bytes after the response"), 0;
  /* STATUS comes first (spec §3.1): tag 7, length 1, 0 = valid. */
  if (body < 4 || h[10] != 7 || h[11] != 0 || h[12] != 1) return fail(l, F_PROTOCOL, "no STATUS element first"), 0;
  if (h[13] != 0) return fail(l, F_STATUS, "TVS answered invalid"), 0;
  return 1;
}

static int sslFailure(Lane *l, int r, int cause) {
  char why[200];
  unsigned long code = ERR_peek_last_error();
  snprintf(why, sizeof why, "%s", code ? ERR_reason_error_string(code) : (r == 0 ? "peer closed" : strerror(errno)));
  return fail(l, cause, why), 0;
}

/* Runs a lane until it waits for the socket; what it waits for goes to epoll. */
static void step(Lane *l) {
  for (;;) {
    int r, e;
    switch (l->state) {
    case S_CONNECT: {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) return fail(l, F_CONNECT, strerror(err));
      l->ssl = SSL_new(ctx);
      if (!l->ssl || !SSL_set_fd(l->ssl, l->fd)) die("SSL_new failed", NULL);
      if (o.resume && sessionLen > 0) {
        const unsigned char *p = sessionDer;
        SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, sessionLen);
        if (s) SSL_set_session(l->ssl, s), SSL_SESSION_free(s);
      }
      SSL_set_connect_state(l->ssl);
      l->state = S_HANDSHAKE;
      continue;
    }
    case S_HANDSHAKE:
      r = SSL_do_handshake(l->ssl);
      if (r == 1) {
        if (SSL_session_reused(l->ssl)) resumed++;
        if (!negotiated[0]) snprintf(negotiated, sizeof negotiated, "%s %s", SSL_get_version(l->ssl), SSL_get_cipher_name(l->ssl));
        if (request) {
          l->txOff = 0, l->state = S_SEND;
        } else {
          SSL_shutdown(l->ssl); /* close_notify; the server's end is read in DRAIN */
          l->state = S_DRAIN;
        }
        continue;
      }
      e = SSL_get_error(l->ssl, r);
      if (e == SSL_ERROR_WANT_READ) return watch(l, EPOLLIN);
      if (e == SSL_ERROR_WANT_WRITE) return watch(l, EPOLLOUT);
      return (void)sslFailure(l, r, F_HANDSHAKE);
    case S_SEND:
      r = SSL_write(l->ssl, request + l->txOff, (int)(requestLen - l->txOff));
      if (r > 0) {
        l->txOff += (size_t)r;
        if (l->txOff == requestLen) l->state = S_WAIT, l->rxLen = 0;
        continue;
      }
      e = SSL_get_error(l->ssl, r);
      if (e == SSL_ERROR_WANT_READ) return watch(l, EPOLLIN);
      if (e == SSL_ERROR_WANT_WRITE) return watch(l, EPOLLOUT);
      return fail(l, F_CLOSED, "write failed");
    case S_WAIT:
      r = SSL_read(l->ssl, l->rx + l->rxLen, (int)(RX_CAP - l->rxLen));
      if (r > 0) {
        l->rxLen += (size_t)r;
        if (l->rxLen >= TVS_HEADER && l->rxLen >= TVS_HEADER + ((size_t)l->rx[8] << 8 | l->rx[9])) {
          if (!checkResponse(l)) return;
          l->state = S_DRAIN;
        } else if (l->rxLen == RX_CAP) return fail(l, F_PROTOCOL, "a response over 4 KiB");
        continue;
      }
      e = SSL_get_error(l->ssl, r);
      if (e == SSL_ERROR_WANT_READ) return watch(l, EPOLLIN);
      if (e == SSL_ERROR_WANT_WRITE) return watch(l, EPOLLOUT);
      return fail(l, F_CLOSED, e == SSL_ERROR_ZERO_RETURN || r == 0 ? "the server closed before a whole response" : "read failed");
    case S_DRAIN: {
      unsigned char sink[256];
      r = SSL_read(l->ssl, sink, sizeof sink);
      if (r > 0) return fail(l, F_PROTOCOL, "data after the response");
      e = SSL_get_error(l->ssl, r);
      if (e == SSL_ERROR_WANT_READ) return watch(l, EPOLLIN);
      if (e == SSL_ERROR_WANT_WRITE) return watch(l, EPOLLOUT);
      /* The server's close_notify, or its FIN without one (s_server, the engine after a reset): the end either way. */
      if (e == SSL_ERROR_ZERO_RETURN) {
        if (!(SSL_get_shutdown(l->ssl) & SSL_SENT_SHUTDOWN)) SSL_shutdown(l->ssl);
      }
      ERR_clear_error();
      return succeed(l);
    }
    default:
      return;
    }
  }
}

static void startNext(Lane *l) {
  if (next >= o.connections) return;
  l->index = next++;
  l->rxLen = 0, l->events = 0;
  l->start = nowMs(), l->deadline = l->start + o.timeoutMs;
  l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l->fd < 0) die("socket failed: ", strerror(errno));
  int one = 1;
  setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (o.sources > 0) {
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f010001u + (unsigned)(l->lane % o.sources))};
    setsockopt(l->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(l->fd, (struct sockaddr *)&me, sizeof me) != 0) return fail(l, F_CONNECT, strerror(errno));
  }
  l->state = S_CONNECT;
  if (connect(l->fd, (struct sockaddr *)&o.server, sizeof o.server) != 0 && errno != EINPROGRESS) return fail(l, F_CONNECT, strerror(errno));
  watch(l, EPOLLOUT);
}

static void readRequest(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open --request ", path);
  request = malloc(65536 + TVS_HEADER);
  if (!request) die("out of memory", NULL);
  requestLen = fread(request, 1, 65536 + TVS_HEADER, f);
  fclose(f);
  if (requestLen < TVS_HEADER || request[0] != 87 || request[2] != 1 || requestLen != TVS_HEADER + ((size_t)request[8] << 8 | request[9]))
    die("--request is not one whole TVS VERIFY_REQUEST frame: ", path);
  requestSession = (unsigned long)request[4] << 24 | (unsigned long)request[5] << 16 | (unsigned long)request[6] << 8 | request[7];
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"server", 1, 0, 's'}, {"port", 1, 0, 'p'},       {"connections", 1, 0, 'n'},
                                       {"in-flight", 1, 0, 'k'}, {"request", 1, 0, 'q'}, {"ca", 1, 0, 'c'},
                                       {"ciphers", 1, 0, 'C'}, {"tls12", 0, 0, '2'},     {"resume", 0, 0, 'r'},
                                       {"sources", 1, 0, 'S'}, {"timeout-ms", 1, 0, 't'}, {0, 0, 0, 0}};
  for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    switch (c) {
    case 's': o.serverText = optarg; break;
    case 'p': o.port = atoi(optarg); break;
    case 'n': o.connections = atoi(optarg); break;
    case 'k': o.inFlight = atoi(optarg); break;
    case 'q': o.requestPath = optarg; break;
    case 'c': o.ca = optarg; break;
    case 'C': o.ciphers = optarg; break;
    case '2': o.tls12 = 1; break;
    case 'r': o.resume = 1; break;
    case 'S': o.sources = atoi(optarg); break;
    case 't': o.timeoutMs = atof(optarg); break;
    default: die("unknown option (see the usage at the top of client.c)", NULL);
    }
  }
  if (o.port <= 0 || o.port > 65535 || o.connections <= 0 || o.inFlight <= 0 || o.sources < 0 || o.sources > 254)
    die("--port and --connections are required; counts must be positive, --sources at most 254", NULL);
  o.server.sin_family = AF_INET;
  o.server.sin_port = htons((uint16_t)o.port);
  if (inet_pton(AF_INET, o.serverText, &o.server.sin_addr) != 1) die("--server must be an IPv4 address: ", o.serverText);
  if (o.requestPath) readRequest(o.requestPath);

  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) die("SSL_CTX_new failed", NULL);
  /* As bench/tls's rows: one version; TLS 1.3 with OpenSSL's default suites and groups (the server picks). */
  int version = o.tls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  if (o.tls12 && !SSL_CTX_set_cipher_list(ctx, o.ciphers)) die("no usable suite in --ciphers ", o.ciphers);
  /* Sessions are kept here (onNewSession), not in OpenSSL's cache. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, onNewSession);
  if (o.ca) {
    if (!SSL_CTX_load_verify_locations(ctx, o.ca, NULL)) die("cannot read --ca ", o.ca);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  }

  ep = epoll_create1(EPOLL_CLOEXEC);
  int k = o.inFlight < o.connections ? o.inFlight : o.connections;
  lanes = calloc((size_t)k, sizeof *lanes);
  latencyMs = calloc((size_t)o.connections, sizeof *latencyMs);
  if (ep < 0 || !lanes || !latencyMs) die("out of memory", NULL);
  double t0 = nowMs(), cpu0 = cpuS(), lastScan = t0;
  /* With --resume the first connection runs alone, so every later one has a session to offer. */
  for (started = 0; started < (o.resume ? 1 : k); started++) lanes[started].fd = -1, lanes[started].lane = started, startNext(&lanes[started]);
  struct epoll_event evs[256];
  while (done < o.connections) {
    int n = epoll_wait(ep, evs, 256, 100);
    if (n < 0 && errno != EINTR) die("epoll_wait failed: ", strerror(errno));
    for (int i = 0; i < n; i++) step(evs[i].data.ptr);
    double now = nowMs();
    if (now - lastScan >= 100) {
      lastScan = now;
      for (int i = 0; i < k; i++)
        if (i < started && lanes[i].state != S_IDLE && now > lanes[i].deadline) fail(&lanes[i], F_TIMEOUT, "no end in time");
    }
  }
  double wallMs = nowMs() - t0, cpu = cpuS() - cpu0;
  qsort(latencyMs, (size_t)ok, sizeof *latencyMs, byValue);
  double p50 = ok ? latencyMs[(size_t)((ok - 1) * 0.5)] : 0, p99 = ok ? latencyMs[(size_t)((ok - 1) * 0.99)] : 0;
  long failed = 0;
  printf("{\"ok\":%ld,\"failedBy\":{", ok);
  for (int f = 0; f < F_COUNT; f++) printf("%s\"%s\":%ld", f ? "," : "", F_NAMES[f], failedBy[f]), failed += failedBy[f];
  printf("},\"failed\":%ld,\"resumed\":%ld,\"wallMs\":%.1f,\"rate\":%.1f,\"p50Ms\":%.2f,\"p99Ms\":%.2f,\"cpuS\":%.4f,", failed, resumed, wallMs,
         ok / (wallMs / 1e3), p50, p99, cpu);
  printf("\"negotiated\":\"%s\",\"lastError\":\"", negotiated);
  for (const char *p = lastError; *p; p++) putchar(*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ? '?' : *p);
  printf("\"}\n");
  return 0;
}
