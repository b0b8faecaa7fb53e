/*
 * bench/sip-tls-client: a light SIP-over-TLS registration load client in C (issue 20), so the servers, not the
 * client, are what bench/sip's new-connection TLS rows measure. sipp has no TLS in Debian, and sipp + stunnel cost
 * 1.9-3.6 ms of CPU a registration on the same two cores as the server under test, more than either server.
 *
 * N registrations, at most K in flight; each one is its own TCP connection and TLS handshake (full, or resuming
 * the session of the last handshake with --resume), then RFC 3261 §10 registration with digest:
 *   state      event                                  action                                          next
 *   CONNECT    socket writable, SO_ERROR 0            SSL_connect state                               HANDSHAKE
 *   HANDSHAKE  handshake done                         REGISTER (CSeq 1), no credentials               SEND
 *   SEND       all bytes written                      -                                               WAIT
 *   WAIT       1xx                                    dropped (RFC 3261 §8.1.3.2)                     WAIT
 *   WAIT       401 to CSeq 1, WWW-Authenticate        REGISTER (CSeq 2) with Authorization            SEND
 *              (RFC 3261 §22.2; MD5, qop=auth as RFC 2617 §3.2.2, RFC 7616 §3.4)
 *   WAIT       200 to CSeq 2                          success: latency kept; close_notify, close      (next)
 *   any        other status, EOF, error, deadline     a failure, counted by cause; close              (next)
 * One level-triggered epoll loop drives every connection; a lane that finishes starts the next registration.
 * User i of --users is `<prefix><base + i>` with password `<password-prefix><i>` (bench/sip provisions them so),
 * taken in order, wrapping.
 *
 * --storm (bench/tls-storm, phones reconnecting after a power cut): each registration is a phone that KEEPS its
 * connection after the 200 (taken out of epoll and held, unread, to the end: 10,000 held sockets, so the soft fd
 * limit is raised to the hard one); a failed phone tries again after --retry-delay-ms (1,000) without holding a
 * lane, --attempts (5) in all, as bench/tls-storm/generator.ts does; latency is from a phone's first attempt to its
 * 200. --sources M (with --source-base, default 127.4.0.1) binds phone i to the M addresses from the base in turn,
 * for servers that cap connections per source address. --hold: after the JSON line, keep every connection until
 * stdin closes (the bench reads the server's CPU meanwhile, so the closing of 10,000 connections is not counted).
 *
 * Usage: sip-tls-client --port N [--server 127.0.0.1] [--domain ADDR] --registrations N [--in-flight K]
 *        [--users U] [--user-prefix b] [--user-base 100000] [--password-prefix pw] [--ca cert.pem]
 *        [--ciphers LIST] [--tls13] [--resume] [--timeout-ms MS]
 *        [--storm [--attempts 5] [--retry-delay-ms 1000] [--hold]] [--sources M [--source-base 127.4.0.1]]
 * Prints one JSON line: ok, failed (registrations, or in --storm phones that failed every attempt), failedBy
 * (cause, every failed attempt), retries, resumed, wallMs, p50Ms, p99Ms, cpuS (getrusage of this process during
 * the run), lastError.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { S_IDLE, S_CONNECT, S_HANDSHAKE, S_SEND, S_WAIT };
#define LOAD_CLIENT_NAME "sip-tls-client"
#include "../c-common/load-client.h"
#define RX_CAP 8192
#define TX_CAP 2048

typedef struct {
  int fd, state, cseq, reg, user;
  unsigned events;
  SSL *ssl;
  double start, deadline;
  char rx[RX_CAP + 1], tx[TX_CAP];
  size_t rxLen, txLen, txOff;
  char via[64];
} Lane;

static struct {
  struct sockaddr_in server;
  const char *serverText, *domain, *userPrefix, *passwordPrefix, *ca, *ciphers, *sourceBase;
  int port, registrations, inFlight, users, userBase, tls13, resume, storm, attempts, hold, sources;
  double timeoutMs, retryDelayMs;
} o = {.serverText = "127.0.0.1", .userPrefix = "b", .passwordPrefix = "pw", .ciphers = "ECDHE-RSA-AES256-GCM-SHA384",
       .inFlight = 50, .users = 1, .userBase = 100000, .timeoutMs = 30000, .retryDelayMs = 1000,
       .sourceBase = "127.4.0.1"};

static SSL_CTX *ctx;
static SSL_SESSION *lastSession; /* --resume: the session every new connection offers */
static Lane *lanes;
static int ep, nextReg, done;
static long ok, failedBy[F_COUNT], resumed, retries, failedPhones;
static double *latencyMs;
/* --storm: per phone its attempts and first start; phones waiting to retry (FIFO: one delay for all, so in order
 * of readiness); held connections. */
