/*
 * Internals of the native TFTP data plane (tftp-engine.h is the API). One engine = one epoll loop on one thread;
 * nothing here is global. The files, in layers (the table below the engine state), by concern:
 *   tftp-text.c      UTF-8 string building, printable(), JSON escaping, latin1 wire encoding
 *   tftp-packet.c    packet decode (same malformed messages as core/packet.ts), ERROR encode, file names, netascii
 *   tftp-options.c   RFC 2347 negotiation (core/options.ts)
 *   tftp-net.c       UDP sockets, ERROR packets (counted by code), addresses as text
 *   tftp-log.c       the control socket's output queue, log lines (rate-limited), refusals and drops
 *   tftp-files.c     the file cache and the store's generation file
 *   tftp-folder.c    a plain folder read in C
 *   tftp-config.c    the "key=value" configuration
 *   tftp-pool.c      transfer sockets (TIDs): create, rest, free queues (server.ts's pool)
 *   tftp-transfer.c  a transfer's whole life: start (negotiation, TID), the machine (core/server-transfer.ts), its
 *                    datagrams and socket errors, finish and release
 *   tftp-opens.c     pending opens: OPEN to Node, one per name at a time, FILE/REFUSE answers
 *   tftp-requests.c  the request path (server.ts onRequest), limits, duplicate RRQs, eviction
 *   tftp-control.c   control frames from Node, STATS
 *   tftp-engine.c    API, request sockets, the loop, the timer sweep
 */
#ifndef SBD_TFTP_INTERNAL_H
#define SBD_TFTP_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "tftp-engine.h"
#include "tftp-errors.h" /* generated from src/tftp/core/errors.ts */

enum { OP_RRQ = 1, OP_WRQ = 2, OP_DATA = 3, OP_ACK = 4, OP_ERROR = 5, OP_OACK = 6 };
/* RFC 1350 §5 error codes used by the engine itself (core/errors.ts TftpErrorCode). */
enum { TE_NOT_DEFINED = 0, TE_NOT_FOUND = 1, TE_ACCESS = 2, TE_ILLEGAL = 4, TE_UNKNOWN_TID = 5, TE_OPTION = 8 };

#define MAX_BINDS 16
#define REQ_BATCH 64
#define RECV_MAX 65536
#define NAME_CAP 1024 /* longest filename the config accepts */

/* ---------- tftp-text.c: a fixed-capacity UTF-8 string builder (truncates, never allocates) ---------- */
typedef struct {
  char *p;
  size_t len, cap;
} sb;
void sb_init(sb *s, char *buf, size_t cap);
void sb_mem(sb *s, const void *p, size_t n);
void sb_str(sb *s, const char *z);
void sb_u64(sb *s, uint64_t v);
void sb_latin1(sb *s, const uint8_t *p, size_t n);
void sb_printable(sb *s, const uint8_t *name, size_t n);
void sb_json(sb *s, const char *utf8, size_t n);
size_t utf8_to_wire(const char *u, size_t n, uint8_t *out, size_t cap);
void latin1_lower(uint8_t *p, size_t n);
size_t utf8_cut(const char *u, size_t n, size_t max);

/* ---------- tftp-packet.c ---------- */
typedef struct {
  const uint8_t *name, *value;
  size_t name_len, value_len;
} tftp_option;
typedef struct {
  int opcode;
  const uint8_t *filename, *mode, *message;
  size_t filename_len, mode_len, message_len;
  size_t option_count;
  uint16_t block, error_code;
} tftp_packet;
/* Decodes one datagram (lower-casing mode and option names in place). 0, or -1 with the malformed message in err.
 * opts (capacity len/3 + 1 suffices) may be NULL to validate options without keeping them. */
int tftp_decode(uint8_t *buf, size_t len, tftp_packet *p, tftp_option *opts, size_t opts_cap, sb *err);
int tftp_decode_options(uint8_t *buf, size_t len, size_t at, tftp_option *opts, size_t opts_cap, size_t *count,
                        sb *err);
