/*
 * bench/tftp-bootstorm: the boot-storm load generator in C, so the generator is not the bottleneck (issue 3, item 6).
 * Same semantics as runStorm in phones.ts, at a small fraction of its CPU per file.
 *
 * N phones, each fetching its files in order (CTL, ITL, config). Paced: at most K phones in flight, a phone starts
 * when one finishes. Burst: every phone at once. Each phone in flight has a "lane" with its own loopback address
 * 127.1.x.y (per-client-address limits see separate phones); every transfer gets a socket on that address whose
 * port no transfer of the last reuse-after-ms used, i.e. a new TID (RFC 1350 §4) — a server that sees the next RRQ
 * from the port of a transfer it has not torn down yet may take it for a retransmission. A finished transfer's
 * socket rests in its lane's ring (packets that reach it then are read and dropped; the newest one dallies, below)
 * and is then reused, as sbd-tftpd reuses its own transfer sockets; the rings are filled before the clock starts.
 * Creating and closing a socket per transfer (socket, bind, epoll_ctl, close) was 26 % of this generator's CPU in
 * a long paced storm (perf), CPU the server under test then did not get on a 2-core machine. One level-triggered
 * epoll loop drives every socket; no allocation after start-up (one static receive buffer, ACKs built on the
 * stack).
 *
 * Theory of operation (one lane, one file; the client core in src/tftp/core/client-transfer.ts, ported):
 *   state      event                                 action                                        next
 *   REQUESTED  OACK we accept (RFC 2347 §2)          fix the server TID, ACK 0                     DATA
 *   REQUESTED  OACK we cannot accept                 ERROR 8, the file fails                       (retry)
 *   REQUESTED  DATA (server ignored the options)     fix the TID, blksize 512, window 1            DATA
 *   REQUESTED  ERROR 8 and options were sent         RRQ again without options                     REQUESTED
 *   DATA       next block in order                   compare with the expected bytes; ACK at the   DATA/next
 *                                                    window's end (RFC 7440 §4) or the last block
 *   DATA       an old block / a block past a gap     ACK the last in-order block (once per window)  DATA
 *   any        packet from another TID               ERROR 5 to it (RFC 1350 §4), nothing else      same
 *   any        timer, retries left                   resend RRQ / last ACK                         same
 *   any        timer, no retries left                the file fails                                (retry)
 * A finished file's socket dallies for dally-ms (RFC 1350 §6): a repeated last DATA is ACKed again (while open
 * sockets stay under the descriptor limit; past it the old socket is closed at once). A failed file
 * is retried like a phone after a random 1-3 s pause, up to file-attempts times; past the deadline every phone
 * still booting counts as failed. Every received byte is compared with the file read from --root at start.
 *
 * Usage: storm --server ADDR --port N --root DIR --files A,B,SEP{MAC}.cnf.xml.sgn [--mac-base HEX] --phones N
 *        [--shape paced|burst] [--in-flight K] [--blksize B] [--tsize] [--windowsize W] [--deadline-ms MS]
 *        [--file-attempts N] [--timeout-ms MS] [--retries N] [--dally-ms MS] [--reuse-after-ms MS] [--start-spread-ms MS]
 *        [--boot-times]
 * Prints one JSON line: booted, failed, files, fileErrors (by cause), wallMs, boot p50/p99 ms, retransmissions,
 * socketsOpened (while the clock ran), genCpuS (getrusage of this process during the run).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { OP_RRQ = 1, OP_DATA = 3, OP_ACK = 4, OP_ERROR = 5, OP_OACK = 6 };
enum { L_REQUESTED, L_DATA, L_PAUSE, L_DONE };
enum { E_TIMEOUT, E_SERVER, E_BYTES, E_PROTOCOL, E_COUNT };
static const char *const E_NAMES[E_COUNT] = {"timeout", "serverError", "wrongBytes", "protocol"};
#define MAX_FILES 8

typedef struct { uint8_t *bytes; size_t len; uint64_t hash; } Blob;

typedef struct {
  int fd, dallyFd, state, phone, file, attempt;
  double phoneStart, timerAt;
  int retries, inWindow, nakSent, withOptions, blksize, windowsize, mismatch;
  uint16_t tid;           /* server's transfer port, 0 until its first reply (RFC 1350 §4) */
  uint32_t expected;      /* next block, absolute (1-based) */
  long long tsize;        /* announced by the server (RFC 2349), -1 if not */
  size_t received;
  const Blob *want;
  uint16_t dallyTid, dallyBlock;
  double dallyUntil, dallyDoneAt;
  uint32_t address;       /* 127.1.x.y, host order */
  int *ring;              /* resting sockets, oldest first (a circular queue of RING_CAP) */
  double *ringUntil;      /* when each may carry a transfer again */
  int ringHead, ringCount;
} Lane;
#define RING_CAP 128