static int *attempts, *retryQueue, *heldFd;
static double *firstStart, *readyAt;
static long rqHead, rqTail, held;
static SSL **heldSsl;
static uint32_t sourceBase;
static char lastError[256];

static void hexMd5(char out[33], const char *text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!EVP_Digest(text, strlen(text), md, &n, EVP_md5(), NULL)) die("MD5 is not available", NULL);
  for (unsigned i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", md[i]);
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
  snprintf(lastError, sizeof lastError, "registration %d: %s: %s", l->reg, F_NAMES[cause], detail);
  ERR_clear_error();
  release(l);
  if (attempts[l->reg] < o.attempts) { /* tries again later, without holding this lane meanwhile */
    retries++;
    readyAt[l->reg] = nowMs() + o.retryDelayMs;
    retryQueue[rqTail++ % o.registrations] = l->reg;
  } else
    failedPhones++, done++;
  startNext(l);
}

static void succeed(Lane *l) {
  latencyMs[ok++] = nowMs() - firstStart[l->reg];
  if (o.storm) { /* the phone keeps its connection: out of epoll, held to the end */
    if (epoll_ctl(ep, EPOLL_CTL_DEL, l->fd, NULL) != 0) die("epoll_ctl failed", NULL);
    heldFd[held] = l->fd, heldSsl[held++] = l->ssl;
    l->ssl = NULL, l->fd = -1, l->events = 0, l->state = S_IDLE;
  } else {
    SSL_shutdown(l->ssl); /* our close_notify, as a client closing its connection sends; no wait for the peer's */
    release(l);
  }
  done++;
  startNext(l);
}

/* The request of this lane's registration; `auth` is the Authorization header line or "". */
static void buildRegister(Lane *l, const char *auth) {
  char user[64];
  snprintf(user, sizeof user, "%s%d", o.userPrefix, o.userBase + l->user);
  int n = snprintf(l->tx, TX_CAP,
                   "REGISTER sip:%s:%d SIP/2.0\r\n"
                   "Via: SIP/2.0/TLS %s;branch=z9hG4bK-%d-%d-%d;rport\r\n"
                   "From: <sip:%s@%s>;tag=%d-%d\r\n"
                   "To: <sip:%s@%s>\r\n"
                   "Call-ID: %d-%d@sip-tls-client\r\n"
                   "CSeq: %d REGISTER\r\n"
                   "Contact: <sip:%s@%s;transport=tls>\r\n"
                   "%s"
                   "Max-Forwards: 70\r\n"
                   "Expires: 300\r\n"
                   "Content-Length: 0\r\n\r\n",
                   o.serverText, o.port, l->via, (int)getpid(), l->reg, l->cseq, user, o.domain, (int)getpid(), l->reg, user,
                   o.domain, (int)getpid(), l->reg, l->cseq, user, o.serverText, auth);
  if (n < 0 || n >= TX_CAP) die("REGISTER does not fit the buffer", NULL);
  l->txLen = (size_t)n, l->txOff = 0, l->state = S_SEND;
}