size_t tftp_encode_error(uint8_t *out, size_t cap, uint16_t code, const char *msg, size_t n);
/* 0 when acceptable, else the tftp code, with *code the stable string and the message in msg (core/filename.ts). */
int tftp_check_filename(const uint8_t *name, size_t n, size_t max, const char **code, sb *msg);
size_t tftp_netascii_len(const uint8_t *p, size_t n);
void tftp_to_netascii(const uint8_t *p, size_t n, uint8_t *out);

/* ---------- tftp-options.c ---------- */
typedef struct {
  uint32_t max_blksize, max_windowsize, min_timeout_s, max_timeout_s;
} tftp_limits;
typedef struct {
  uint32_t blksize, windowsize, timeout_s; /* timeout_s 0: none negotiated */
  uint8_t oack[128];
  size_t oack_len; /* 0: no OACK, answer with DATA 1 (RFC 2347 §2) */
} tftp_negotiated;
int tftp_negotiate(const tftp_option *opts, size_t n, uint64_t file_size, const tftp_limits *l, tftp_negotiated *out,
                   sb *err);

/* ---------- tftp-files.c ---------- */
typedef struct file_entry {
  struct file_entry *hnext, *lprev, *lnext;
  char *name;
  size_t name_len;
  uint8_t *block;       /* allocation holding the bytes (a control frame, adopted) */
  const uint8_t *bytes; /* the file */
  uint64_t len;
  uint8_t *ascii; /* netascii form, made on first use (NULL with ascii_done: same as bytes) */
  uint64_t ascii_len;
  int ascii_done;
  int has_gen;
  uint64_t generation;
  int64_t expiry; /* monotonic ms, 0 = none */
  uint32_t refs;
  int cached;
} file_entry;
typedef struct {
  file_entry **buckets;
  size_t nbuckets;
  file_entry *head, *tail; /* least recently used first */
  uint64_t count, bytes, max_files, max_bytes;
  const char *gen_path;
  int gen_fd;
  const volatile uint64_t *gen_map;
} file_cache;
int files_init(file_cache *fc, uint64_t max_files, uint64_t max_bytes, const char *gen_path);
void files_destroy(file_cache *fc);
file_entry *files_lookup(file_cache *fc, const uint8_t *name, size_t n, int64_t now);
file_entry *files_make(const uint8_t *name, size_t n, uint8_t *block, const uint8_t *bytes, uint64_t len,
                       uint64_t gen, int has_gen, int64_t expiry);
void files_insert(file_cache *fc, file_entry *e);
void files_unref(file_cache *fc, file_entry *e);
void files_flush(file_cache *fc);
void files_gen_retry(file_cache *fc);
/* The bytes a transfer sends: the file, or its netascii form. NULL only when out of memory. */
const uint8_t *files_data(file_cache *fc, file_entry *e, int netascii, uint64_t *len);

/* ---------- engine state ---------- */
typedef struct sbd_tftp_engine engine;
enum { K_REQUEST = 1, K_TSOCK, K_TWATCH, K_CONTROL, K_DEAD };

typedef struct {
  uint8_t family; /* 4 or 6: the socket's family; a v4-mapped client on "::" is 6 */
  uint8_t addr[16];
  uint16_t port;
} peer;

/* Epoll data of a transfer socket's watcher descriptor (kind K_TWATCH first, like every epoll tag). */
typedef struct tsock_watch {
  int kind;
  struct tsock *owner;
} tsock_watch;

/*
 * A transfer socket is two descriptors on one local address and port (SO_REUSEPORT): fd, connected to the peer of
 * the transfer it serves (or served last), which then gets only that peer's packets and sends without a route
 * lookup per packet; and wfd, unconnected, which gets everyone else's (answered with error 5, RFC 1350 §4).
 */
typedef struct tsock {
  int kind; /* first: epoll data points here */
  int fd;
  tsock_watch watch;
  int wfd; /* same address and port, unconnected: everyone else's packets (error 5, RFC 1350 §4) */
  int connected;
  int pool;
  struct transfer *t;
  peer last;
  int64_t rest_until;
  struct tsock *qnext;
  int broken, queued;
} tsock;

