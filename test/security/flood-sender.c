/*
 * flood-sender: sends COUNT hostile messages to a loopback listener as fast as the kernel takes them, so the flood
 * tests (test/security/flood-*.test.ts) and bench/sip-abuse can put 1,000,000 datagrams through in seconds.
 * Built by test/security/flood-helpers.ts with `cc -O2` into a temporary folder.
 *
 *   flood-sender udp|tcp HOST PORT COUNT SHAPES_FILE [--sources N] [--conns N] [--pace-us N] [--drain-ms N] [--fresh-ports 0|1] [--per-connection 0|1] [--batch N] [--source ADDR]
 *
 * SHAPES_FILE: records of { u8 kind, u32 weight, u32 length, bytes } (big-endian). Message i uses the record whose
 * cumulative weight covers i % (sum of weights). Kinds:
 *   0  the bytes as given, every "@@@@@@@@" replaced by i in 8 hex digits (unique Call-IDs, branches, users);
 *   1  `length` random bytes (a fresh xorshift draw per message);
 *   2  `length` random bytes without CR or LF, then CRLF "Content-Length: 0" CRLF CRLF (garbage that a SIP stream
 *      framer still frames: a start line of junk, so the connection stays up and the parser sees it).
 * udp: sendmmsg in batches of 256 from N sockets bound to 127.66.x.y (default 64 sources: a spoofer's spread, and
 *      never the legitimate phone's 127.0.0.1); --pace-us sleeps between batches (default 0); --fresh-ports 1 sends
 *      each batch of 16 from a new socket (a new source port: what a spoofer varies to look like new clients);
 *      --batch N datagrams per sendmmsg (default 256, 16 with --fresh-ports); --source ADDR binds every socket to
 *      that one loopback address instead.
 * tcp: N connections (default 4, from 127.66.x.y) written without pause; what the server answers is read and
 *      dropped; a connection the server closes is opened again (counted) with the next message. Once all is
 *      written each connection is shut for writing and read until the server closes it (it has then read the whole
 *      flood) or --drain-ms (default 600000) passes. --per-connection 1: each message on its own connection, reset
 *      once written (for listeners that take one message per connection, or close on the first bad one).
 * Prints one JSON line: {"sent":…,"bytes":…,"reconnects":…,"received":…,"cpuS":…} (tcp: and "undrained", the
 * connections the server had not closed by the drain deadline).
 * Only loopback: the host must be in 127.0.0.0/8.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define MAX_SHAPES 64
#define MAX_LEN 65507
#define MAX_CONNS 2048
#define RING_MAX 17000

struct shape {
  uint8_t kind;
  uint32_t weight;
  uint32_t len;
  unsigned char *bytes;
  uint32_t marks[64];
  int nmarks;
};

static struct shape shapes[MAX_SHAPES];
static int nshapes;
static uint64_t total_weight;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static uint32_t be32(const unsigned char *p) { return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]; }

static void load_shapes(const char *file) {
  FILE *f = fopen(file, "rb");
  if (!f) die(file);
  unsigned char head[9];
  while (fread(head, 1, 9, f) == 9) {
    if (nshapes == MAX_SHAPES) { fprintf(stderr, "too many shapes\n"); exit(2); }
    struct shape *s = &shapes[nshapes++];
    s->kind = head[0];
    s->weight = be32(head + 1);
    s->len = be32(head + 5);
    if (s->len > MAX_LEN || s->kind > 2) { fprintf(stderr, "bad shape record\n"); exit(2); }
    s->bytes = malloc(s->len + 1);
    if (s->kind == 0 && fread(s->bytes, 1, s->len, f) != s->len) { fprintf(stderr, "short shape record\n"); exit(2); }
    for (uint32_t i = 0; s->kind == 0 && i + 8 <= s->len && s->nmarks < 64; i++) {
      if (memcmp(s->bytes + i, "@@@@@@@@", 8) == 0) { s->marks[s->nmarks++] = i; i += 7; }
    }
    total_weight += s->weight;
  }
  fclose(f);
  if (total_weight == 0) { fprintf(stderr, "no shapes\n"); exit(2); }
}

static const struct shape *shape_for(uint64_t i) {
  uint64_t w = i % total_weight;
  for (int k = 0; k < nshapes; k++) {
    if (w < shapes[k].weight) return &shapes[k];
    w -= shapes[k].weight;
  }
  return &shapes[nshapes - 1];
}

/* Writes message i into buf; returns its length. */
static size_t make_message(uint64_t i, unsigned char *buf) {
  const struct shape *s = shape_for(i);
  if (s->kind == 0) {
    memcpy(buf, s->bytes, s->len);
    char hex[9];
    snprintf(hex, sizeof hex, "%08llx", (unsigned long long)(i & 0xffffffffull));
    for (int m = 0; m < s->nmarks; m++) memcpy(buf + s->marks[m], hex, 8);
    return s->len;
  }
  size_t n = s->len;
  for (size_t j = 0; j < n; j += 8) {
    uint64_t r = next_rand();
    size_t k = n - j < 8 ? n - j : 8;
    memcpy(buf + j, &r, k);
  }
  if (s->kind == 2) {
    for (size_t j = 0; j < n; j++) if (buf[j] == '\r' || buf[j] == '\n') buf[j] = 'x';
    static const char tail[] = "\r\nContent-Length: 0\r\n\r\n";
    memcpy(buf + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;
  }
  return n;
}

static struct in_addr fixed_source; /* --source: every socket from this one address */

static struct sockaddr_in source_addr(int i) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
  a.sin_addr.s_addr = htonl((127u << 24) | (66u << 16) | ((uint32_t)(i / 250) << 8) | (uint32_t)(i % 250 + 1));
  if (fixed_source.s_addr != 0) a.sin_addr = fixed_source;
  return a;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int udp_socket(int k) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  struct sockaddr_in src = source_addr(k);
  if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind");
  return fd;
}