/* A parameter of a Digest challenge (RFC 7616 §3.3), quoted or not, into out; 0 when absent. */
static int param(const char *challenge, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  for (const char *p = challenge; (p = strcasestr(p, name)) != NULL; p += nl) {
    if (p != challenge && p[-1] != ' ' && p[-1] != ',' && p[-1] != '\t') continue;
    const char *v = p + nl;
    while (*v == ' ') v++;
    if (*v != '=') continue;
    v++;
    while (*v == ' ') v++;
    size_t n = 0;
    if (*v == '"') {
      v++;
      while (v[n] && v[n] != '"') n++;
    } else
      while (v[n] && v[n] != ',' && v[n] != '\r' && v[n] != ' ') n++;
    if (n >= cap) return 0;
    memcpy(out, v, n);
    out[n] = 0;
    return 1;
  }
  return 0;
}

/* The 401's challenge answered (RFC 2617 §3.2.2: qop=auth, nc, cnonce; without qop the RFC 2069 form). */
static int answer(Lane *l, const char *head) {
  char line[1024], realm[128], nonce[256], opaque[256], qop[64], user[64], a1[512], a2[256], ha1[33], ha2[33], resp[33];
  for (const char *h = head;;) { /* the first MD5 Digest challenge (one header line each here) */
    h = strcasestr(h, "\nWWW-Authenticate:");
    if (!h) return 0;
    h += 18;
    while (*h == ' ') h++;
    size_t end = strcspn(h, "\r\n");
    if (end < 6 || end >= sizeof line || strncasecmp(h, "Digest", 6)) continue;
    memcpy(line, h + 6, end - 6), line[end - 6] = 0;
    char alg[32];
    if (!param(line, "algorithm", alg, sizeof alg) || !strcasecmp(alg, "MD5")) break;
  }
  if (!param(line, "realm", realm, sizeof realm) || !param(line, "nonce", nonce, sizeof nonce)) return 0;
  int hasOpaque = param(line, "opaque", opaque, sizeof opaque), auth = param(line, "qop", qop, sizeof qop) && strcasestr(qop, "auth");
  snprintf(user, sizeof user, "%s%d", o.userPrefix, o.userBase + l->user);
  char uri[128], cnonce[32], opaqueText[300] = "", qopText[128] = "";
  snprintf(uri, sizeof uri, "sip:%s:%d", o.serverText, o.port);
  snprintf(cnonce, sizeof cnonce, "%08x%08x", (unsigned)l->reg, (unsigned)rand());
  snprintf(a1, sizeof a1, "%s:%s:%s%d", user, realm, o.passwordPrefix, l->user);
  snprintf(a2, sizeof a2, "REGISTER:%s", uri);
  hexMd5(ha1, a1), hexMd5(ha2, a2);
  char kd[1024];
  if (auth) snprintf(kd, sizeof kd, "%s:%s:00000001:%s:auth:%s", ha1, nonce, cnonce, ha2);
  else snprintf(kd, sizeof kd, "%s:%s:%s", ha1, nonce, ha2);
  hexMd5(resp, kd);
  if (hasOpaque) snprintf(opaqueText, sizeof opaqueText, ", opaque=\"%s\"", opaque);
  if (auth) snprintf(qopText, sizeof qopText, ", qop=auth, nc=00000001, cnonce=\"%s\"", cnonce);
  char header[1200];
  snprintf(header, sizeof header,
           "Authorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", response=\"%s\", algorithm=MD5%s%s\r\n",
           user, realm, nonce, uri, resp, opaqueText, qopText);
  l->cseq = 2;
  buildRegister(l, header);
  return 1;
}