/* Transfers running for one client address; `uhead` lists those whose peer has not acknowledged anything yet
 * (unverified: the source may be spoofed), oldest first, `unverified` of them. */
typedef struct client_entry {
  struct client_entry *hnext;
  uint8_t family, addr[16];
  uint32_t n, unverified;
  struct transfer *uhead, *utail;
} client_entry;

enum { T_FREE = 0, T_PENDING, T_OPENING, T_OACK, T_DATA, T_DONE };
typedef struct transfer {
  int state;
  uint32_t slot, req_id;
  struct transfer *prev, *next; /* running list (the sweep walks it) */
  struct transfer *hnext;       /* unacknowledged table */
  struct transfer *uprev, *unext; /* the client's unverified list (while unacked) */
  int unacked;
  int req_sock;
  client_entry *client;
  peer p;
  struct sockaddr_storage sa;
  socklen_t salen;
  uint8_t *name;
  size_t name_len;
  int netascii;
  uint8_t *opts; /* pending open: the RRQ's option bytes, decoded again once the file is known */
  size_t opts_len;
  file_entry *file;
  const uint8_t *data;
  uint64_t len;
  tsock *tid;
  /* a pending open (tftp-opens.c): the leader sent OPEN; followers of the same name wait on its answer */
  struct transfer *leader, *waiters, *wnext, *onext;
  int listed;
  /* the machine (tftp-transfer.c) */
  uint32_t blksize, windowsize, retries, retransmissions;
  int acknowledged;
  int64_t rto_ms, deadline, end_at; /* end_at: the transfer's lifetime ends (max_lifetime_ms) */
  uint64_t block_count, window_start, last_sent;
  uint8_t oack[128];
  size_t oack_len;
} transfer;

typedef struct {
  char *binds[MAX_BINDS];
  int nbinds;
  uint32_t port, max_transfers, max_transfers_per_client, max_unverified_per_client, max_retries, max_retries_unverified,
      max_lifetime_ms, timeout_ms, min_timeout_s, max_timeout_s, max_blksize,
      max_windowsize, max_filename_length, max_request_bytes, netascii, recv_buffer_size, timer_resolution_ms,
      tid_reuse_delay_ms, max_idle_sockets, max_log_lines_per_second, max_pending_opens;
  uint64_t max_cached_files, max_cache_bytes;
  char *generation_file;
  /* a plain folder Node serves (tftp-folder.c); NULL: every miss goes to Node */
  char *folder_root;
  uint32_t folder_ttl_ms;
  uint64_t folder_max_file_bytes, folder_read_max_bytes;
} tftp_config;
int config_parse(tftp_config *c, const char *text, char *err, int errlen);
/* Every numeric key's default as "key=value\n" lines; the length, or -1 when buf is too small. */
int config_defaults(char *buf, size_t cap);
void config_free(tftp_config *c);

typedef struct {
  uint64_t requests, transfers_started, transfers_completed, transfers_failed, retransmissions, busy_drops,
      unverified_evicted, lifetime_expired, duplicate_requests, unknown_tid, stray_packets, log_suppressed, bytes_sent, opens_forwarded, cache_hits,
      log_frames_dropped, rests_cut_short, opens_coalesced, folder_reads;
  uint64_t *errors_sent; /* 65536 entries, by TFTP error code */
} counters;

typedef struct {
  int kind;
  int fd;
  int family; /* 4 or 6 */
  int pool;
  struct sockaddr_storage local;
  socklen_t local_len;
  char text[80]; /* "family address port" */
  char addr[INET6_ADDRSTRLEN + 1];
} request_socket;

typedef struct {
  int kind;
  int fd;       /* the engine's end */
  int node_fd;  /* Node's end (Node owns it once it took it) */
  uint8_t *in;  /* bytes read, not yet a whole frame */
  size_t in_len, in_cap;
  uint8_t *frame; /* a frame larger than `in`, read in place */
  size_t frame_len, frame_have;
  uint8_t *out;
  size_t out_off, out_len, out_cap;
  int out_armed;
} control;