static void flood_udp(struct sockaddr_in *dst, uint64_t count, int sources, int pace_us, int fresh_ports, int batch_arg) {
  int fds[MAX_CONNS];
  for (int k = 0; k < sources; k++) fds[k] = udp_socket(k);
  /*
   * --fresh-ports: each batch of 16 from a new socket (a new source port), as a spoofer varies its ports. The old
   * sockets stay open (up to RING_MAX, then the oldest is closed): a spoofed source sends no ICMP port unreachable,
   * and a closed one would, ending the server's transfer early.
   */
  int batch = batch_arg > 0 ? batch_arg : fresh_ports ? 16 : BATCH;
  static int ring[RING_MAX];
  int ring_size = 0, ring_next = 0, ring_cap = RING_MAX;
  if (fresh_ports) {
    struct rlimit rl = { RING_MAX + 4096, RING_MAX + 4096 };
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) ring_cap = (int)rl.rlim_cur - sources - 256;
    if (ring_cap > RING_MAX) ring_cap = RING_MAX;
    if (ring_cap < 1) ring_cap = 1;
  }
  static unsigned char bufs[BATCH][MAX_LEN + 32];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  uint64_t sent = 0, bytes = 0;
  int turn = 0;
  while (sent < count) {
    int n = count - sent < (uint64_t)batch ? (int)(count - sent) : batch;
    if (fresh_ports) {
      if (ring_size == ring_cap) close(ring[ring_next]);
      else ring_size++;
      ring[ring_next] = fds[turn];
      ring_next = (ring_next + 1) % ring_cap;
      fds[turn] = udp_socket(turn);
    }
    for (int j = 0; j < n; j++) {
      iov[j].iov_base = bufs[j];
      iov[j].iov_len = make_message(sent + j, bufs[j]);
      memset(&msgs[j], 0, sizeof msgs[j]);
      msgs[j].msg_hdr.msg_name = dst;
      msgs[j].msg_hdr.msg_namelen = sizeof *dst;
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
    }
    int done = 0;
    while (done < n) {
      int r = sendmmsg(fds[turn], msgs + done, n - done, 0);
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED) {
          /* Loopback full or an ICMP error from an earlier datagram: that datagram counts as sent (lost). */
          if (errno != EINTR && errno != EAGAIN) { bytes += iov[done].iov_len; done++; }
          continue;
        }
        die("sendmmsg");
      }
      for (int j = done; j < done + r; j++) bytes += iov[j].iov_len;
      done += r;
    }
    sent += n;
    turn = (turn + 1) % sources;
    if (pace_us > 0) usleep(pace_us);
  }
  for (int j = 0; j < ring_size; j++) close(ring[j]);
  printf("{\"sent\":%llu,\"bytes\":%llu,\"reconnects\":0,\"received\":0,\"cpuS\":%.3f}\n", (unsigned long long)sent, (unsigned long long)bytes, cpu_seconds());
}

struct conn {
  int fd;
  unsigned char *out;
  size_t outLen, outOff;
};

static int open_conn(struct sockaddr_in *dst, int k) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in src = source_addr(k);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind");
  if (connect(fd, (struct sockaddr *)dst, sizeof *dst) < 0) { close(fd); return -1; }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