/* Options (every bound named, defaults as phones.ts runs them). */
static struct {
  struct sockaddr_in server;
  const char *root, *files[MAX_FILES];
  int nfiles, phones, burst, inFlight, blksize, tsize, windowsize, fileAttempts, retries, bootTimes;
  double deadlineMs, timeoutMs, dallyMs, reuseAfterMs, startSpreadMs;
  unsigned long long macBase;
} o = {.inFlight = 250, .fileAttempts = 5, .retries = 5, .deadlineMs = 600000, .timeoutMs = 1000, .dallyMs = 1000, .reuseAfterMs = 500, .startSpreadMs = 10,
       .macBase = 0x001122000000ULL};

static Lane *lanes;
static int nlanes, nextPhone, active, ep, openFds, fdBudget;
static const Blob **want;   /* [phone * nfiles + file] */
static Blob **distinct;     /* each content once */
static size_t ndistinct;
static double *bootMs;
static long booted, failed, files, fileErrors[E_COUNT], retransmissions, retxRrq, dallyClosedEarly, socketsOpened;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint8_t rx[65536 + 8];

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "storm: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(2);
}

static double nowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpuS(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double rand01(void) { /* xorshift64*: the phones' 1-3 s pause needs no better */
  rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
  return (double)((rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* File name of phone i: "{MAC}" becomes the 12 upper-case hex digits of mac-base + i. */
static void fileName(char *out, size_t cap, int file, int phone) {
  const char *pat = o.files[file], *at = strstr(pat, "{MAC}");
  if (!at) snprintf(out, cap, "%s", pat);
  else snprintf(out, cap, "%.*s%012llX%s", (int)(at - pat), pat, o.macBase + (unsigned long long)phone, at + 5);
}

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

/* Expected bytes of every (phone, file), read once before the run; equal contents are kept once. */
static void loadExpected(void) {
  size_t cap = 0;
  want = calloc((size_t)o.phones * o.nfiles, sizeof *want);
  if (!want) die("%s", "out of memory");
  for (int f = 0; f < o.nfiles; f++) {
    int perPhone = strstr(o.files[f], "{MAC}") != NULL;
    for (int i = 0; i < o.phones; i++) {
      if (!perPhone && i > 0) { want[(size_t)i * o.nfiles + f] = want[f]; continue; }
      char name[512], path[1024];
      fileName(name, sizeof name, f, i);
      snprintf(path, sizeof path, "%s/%s", o.root, name);
      int fd = open(path, O_RDONLY);
      struct stat st;
      if (fd < 0 || fstat(fd, &st) != 0) die("cannot read expected file %s", path);
      uint8_t *b = malloc((size_t)st.st_size + 1);
      if (!b || read(fd, b, (size_t)st.st_size) != st.st_size) die("cannot read expected file %s", path);
      close(fd);
      Blob key = {b, (size_t)st.st_size, fnv1a(b, (size_t)st.st_size)};
      size_t k = 0;
      while (k < ndistinct && !(distinct[k]->hash == key.hash && distinct[k]->len == key.len && !memcmp(distinct[k]->bytes, b, key.len))) k++;
      if (k == ndistinct) {
        if (ndistinct == cap) {
          cap = cap ? cap * 2 : 16;
          distinct = realloc(distinct, cap * sizeof *distinct);
        }
        Blob *blob = malloc(sizeof *blob);
        if (!distinct || !blob) die("%s", "out of memory");
        *blob = key;
        distinct[ndistinct++] = blob;
      } else free(b);
      want[(size_t)i * o.nfiles + f] = distinct[k];
    }
  }
}

static void sendOn(int fd, const void *p, size_t n, uint16_t port) {
  struct sockaddr_in to = o.server;
  to.sin_port = htons(port);
  /* A lost send (ENOBUFS, EAGAIN) is a lost packet: the retransmission timer repairs it. */
  if (fd >= 0) (void)!sendto(fd, p, n, 0, (struct sockaddr *)&to, sizeof to);
}

static void sendAckOn(int fd, uint32_t block, uint16_t port) {
  uint8_t a[4] = {0, OP_ACK, (uint8_t)(block >> 8), (uint8_t)block};
  sendOn(fd, a, 4, port);
}
#define sendTo(l, p, n, port) sendOn((l)->fd, p, n, port)
#define sendAck(l, block, port) sendAckOn((l)->fd, block, port)

static void sendErrorOn(int fd, int code, const char *msg, uint16_t port) {
  uint8_t b[128];
  size_t n = strlen(msg);
  b[0] = 0, b[1] = OP_ERROR, b[2] = 0, b[3] = (uint8_t)code;
  memcpy(b + 4, msg, n + 1);
  sendOn(fd, b, n + 5, port);
}
#define sendError(l, code, msg, port) sendErrorOn((l)->fd, code, msg, port)

static void closeFd(int *fd) {
  if (*fd < 0) return;
  close(*fd); /* also leaves the epoll set */
  *fd = -1;
  openFds--;
}

/* The ring's oldest socket, taken out of it (the ring is not empty). */
static int ringPop(Lane *l) {
  int fd = l->ring[l->ringHead];
  l->ringHead = (l->ringHead + 1) % RING_CAP, l->ringCount--;
  return fd;
}

/* A transfer's socket is done with: it rests in the lane's ring until `until` (closed when the ring is full). */
static void rest(Lane *l, int *fd, double until) {
  if (*fd < 0) return;
  if (l->ringCount == RING_CAP) {
    int oldest = ringPop(l);
    closeFd(&oldest);
  }
  int at = (l->ringHead + l->ringCount++) % RING_CAP;
  l->ring[at] = *fd, l->ringUntil[at] = until;
  *fd = -1;
}

/* Sockets of a finished lane: closed. */
static void closeRing(Lane *l) {
  while (l->ringCount > 0) {
    int fd = ringPop(l);
    closeFd(&fd);
  }
}

/* While descriptors run short (a burst of thousands of lanes), resting sockets make room: oldest first. */
static void makeRoom(Lane *l) {
  while (openFds >= fdBudget && l->ringCount > 0) {
    int fd = ringPop(l);
    closeFd(&fd);
  }
}

/* A socket on the lane's address whose port no transfer used for dally-ms: the oldest rested one, else a fresh one
 * (port chosen by the kernel). Either way a new TID (RFC 1350 §4). */
static int newSocket(Lane *l);
static int openSocket(Lane *l, double now) {
  if (l->ringCount > 0 && l->ringUntil[l->ringHead] <= now) {
    int fd = ringPop(l);
    while (recv(fd, rx, sizeof rx, MSG_DONTWAIT) >= 0) {} /* a late packet of its last transfer, not yet read */
    return fd;
  }
  makeRoom(l);
  return newSocket(l);
}

static int newSocket(Lane *l) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket: %s", strerror(errno));
  socketsOpened++;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(l->address)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) die("bind 127.1.x.y: %s", strerror(errno));
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(l - lanes) << 32 | (uint32_t)fd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
  openFds++;
  return fd;
}

/* RFC 1350 §5 RRQ, octet mode, with the RFC 2347 options asked for. */
static void sendRrq(Lane *l) {
  char b[700], name[512];
  fileName(name, sizeof name, l->file, l->phone);
  int n = 2 + snprintf(b + 2, sizeof b - 2, "%s%coctet%c", name, 0, 0);
  b[0] = 0, b[1] = OP_RRQ;
  if (l->withOptions) {
    if (o.blksize) n += 1 + snprintf(b + n, sizeof b - n, "blksize%c%d", 0, o.blksize);
    if (o.tsize) n += 1 + snprintf(b + n, sizeof b - n, "tsize%c0", 0);
    if (o.windowsize) n += 1 + snprintf(b + n, sizeof b - n, "windowsize%c%d", 0, o.windowsize);
  }
  sendTo(l, b, (size_t)n, ntohs(o.server.sin_port));
}

static void startFile(Lane *l, double now) {
  rest(l, &l->fd, now + o.reuseAfterMs);
  if (l->dallyFd >= 0 && openFds >= fdBudget && l->ringCount == 0) dallyClosedEarly++, closeFd(&l->dallyFd);
  l->fd = openSocket(l, now);
  l->state = L_REQUESTED;
  l->tid = 0, l->expected = 1, l->inWindow = 0, l->nakSent = 0, l->retries = 0, l->mismatch = 0;
  l->blksize = 512, l->windowsize = 1, l->tsize = -1, l->received = 0;
  l->withOptions = o.blksize || o.tsize || o.windowsize;
  l->want = want[(size_t)l->phone * o.nfiles + l->file];
  sendRrq(l);
  l->timerAt = now + o.timeoutMs;
}

static void startPhone(Lane *l, int phone, double now) {
  l->phone = phone, l->file = 0, l->attempt = 1, l->phoneStart = now;
  startFile(l, now);
}

/* The lane's phone is done (booted or failed): paced lanes take the next phone. */
static void phoneDone(Lane *l, double now) {
  if (!o.burst && nextPhone < o.phones) {
    startPhone(l, nextPhone++, now);
    return;
  }
  l->state = L_DONE, active--;
  /* Paced: the lane's sockets stay open until the clock stops. Closing its ring here (up to RING_CAP sockets, 250
   * lanes) cost this process ~100 ms while the last lanes were still booting: the generator, not the server, set
   * the end of a short storm. Burst: closed now, as descriptors are what the other phones are short of. */
  if (o.burst) closeFd(&l->fd), closeFd(&l->dallyFd), closeRing(l);
}

static void fileFailed(Lane *l, int cause, double now, double deadline) {
  fileErrors[cause]++;
  if (l->attempt >= o.fileAttempts || now > deadline) {
    failed++;
    phoneDone(l, now);
    return;
  }
  l->attempt++;
  l->state = L_PAUSE;
  rest(l, &l->fd, now + o.reuseAfterMs);
  l->timerAt = now + 1000 + rand01() * 2000;
}

static void abortFile(Lane *l, int cause, int code, const char *msg, uint16_t port, double now, double deadline) {
  sendError(l, code, msg, port);
  fileFailed(l, cause, now, deadline);
}

static void fileComplete(Lane *l, double now, double deadline) {
  if (l->mismatch || l->received != l->want->len || (l->tsize >= 0 && (size_t)l->tsize != l->received)) {
    fileFailed(l, E_BYTES, now, deadline);
    return;
  }
  files++;
  /* RFC 1350 §6: keep the socket a while in case our last ACK was lost (one dallying socket per lane). */
  rest(l, &l->dallyFd, l->dallyDoneAt + o.reuseAfterMs);
  if (o.dallyMs > 0) {
    l->dallyFd = l->fd, l->fd = -1;
    l->dallyTid = l->tid, l->dallyBlock = (uint16_t)(l->expected - 1), l->dallyUntil = now + o.dallyMs, l->dallyDoneAt = now;
  }
  if (++l->file < o.nfiles) {
    l->attempt = 1;
    startFile(l, now);
    return;
  }
  bootMs[booted++] = now - l->phoneStart;
  phoneDone(l, now);
}

/* RFC 2347 §2 / RFC 2348 / RFC 2349 / RFC 7440: only what was asked, values within what was asked. */
static int acceptOack(Lane *l, const uint8_t *p, size_t n) {
  int seen = 0;
  size_t i = 0;
  while (i < n) {
    const char *name = (const char *)p + i, *nul = memchr(p + i, 0, n - i);
    if (!nul || (size_t)((const uint8_t *)nul - p) + 1 >= n) return -1;
    const char *value = nul + 1, *vnul = memchr(value, 0, n - (size_t)((const uint8_t *)value - p));
    if (!vnul) return -1;
    i = (size_t)((const uint8_t *)vnul - p) + 1;
    char *end;
    long long v = strtoll(value, &end, 10);
    if (end == value || *end || v < 0) return -1;
    int bit;
    if (!strcasecmp(name, "blksize") && o.blksize && v >= 8 && v <= o.blksize) bit = 1, l->blksize = (int)v;
    else if (!strcasecmp(name, "windowsize") && o.windowsize && v >= 1 && v <= o.windowsize) bit = 2, l->windowsize = (int)v;
    else if (!strcasecmp(name, "tsize") && o.tsize) bit = 4, l->tsize = v;
    else return -1;
    if (seen & bit) return -1;
    seen |= bit;
  }
  return 0;
}

static void onData(Lane *l, uint16_t wire, const uint8_t *data, size_t len, uint16_t port, double now, double deadline) {
  if (wire != (uint16_t)l->expected) {
    uint16_t behind = (uint16_t)(l->expected - wire); /* 1 = the block just before the expected one */
    int isOld = behind >= 1 && behind <= 2 * (l->windowsize > 1 ? l->windowsize : 1);
    /* RFC 7440 §4: ACK the last block in order, once per window (every time in lock-step, RFC 1350 §6). */
    if ((isOld && l->windowsize == 1) || !l->nakSent) {
      l->nakSent = 1, l->inWindow = 0;
      sendAck(l, l->expected - 1, port);
    }
    return;
  }
  if (len > (size_t)l->blksize) { abortFile(l, E_PROTOCOL, 4, "DATA larger than blksize", port, now, deadline); return; }
  if (l->received + len > l->want->len || memcmp(l->want->bytes + l->received, data, len)) {
    abortFile(l, E_BYTES, 0, "unexpected file content", port, now, deadline);
    return;
  }
  l->received += len;
  l->retries = 0, l->nakSent = 0, l->inWindow++;
  uint32_t block = l->expected++;
  if (len < (size_t)l->blksize) {
    sendAck(l, block, port);
    fileComplete(l, now, deadline);
    return;
  }
  if (l->inWindow >= l->windowsize) {
    l->inWindow = 0;
    sendAck(l, block, port);
  }
  l->timerAt = now + o.timeoutMs;
}

/* A datagram on the lane's dallying socket: its transfer is complete. */
static void onDallyPacket(Lane *l, const uint8_t *p, size_t n, uint16_t port) {
  if (port != l->dallyTid) sendErrorOn(l->dallyFd, 5, "unknown transfer ID", port); /* RFC 1350 §4 */
  /* RFC 1350 §6: our final ACK was lost; repeat it for the last block, ignore the rest. */
  else if (n >= 4 && p[0] == 0 && p[1] == OP_DATA && (uint16_t)(p[2] << 8 | p[3]) == l->dallyBlock) sendAckOn(l->dallyFd, l->dallyBlock, port);
}

/* A datagram on the lane's current transfer socket. */
static void onPacket(Lane *l, const uint8_t *p, size_t n, uint16_t port, double now, double deadline) {
  uint16_t op = n >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : 0;
  uint16_t blk = n >= 4 ? (uint16_t)(p[2] << 8 | p[3]) : 0;
  if (l->state == L_DATA && port != l->tid) {
    sendError(l, 5, "unknown transfer ID", port); /* RFC 1350 §4: not our transfer; it goes on undisturbed */
    return;
  }
  if (n < 4) { abortFile(l, E_PROTOCOL, 4, "short packet", port, now, deadline); return; }
  switch (op) {
    case OP_ERROR:
      if (l->state == L_REQUESTED && blk == 8 && l->withOptions) {
        l->withOptions = 0, l->retries = 0; /* RFC 2347 §2: the server refused options; ask without them */
        sendRrq(l);
        l->timerAt = now + o.timeoutMs;
        return;
      }
      fileFailed(l, E_SERVER, now, deadline);
      return;
    case OP_OACK:
      if (l->state == L_REQUESTED) {
        l->tid = port;
        if (!l->withOptions || acceptOack(l, p + 2, n - 2) != 0) { abortFile(l, E_PROTOCOL, 8, "OACK not acceptable", port, now, deadline); return; }
        l->state = L_DATA, l->retries = 0;
        sendAck(l, 0, port);
        l->timerAt = now + o.timeoutMs;
      } else if (l->expected == 1) { /* our ACK 0 was lost and the server sent its OACK again */
        sendAck(l, 0, port);
        l->timerAt = now + o.timeoutMs;
      }
      return;
    case OP_DATA:
      if (l->state == L_REQUESTED) l->tid = port, l->state = L_DATA; /* options ignored: RFC 1350 defaults */
      onData(l, blk, p + 4, n - 4, port, now, deadline);
      return;
    default:
      abortFile(l, E_PROTOCOL, 4, "unexpected opcode", port, now, deadline);
  }
}

static void onTimer(Lane *l, double now, double deadline) {
  if (l->state == L_PAUSE) { startFile(l, now); return; }
  if (l->retries >= o.retries) { fileFailed(l, E_TIMEOUT, now, deadline); return; }
  l->retries++, retransmissions++, l->nakSent = 0;
  if (l->state == L_REQUESTED) sendRrq(l), retxRrq++;
  else l->inWindow = 0, sendAck(l, l->expected - 1, l->tid); /* RFC 7440 §4: ACK the last block in order */
  l->timerAt = now + o.timeoutMs;
}

/* One read per ready socket: epoll is level-triggered, so a second datagram comes back in the next round
 * (saves the EAGAIN read; in lock-step TFTP a socket rarely holds two). */
static void onReadable(Lane *l, int fd, double now, double deadline) {
  int isDally = fd == l->dallyFd;
  if (fd != l->fd && !isDally) { /* a resting socket's late packet: dropped (unless the fd is no longer this lane's) */
    for (int k = 0; k < l->ringCount; k++)
      if (l->ring[(l->ringHead + k) % RING_CAP] == fd) { (void)!recv(fd, rx, sizeof rx, MSG_DONTWAIT); break; }
    return;
  }
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  ssize_t r = recvfrom(fd, rx, sizeof rx, 0, (struct sockaddr *)&from, &fl);
  if (r < 0) return;
  if (from.sin_addr.s_addr != o.server.sin_addr.s_addr) return; /* not the server: nothing of ours, no answer */
  if (isDally) onDallyPacket(l, rx, (size_t)r, ntohs(from.sin_port));
  else if (l->state == L_REQUESTED || l->state == L_DATA) onPacket(l, rx, (size_t)r, ntohs(from.sin_port), now, deadline);
}

static int cmpDouble(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double percentile(int p) { /* as phones.ts: sorted[min(n-1, floor(p/100*n))]; booted > 0 */
  long i = (long)(p / 100.0 * booted);
  return bootMs[i < booted - 1 ? i : booted - 1];
}

static long num(const char *s, long lo, long hi, const char *what) {
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v < lo || v > hi) die("bad value for %s", what);
  return v;
}

static void parseArgs(int argc, char **argv) {
  static const struct option opts[] = {
    {"server", 1, 0, 's'}, {"port", 1, 0, 'p'}, {"root", 1, 0, 'r'}, {"files", 1, 0, 'f'}, {"mac-base", 1, 0, 'm'},
    {"phones", 1, 0, 'n'}, {"shape", 1, 0, 'S'}, {"in-flight", 1, 0, 'k'}, {"blksize", 1, 0, 'b'}, {"tsize", 0, 0, 't'},
    {"windowsize", 1, 0, 'w'}, {"deadline-ms", 1, 0, 'd'}, {"file-attempts", 1, 0, 'a'}, {"timeout-ms", 1, 0, 'T'},
    {"retries", 1, 0, 'R'}, {"dally-ms", 1, 0, 'D'}, {"reuse-after-ms", 1, 0, 'U'}, {"boot-times", 0, 0, 'B'}, {"start-spread-ms", 1, 0, 'G'},
    {0, 0, 0, 0}};
  int c, port = 69;
  o.server.sin_family = AF_INET;
  o.server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 's': if (inet_pton(AF_INET, optarg, &o.server.sin_addr) != 1) die("--server %s: not an IPv4 address", optarg); break;
      case 'p': port = (int)num(optarg, 1, 65535, "--port"); break;
      case 'r': o.root = optarg; break;
      case 'f':
        for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
          if (o.nfiles == MAX_FILES) die("%s", "--files: at most 8 names");
          if (strlen(tok) > 400) die("--files: name too long: %.40s", tok);
          o.files[o.nfiles++] = tok;
        }
        break;
      case 'm': o.macBase = strtoull(optarg, NULL, 16); break;
      case 'n': o.phones = (int)num(optarg, 1, 65000, "--phones"); break;
      case 'S':
        if (strcmp(optarg, "paced") && strcmp(optarg, "burst")) die("--shape %s: paced or burst", optarg);
        o.burst = !strcmp(optarg, "burst");
        break;
      case 'k': o.inFlight = (int)num(optarg, 1, 65000, "--in-flight"); break;
      case 'b': o.blksize = (int)num(optarg, 8, 65464, "--blksize"); break;
      case 't': o.tsize = 1; break;
      case 'w': o.windowsize = (int)num(optarg, 1, 65535, "--windowsize"); break;
      case 'd': o.deadlineMs = (double)num(optarg, 1, 86400000, "--deadline-ms"); break;
      case 'a': o.fileAttempts = (int)num(optarg, 1, 100, "--file-attempts"); break;
      case 'T': o.timeoutMs = (double)num(optarg, 1, 255000, "--timeout-ms"); break;
      case 'R': o.retries = (int)num(optarg, 0, 100, "--retries"); break;
      case 'D': o.dallyMs = (double)num(optarg, 0, 60000, "--dally-ms"); break;
      case 'U': o.reuseAfterMs = (double)num(optarg, 0, 60000, "--reuse-after-ms"); break;
      case 'B': o.bootTimes = 1; break;
      case 'G': o.startSpreadMs = (double)num(optarg, 0, 10000, "--start-spread-ms"); break;
      default: die("%s", "unknown option (see the usage at the top of storm.c)");
    }
  }
  o.server.sin_port = htons((uint16_t)port);
  if (!o.root || !o.nfiles || !o.phones) die("%s", "--root, --files and --phones are required");
}