struct sbd_tftp_engine {
  tftp_config cfg;
  tftp_limits limits;
  counters c;
  int ep;
  request_socket req[MAX_BINDS];
  int nreq;
  control ctl;
  int stopping, fatal;
  /* sbd_tftp_engine_start's thread: 1 while it may run (not yet joined) */
  pthread_t thread;
  int thread_started, thread_rc;
  int64_t now, last_sweep;
  /* transfers */
  transfer *slots;
  transfer *free_slots; /* via next */
  transfer *running;    /* running list head */
  uint32_t active, pending, slot_bits, next_seq;
  uint8_t *names; /* slot i's file name at names + i * name_cap */
  size_t name_cap;
  transfer **unacked;
  size_t unacked_mask;
  transfer **opening; /* leaders by file name */
  client_entry **clients;
  size_t clients_mask;
  client_entry *client_pool, *free_clients;
  /* transfer sockets */
  tsock **free_q_head, **free_q_tail; /* per pool */
  int npools;
  tsock *rest_head, *rest_tail;
  tsock *graveyard; /* discarded this loop turn; freed after the event batch */
  uint32_t idle, tsocks;
  uint64_t max_tsocks; /* transfer sockets open at most (tftp-pool.c) */
  /* files */
  file_cache files;
  char *folder_real; /* the folder root, resolved on first use */
  size_t folder_real_len;
  /* logs */
  int64_t log_window_start;
  uint64_t log_window_count;
  /* scratch, preallocated */
  uint8_t *req_bufs;
  struct mmsghdr *rmm;
  struct iovec *riov;
  struct sockaddr_storage *rsa;
  uint8_t *rx;
  tftp_option *opts;
  size_t opts_cap;
  uint8_t *tx;
  struct mmsghdr *mm;
  struct iovec *iov;
  uint8_t (*hdr)[4];
  uint32_t mm_cap;
};

/* ---------- Layers: each file calls only files below it (test/tftp/native/c-layers.test.ts reads the calls) ----------
 *   tftp-engine.c                               API, request sockets, the loop, the timer sweep
 *   tftp-control.c                              frames from Node (FILE, REFUSE, FLUSH, STATS, STOP), STATS out
 *   tftp-requests.c                             the request path and its bounds
 *   tftp-opens.c                                pending opens (OPEN to Node, leaders and followers)
 *   tftp-transfer.c                             a transfer's whole life: start, machine, datagrams, finish, release
 *   tftp-pool.c  tftp-folder.c  tftp-config.c   transfer sockets; the plain folder; the configuration
 *   tftp-files.c                                the file cache
 *   tftp-log.c                                  frames and log lines to Node, refusals
 *   tftp-net.c                                  UDP sockets, ERROR packets, addresses as text
 *   tftp-packet.c  tftp-options.c               decode/encode, RFC 2347 negotiation
 *   tftp-text.c                                 string building
 */

/* Control frame types (tftp-control.c describes the framing). */
enum { F_FILE = 1, F_REFUSE = 2, F_FLUSH = 3, F_STATS = 4, F_STOP = 5, F_OPEN = 129, F_LOG = 130, F_STATS_OUT = 131 };

/* tftp-packet.c: a request datagram judged before any engine state (core/request.ts judgeRequest). */
enum { V_READ = 0, V_REFUSE, V_IGNORE, V_STRAY };
typedef struct {
  uint16_t tftp_code; /* V_REFUSE: the number and the stable code */
  const char *code;
  int netascii; /* V_READ */
} tftp_verdict;
int tftp_judge_request(uint8_t *buf, size_t len, const tftp_config *c, tftp_packet *pk, tftp_option *opts,
                       size_t opts_cap, tftp_verdict *v, sb *msg);

/* tftp-engine.c */
int64_t mono_ms(void);

/* tftp-net.c */
void peer_text(const peer *p, char *buf, size_t cap);
int udp_socket(int af);
void count_error(engine *e, uint16_t code);
void send_error_to(engine *e, int fd, const struct sockaddr *sa, socklen_t salen, uint16_t code, const char *msg,
                   size_t n);