static void close_rst(int fd) {
  struct linger l = { .l_onoff = 1, .l_linger = 0 };
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l); /* RST: no TIME_WAIT left behind by reconnects */
  close(fd);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void flood_tcp(struct sockaddr_in *dst, uint64_t count, int nconns, int drain_ms, int per_connection) {
  static struct conn conns[MAX_CONNS];
  static unsigned char readbuf[1 << 16];
  uint64_t next = 0, bytes = 0, reconnects = 0, received = 0;
  for (int k = 0; k < nconns; k++) {
    conns[k].fd = open_conn(dst, k);
    if (conns[k].fd < 0) die("connect");
    conns[k].out = malloc(MAX_LEN + 32);
    conns[k].outLen = conns[k].outOff = 0;
  }
  struct pollfd pfd[MAX_CONNS];
  int active = nconns;
  while (active > 0) {
    active = 0;
    for (int k = 0; k < nconns; k++) {
      struct conn *c = &conns[k];
      if (c->outOff == c->outLen && next < count) {
        c->outLen = make_message(next++, c->out);
        c->outOff = 0;
      }
      pfd[k].fd = c->fd;
      pfd[k].events = POLLIN | (c->outOff < c->outLen ? POLLOUT : 0);
      if (c->outOff < c->outLen) active++;
    }
    if (active == 0) break;
    if (poll(pfd, nconns, 10000) < 0 && errno != EINTR) die("poll");
    for (int k = 0; k < nconns; k++) {
      struct conn *c = &conns[k];
      int broken = 0;
      if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t r = read(c->fd, readbuf, sizeof readbuf);
        if (r > 0) received += (uint64_t)r;
        else if (r == 0 || (errno != EAGAIN && errno != EINTR)) broken = 1;
      }
      while (!broken && c->outOff < c->outLen) {
        ssize_t w = write(c->fd, c->out + c->outOff, c->outLen - c->outOff);
        if (w > 0) { c->outOff += (size_t)w; bytes += (uint64_t)w; continue; }
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;
        broken = 1;
      }
      if (broken || (per_connection && c->outOff == c->outLen && c->outLen > 0)) {
        /*
         * The server closed (e.g. a framing error): the message in flight counts as sent; open a new one. With
         * --per-connection every message gets its own connection, closed (RST) once written.
         */
        close_rst(c->fd);
        c->outOff = c->outLen = 0;
        if (broken) reconnects++;
        for (int tries = 0; (c->fd = open_conn(dst, k)) < 0; tries++) {
          if (tries > 100) die("reconnect");
          usleep(10000);
        }
      }
    }
  }
  /* Drain: the server has read everything once it closes its side after our FIN. */
  int open = nconns;
  for (int k = 0; k < nconns; k++) shutdown(conns[k].fd, SHUT_WR);
  double until = now_ms() + drain_ms;
  while (open > 0 && now_ms() < until) {
    for (int k = 0; k < nconns; k++) { pfd[k].fd = conns[k].fd; pfd[k].events = POLLIN; }
    if (poll(pfd, nconns, 1000) < 0 && errno != EINTR) die("poll");
    for (int k = 0; k < nconns; k++) {
      if (conns[k].fd < 0 || !(pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = read(conns[k].fd, readbuf, sizeof readbuf);
      if (r > 0) { received += (uint64_t)r; continue; }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      close_rst(conns[k].fd);
      conns[k].fd = -1;
      open--;
    }
  }
  for (int k = 0; k < nconns; k++) if (conns[k].fd >= 0) close_rst(conns[k].fd);
  printf("{\"sent\":%llu,\"bytes\":%llu,\"reconnects\":%llu,\"received\":%llu,\"cpuS\":%.3f,\"undrained\":%d}\n",
         (unsigned long long)next, (unsigned long long)bytes, (unsigned long long)reconnects, (unsigned long long)received, cpu_seconds(), open);
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: flood-sender udp|tcp HOST PORT COUNT SHAPES_FILE [--sources N] [--conns N] [--pace-us N] [--drain-ms N] [--fresh-ports 0|1] [--per-connection 0|1] [--batch N] [--source ADDR]\n");
    return 2;
  }
  int sources = 64, nconns = 4, pace_us = 0, drain_ms = 600000, fresh_ports = 0, per_connection = 0, batch = 0;
  for (int i = 6; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--sources") == 0) sources = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--conns") == 0) nconns = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--pace-us") == 0) pace_us = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--drain-ms") == 0) drain_ms = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--fresh-ports") == 0) fresh_ports = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--per-connection") == 0) per_connection = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--batch") == 0) batch = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--source") == 0) {
      if (inet_pton(AF_INET, argv[i + 1], &fixed_source) != 1 || (ntohl(fixed_source.s_addr) >> 24) != 127) { fprintf(stderr, "--source: a 127.x.y.z address\n"); return 2; }
    }
    else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
  }
  if (batch < 0 || batch > BATCH) { fprintf(stderr, "--batch 1..%d\n", BATCH); return 2; }
  if (sources < 1 || sources > MAX_CONNS || nconns < 1 || nconns > MAX_CONNS) { fprintf(stderr, "1..%d sources/conns\n", MAX_CONNS); return 2; }
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3])) };
  if (inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1 || (ntohl(dst.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "only loopback (127.0.0.0/8) targets\n");
    return 2;
  }
  uint64_t count = strtoull(argv[4], NULL, 10);
  rng ^= (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
  load_shapes(argv[5]);
  if (strcmp(argv[1], "udp") == 0) flood_udp(&dst, count, sources, pace_us, fresh_ports, batch);
  else if (strcmp(argv[1], "tcp") == 0) flood_tcp(&dst, count, nconns, drain_ms, per_connection);
  else { fprintf(stderr, "mode: udp or tcp\n"); return 2; }
  return 0;
}