int main(int argc, char **argv) {
  parseArgs(argc, argv);
  loadExpected();
  nlanes = o.burst || o.phones < o.inFlight ? o.phones : o.inFlight;
  /* Descriptors for every lane's ring of resting sockets: raised as far as allowed (root may pass the hard limit). */
  struct rlimit rl;
  rlim_t wantFds = (rlim_t)nlanes * (RING_CAP + 2) + 64;
  if (wantFds > 262144) wantFds = 262144;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < wantFds) {
    struct rlimit up = {wantFds, wantFds > rl.rlim_max ? wantFds : rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &up) != 0) rl.rlim_cur = rl.rlim_max, setrlimit(RLIMIT_NOFILE, &rl);
  }
  fdBudget = (int)(getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024) - 32; /* stdio, epoll, files read */
  if (fdBudget < nlanes) die("%s", "too few file descriptors for one socket per phone in flight (ulimit -n)");
  ep = epoll_create1(EPOLL_CLOEXEC);
  lanes = calloc((size_t)nlanes, sizeof *lanes);
  bootMs = calloc((size_t)o.phones, sizeof *bootMs);
  struct epoll_event *events = calloc((size_t)nlanes * 2, sizeof *events);
  if (ep < 0 || !lanes || !bootMs || !events) die("%s", "out of memory");
  for (int i = 0; i < nlanes; i++) {
    unsigned n = (unsigned)i + 1; /* 127.1.x.y, as phones.ts */
    lanes[i].address = 0x7f010000u | ((n >> 8) & 255) << 8 | (n & 255);
    lanes[i].fd = lanes[i].dallyFd = -1;
    lanes[i].ring = malloc(RING_CAP * sizeof *lanes[i].ring);
    lanes[i].ringUntil = malloc(RING_CAP * sizeof *lanes[i].ringUntil);
    if (!lanes[i].ring || !lanes[i].ringUntil) die("%s", "out of memory");
  }
  rng ^= (uint64_t)getpid() << 32 ^ (uint64_t)nowMs();
  /* Before the clock starts, each lane's ring is filled with sockets that may be used at once (as many as the
   * descriptors allow, up to RING_CAP): what is measured is the server, not this process creating sockets. */
  int prewarm = (fdBudget - 2 * nlanes) / nlanes;
  if (prewarm > RING_CAP) prewarm = RING_CAP;
  for (int k = 0; k < prewarm; k++)
    for (int i = 0; i < nlanes; i++) {
      int fd = newSocket(&lanes[i]);
      rest(&lanes[i], &fd, 0);
    }

  socketsOpened = 0; /* counted from here: sockets opened while the clock runs */
  double cpu0 = cpuS(), t0 = nowMs(), deadline = t0 + o.deadlineMs, lastSweep = t0;
  active = nlanes;
  /* Paced lanes start spread over start-spread-ms, burst lanes all at once. Started in the same instant, the paced
   * lanes stayed in lock step (same files, same sizes): every lane waited on the same round trip, generator and
   * server took turns instead of working at once, and some whole runs went at about half speed. */
  double spread = o.burst ? 0 : o.startSpreadMs;
  int started = 0;
  while (active > 0) {
    while (started < nlanes && (spread <= 0 || nowMs() - t0 >= spread * started / nlanes))
      startPhone(&lanes[started], nextPhone++, nowMs()), started++;
    int n = epoll_wait(ep, events, nlanes * 2, started < nlanes ? 0 : 10);
    double now = nowMs();
    for (int e = 0; e < n; e++) onReadable(&lanes[events[e].data.u64 >> 32], (int)(uint32_t)events[e].data.u64, now, deadline);
    if (now - lastSweep >= 10) { /* timers at 10 ms resolution (phones.ts: 20 ms) */
      lastSweep = now;
      for (int i = 0; i < started; i++) {
        Lane *l = &lanes[i];
        if (l->dallyFd >= 0 && l->dallyUntil <= now) rest(l, &l->dallyFd, l->dallyDoneAt + o.reuseAfterMs);
        if (l->state != L_DONE && l->timerAt <= now) onTimer(l, now, deadline);
      }
    }
    if (now > deadline) { /* every phone still booting counts as failed */
      for (int i = 0; i < started; i++)
        if (lanes[i].state != L_DONE) failed++, lanes[i].state = L_DONE;
      failed += o.phones - nextPhone;
      nextPhone = o.phones;
      active = 0;
    }
  }
  double wallMs = nowMs() - t0, genCpuS = cpuS() - cpu0;
  for (int i = 0; i < nlanes; i++) closeFd(&lanes[i].fd), closeFd(&lanes[i].dallyFd), closeRing(&lanes[i]), free(lanes[i].ring), free(lanes[i].ringUntil);
  close(ep);
  qsort(bootMs, (size_t)booted, sizeof *bootMs, cmpDouble);

  long errs = 0;
  for (int e = 0; e < E_COUNT; e++) errs += fileErrors[e];
  printf("{\"booted\":%ld,\"failed\":%ld,\"files\":%ld,\"fileErrors\":%ld,\"fileErrorsBy\":{", booted, failed, files, errs);
  for (int e = 0; e < E_COUNT; e++) printf("%s\"%s\":%ld", e ? "," : "", E_NAMES[e], fileErrors[e]);
  char p50[32] = "null", p99[32] = "null"; /* no phone booted: no boot time */
  if (booted > 0) snprintf(p50, sizeof p50, "%.1f", percentile(50)), snprintf(p99, sizeof p99, "%.1f", percentile(99));
  printf("},\"wallMs\":%.1f,\"bootP50Ms\":%s,\"bootP99Ms\":%s,\"retransmissions\":%ld,\"rrqRetransmissions\":%ld,\"dallyClosedEarly\":%ld,\"socketsOpened\":%ld,\"genCpuS\":%.3f",
         wallMs, p50, p99, retransmissions, retxRrq, dallyClosedEarly, socketsOpened, genCpuS);
  if (o.bootTimes) {
    printf(",\"bootMs\":[");
    for (long i = 0; i < booted; i++) printf("%s%.1f", i ? "," : "", bootMs[i]);
    printf("]");
  }
  printf("}\n");
  for (size_t k = 0; k < ndistinct; k++) free(distinct[k]->bytes), free(distinct[k]);
  free(distinct), free(want), free(lanes), free(bootMs), free(events);
  return 0;
}