/* tftp-log.c */
void control_send(engine *e, uint8_t type, const void *body, size_t n, int droppable);
void control_send_log(engine *e, const char *level, const char *event, const char *fields, size_t n);
void log_limited(engine *e, const char *event, const char *fields, size_t n);
void json_client(sb *s, const peer *p);
void log_fields_client_name(sb *s, const peer *p, const uint8_t *name, size_t n);
void errno_json(sb *s, const char *call, int err, char *msg, size_t msg_cap);
void request_dropped(engine *e, const peer *p, const uint8_t *name, size_t n, const char *reason);
/* Answer a request with an error from the request socket, and write its one log line. */
void request_refuse(engine *e, const request_socket *rs, const struct sockaddr_storage *sa, socklen_t salen,
                    const peer *p, uint16_t tftp_code, const char *code, size_t code_len, const char *msg, size_t n,
                    const uint8_t *name, size_t name_len);
void request_refuse_sb(engine *e, const request_socket *rs, const struct sockaddr_storage *sa, socklen_t salen,
                       const peer *p, uint16_t tftp_code, const char *code, const sb *msg, const uint8_t *name,
                       size_t name_len);

/* tftp-transfer.c */
void transfer_start(engine *e, transfer *t, file_entry *f, const tftp_option *opts, size_t nopts);
void transfer_begin(engine *e, transfer *t, const tftp_negotiated *n);
void transfer_receive(engine *e, transfer *t, uint8_t *buf, size_t len);
void transfer_datagram(engine *e, tsock *s, int fd);
void transfer_timeout(engine *e, transfer *t);
void transfer_socket_error(engine *e, tsock *s, const char *call, int err);
client_entry **transfer_client_find(engine *e, const peer *p);
transfer **transfer_unacked_find(engine *e, const peer *p, const uint8_t *name, size_t n);
void transfer_forget_request(engine *e, transfer *t);
/* Counters and the transfer-failed line of a transfer that ends; then transfer_release frees it. A transfer still
 * T_PENDING must leave the open table first (opens_release): tftp-requests.c does both. */
void transfer_account(engine *e, transfer *t, int ok, const char *reason, size_t n);
void transfer_release(engine *e, transfer *t);
void transfer_finish(engine *e, transfer *t, int ok, const char *reason, size_t n);

/* tftp-requests.c */
int requests_init(engine *e);
void requests_destroy(engine *e);
void request_datagram(engine *e, request_socket *rs, uint8_t *buf, size_t len, const struct sockaddr_storage *sa,
                      socklen_t salen);
void requests_release_all(engine *e);

/* tftp-folder.c: 1 = *out read (one reference is the caller's), -1 = refused (code, message in msg), 0 = ask Node */
int folder_open(engine *e, const uint8_t *name, size_t n, file_entry **out, uint16_t *tftp_code, const char **code,
                sb *msg);

/* tftp-opens.c */
int opens_has_leader(engine *e, const uint8_t *name, size_t n);
void opens_forward(engine *e, transfer *t, const uint8_t *opts, size_t opts_len);
void opens_release(engine *e, transfer *t);
void requests_on_file(engine *e, uint32_t req, file_entry *f, int cacheable);
void requests_on_refuse(engine *e, uint32_t req, uint16_t tftp_code, const char *code, size_t code_len,
                        const char *msg, size_t msg_len);

/* tftp-pool.c */
int pool_init(engine *e);
tsock *pool_take(engine *e, int req_sock, const char **err_call, int *err_no);
void pool_put_back(engine *e, tsock *s);
void pool_discard(engine *e, tsock *s);
void pool_sweep(engine *e);
/* An ICMP error for the connected peer (port or host unreachable), reported once on a later send or receive: the
 * packet is lost and the transfer's timer decides, as it would on an unconnected socket, which never sees these. */
static inline int pool_peer_gone(int err) { return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH; }
void pool_connect(tsock *s, const struct sockaddr_storage *sa, socklen_t salen);
void pool_close_all(engine *e);
void pool_bury(engine *e);

/* tftp-control.c */
int control_init(engine *e);
void control_destroy(engine *e);
int control_readable(engine *e); /* 0 ok, 1 EOF or STOP, -1 fatal */
int control_flush(engine *e);

#endif