/* Complete responses in rx, one at a time; 1 while the lane lives on. */
static int onResponses(Lane *l) {
  for (;;) {
    l->rx[l->rxLen] = 0;
    char *end = strstr(l->rx, "\r\n\r\n");
    if (!end) {
      if (l->rxLen >= RX_CAP) return fail(l, F_PROTOCOL, "a response over 8 KiB"), 0;
      return 1;
    }
    size_t headLen = (size_t)(end + 4 - l->rx), body = 0;
    const char *cl = strcasestr(l->rx, "\nContent-Length:");
    if (cl && cl < end) body = strtoul(cl + 16, NULL, 10);
    if (headLen + body > l->rxLen) return 1;
    int status = 0, cseq = 0;
    if (sscanf(l->rx, "SIP/2.0 %d", &status) != 1) return fail(l, F_PROTOCOL, "not a SIP response"), 0;
    const char *cs = strcasestr(l->rx, "\nCSeq:");
    if (cs && cs < end) cseq = atoi(cs + 6);
    if (status >= 200 && cseq != l->cseq) return fail(l, F_PROTOCOL, "a response to another CSeq"), 0;
    char head[RX_CAP + 1];
    memcpy(head, l->rx, headLen), head[headLen] = 0;
    memmove(l->rx, l->rx + headLen + body, l->rxLen - headLen - body);
    l->rxLen -= headLen + body;
    if (status < 200) continue;
    if (status == 401 && l->cseq == 1) {
      if (!answer(l, head)) return fail(l, F_PROTOCOL, "401 without a usable MD5 Digest challenge"), 0;
      return 1;
    }
    if (status == 200 && l->cseq == 2) return succeed(l), 0;
    char why[160];
    snprintf(why, sizeof why, "%.*s (CSeq %d)", (int)strcspn(head, "\r\n") < 120 ? (int)strcspn(head, "\r\n") : 120, head, l->cseq);
    return fail(l, F_STATUS, why), 0;
  }
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
      struct sockaddr_in me;
      len = sizeof me;
      getsockname(l->fd, (struct sockaddr *)&me, &len);
      snprintf(l->via, sizeof l->via, "%s:%d", inet_ntoa(me.sin_addr), ntohs(me.sin_port));
      l->ssl = SSL_new(ctx);
      if (!l->ssl || !SSL_set_fd(l->ssl, l->fd)) die("SSL_new failed", NULL);
      if (o.resume && lastSession) SSL_set_session(l->ssl, lastSession);
      SSL_set_connect_state(l->ssl);
      l->state = S_HANDSHAKE;
      continue;
    }
    case S_HANDSHAKE:
      r = SSL_do_handshake(l->ssl);
      if (r == 1) {
        if (SSL_session_reused(l->ssl)) resumed++;
        if (o.resume) {
          SSL_SESSION *s = SSL_get1_session(l->ssl);
          if (lastSession) SSL_SESSION_free(lastSession);
          lastSession = s;
        }
        l->cseq = 1;
        buildRegister(l, "");
        continue;
      }
      e = SSL_get_error(l->ssl, r);
      if (e == SSL_ERROR_WANT_READ) return watch(l, EPOLLIN);
      if (e == SSL_ERROR_WANT_WRITE) return watch(l, EPOLLOUT);
      {
        char why[200];
        unsigned long code = ERR_peek_last_error();
        snprintf(why, sizeof why, "%s", code ? ERR_reason_error_string(code) : (r == 0 ? "peer closed" : strerror(errno)));
        return fail(l, F_HANDSHAKE, why);
      }
    case S_SEND:
      r = SSL_write(l->ssl, l->tx + l->txOff, (int)(l->txLen - l->txOff));
      if (r > 0) {
        l->txOff += (size_t)r;
        if (l->txOff == l->txLen) l->state = S_WAIT;
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
        if (!onResponses(l)) return;
        continue;
      }
      e = SSL_get_error(l->ssl, r);
      if (e == SSL_ERROR_WANT_READ) return watch(l, EPOLLIN);
      if (e == SSL_ERROR_WANT_WRITE) return watch(l, EPOLLOUT);
      return fail(l, F_CLOSED, e == SSL_ERROR_ZERO_RETURN || r == 0 ? "the server closed" : "read failed");
    default:
      return;
    }
  }
}

/* The next registration for a free lane: a phone whose retry delay is over first, else a new one; -1 if none. */
static int takeNext(double now) {
  if (rqHead < rqTail && readyAt[retryQueue[rqHead % o.registrations]] <= now) return retryQueue[rqHead++ % o.registrations];
  return nextReg < o.registrations ? nextReg++ : -1;
}

static void startNext(Lane *l) {
  double now = nowMs();
  int reg = takeNext(now);
  if (reg < 0) return;
  l->reg = reg;
  if (attempts[reg]++ == 0) firstStart[reg] = now;
  l->user = l->reg % o.users;
  l->rxLen = 0, l->events = 0;
  l->start = now, l->deadline = l->start + o.timeoutMs;
  l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l->fd < 0) die("socket failed: ", strerror(errno));
  int one = 1;
  setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (o.sources) { /* this phone's own source address; the port is chosen at connect (no bind-time port search) */
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(sourceBase + (uint32_t)(reg % o.sources))};
    setsockopt(l->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(l->fd, (struct sockaddr *)&src, sizeof src) != 0) die("bind to a source address failed: ", strerror(errno));
  }
  l->state = S_CONNECT;
  if (connect(l->fd, (struct sockaddr *)&o.server, sizeof o.server) != 0 && errno != EINPROGRESS) return fail(l, F_CONNECT, strerror(errno));
  watch(l, EPOLLOUT);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"server", 1, 0, 's'},   {"port", 1, 0, 'p'},       {"domain", 1, 0, 'd'},          {"registrations", 1, 0, 'n'},
      {"in-flight", 1, 0, 'k'}, {"users", 1, 0, 'u'},     {"user-prefix", 1, 0, 'x'},     {"user-base", 1, 0, 'b'},
      {"password-prefix", 1, 0, 'w'}, {"ca", 1, 0, 'c'}, {"ciphers", 1, 0, 'C'},         {"tls13", 0, 0, '3'},
      {"resume", 0, 0, 'r'},   {"timeout-ms", 1, 0, 't'}, {"storm", 0, 0, 'S'},          {"attempts", 1, 0, 'A'},
      {"retry-delay-ms", 1, 0, 'D'}, {"hold", 0, 0, 'H'}, {"sources", 1, 0, 'M'},       {"source-base", 1, 0, 'B'},
      {0, 0, 0, 0}};
  for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    switch (c) {
    case 's': o.serverText = optarg; break;
    case 'p': o.port = atoi(optarg); break;
    case 'd': o.domain = optarg; break;
    case 'n': o.registrations = atoi(optarg); break;
    case 'k': o.inFlight = atoi(optarg); break;
    case 'u': o.users = atoi(optarg); break;
    case 'x': o.userPrefix = optarg; break;
    case 'b': o.userBase = atoi(optarg); break;
    case 'w': o.passwordPrefix = optarg; break;
    case 'c': o.ca = optarg; break;
    case 'C': o.ciphers = optarg; break;
    case '3': o.tls13 = 1; break;
    case 'r': o.resume = 1; break;
    case 't': o.timeoutMs = atof(optarg); break;
    case 'S': o.storm = 1; break;
    case 'A': o.attempts = atoi(optarg); break;
    case 'D': o.retryDelayMs = atof(optarg); break;
    case 'H': o.hold = 1; break;
    case 'M': o.sources = atoi(optarg); break;
    case 'B': o.sourceBase = optarg; break;
    default: die("unknown option (see the usage at the top of client.c)", NULL);
    }
  }
  if (o.port <= 0 || o.port > 65535 || o.registrations <= 0 || o.inFlight <= 0 || o.users <= 0) die("--port and --registrations are required; counts must be positive", NULL);
  if (!o.domain) o.domain = o.serverText;
  if (!o.attempts) o.attempts = o.storm ? 5 : 1;
  if (o.attempts < 1 || o.sources < 0) die("--attempts must be positive and --sources not negative", NULL);
  struct in_addr base;
  if (inet_pton(AF_INET, o.sourceBase, &base) != 1) die("--source-base must be an IPv4 address: ", o.sourceBase);
  sourceBase = ntohl(base.s_addr);
  /* Every held connection is a descriptor (--storm keeps them all): the soft limit up to the hard one. */
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  if (o.storm && getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < (rlim_t)o.registrations + 100)
    die("the fd limit is below --registrations + 100 (raise the hard limit: ulimit -Hn)", NULL);
  o.server.sin_family = AF_INET;
  o.server.sin_port = htons((uint16_t)o.port);
  if (inet_pton(AF_INET, o.serverText, &o.server.sin_addr) != 1) die("--server must be an IPv4 address: ", o.serverText);

  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) die("SSL_CTX_new failed", NULL);
  /* As bench/sip's stunnel: one TLS version and suite, the peer's chain verified against the server's certificate. */
  int version = o.tls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  if (!o.tls13 && !SSL_CTX_set_cipher_list(ctx, o.ciphers)) die("no usable suite in --ciphers ", o.ciphers);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* sessions are kept here (lastSession), only with --resume */
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (o.ca) {
    if (!SSL_CTX_load_verify_locations(ctx, o.ca, NULL)) die("cannot read --ca ", o.ca);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  }

  ep = epoll_create1(EPOLL_CLOEXEC);
  int k = o.inFlight < o.registrations ? o.inFlight : o.registrations;
  lanes = calloc((size_t)k, sizeof *lanes);
  size_t n = (size_t)o.registrations;
  latencyMs = calloc(n, sizeof *latencyMs), firstStart = calloc(n, sizeof *firstStart), readyAt = calloc(n, sizeof *readyAt);
  attempts = calloc(n, sizeof *attempts), retryQueue = calloc(n, sizeof *retryQueue), heldFd = calloc(n, sizeof *heldFd);
  heldSsl = calloc(n, sizeof *heldSsl);
  if (ep < 0 || !lanes || !latencyMs || !firstStart || !readyAt || !attempts || !retryQueue || !heldFd || !heldSsl)
    die("out of memory", NULL);
  srand((unsigned)getpid());
  double t0 = nowMs(), cpu0 = cpuS(), lastScan = t0;
  for (int i = 0; i < k; i++) lanes[i].fd = -1, startNext(&lanes[i]);
  struct epoll_event evs[256];
  while (done < o.registrations) {
    int wait = 100;
    if (rqHead < rqTail) { /* wake for the first retry that becomes ready */
      double until = readyAt[retryQueue[rqHead % o.registrations]] - nowMs();
      wait = until < 0 ? 0 : until < 100 ? (int)until + 1 : 100;
    }
    int got = epoll_wait(ep, evs, 256, wait);
    if (got < 0 && errno != EINTR) die("epoll_wait failed: ", strerror(errno));
    for (int i = 0; i < got; i++) step(evs[i].data.ptr);
    double now = nowMs();
    if (now - lastScan >= 100) {
      lastScan = now;
      for (int i = 0; i < k; i++)
        if (lanes[i].state != S_IDLE && now > lanes[i].deadline) fail(&lanes[i], F_TIMEOUT, "no answer in time");
    }
    if (rqHead < rqTail && readyAt[retryQueue[rqHead % o.registrations]] <= now)
      for (int i = 0; i < k; i++)
        if (lanes[i].state == S_IDLE) startNext(&lanes[i]);
  }
  double wallMs = nowMs() - t0, cpu = cpuS() - cpu0;
  qsort(latencyMs, (size_t)ok, sizeof *latencyMs, byValue);
  double p50 = ok ? latencyMs[(size_t)((ok - 1) * 0.5)] : 0, p99 = ok ? latencyMs[(size_t)((ok - 1) * 0.99)] : 0;
  printf("{\"ok\":%ld,\"failedBy\":{", ok);
  for (int f = 0; f < F_COUNT; f++) printf("%s\"%s\":%ld", f ? "," : "", F_NAMES[f], failedBy[f]);
  printf("},\"failed\":%ld,\"retries\":%ld,\"held\":%ld,\"resumed\":%ld,\"wallMs\":%.1f,\"p50Ms\":%.2f,\"p99Ms\":%.2f,\"cpuS\":%.4f,\"lastError\":\"",
         failedPhones, retries, held, resumed, wallMs, p50, p99, cpu);
  for (const char *p = lastError; *p; p++) putchar(*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ? '?' : *p);
  printf("\"}\n");
  fflush(stdout);
  if (o.hold) /* the connections stay until whoever started us closes our stdin */
    for (char b[64]; read(0, b, sizeof b) > 0;) {
    }
  return 0;
}
