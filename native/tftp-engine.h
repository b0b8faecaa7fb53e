/*
 * sbd-tftpd's native data plane: a TFTP read-only server (RFC 1350, RFC 2347/2348/2349, RFC 7440) that owns every
 * socket (request sockets and one transfer socket per running transfer) and runs each transfer in C, while Node
 * answers cache misses (file name → bytes), writes the log lines and reads the counters over a control socketpair.
 * Behaviour mirrors src/tftp/server.ts and src/tftp/core/ (same error codes, messages, `code` strings, counters and
 * log events). Loaded through koffi by src/tftp/native-server.ts.
 *
 * Threads: `new`, `start`, `join` and `free` run on Node's main thread, `run` on one other thread (the engine's own,
 * made by `start`: no Node worker and its V8 isolate); the engine has no global state, so several engines may live
 * in one process.
 */
#ifndef SBD_TFTP_ENGINE_H
#define SBD_TFTP_ENGINE_H

#define SBD_TFTP_API __attribute__((visibility("default")))

typedef struct sbd_tftp_engine sbd_tftp_engine;

/* config: "key=value\n" lines (tftp-config.c lists the keys and defaults). Creates and binds every request socket
 * now (so a bind error is reported here) and the control socketpair. NULL on error with a one-line message in err. */
SBD_TFTP_API sbd_tftp_engine *sbd_tftp_engine_new(const char *config, char *err, int errlen);
/* Number of request sockets, and "family address port" of socket i (e.g. "4 127.0.0.1 40123", "6 :: 69").
 * sbd_tftp_engine_local returns the text length, or -1 when i is out of range or buf too small. */
SBD_TFTP_API int sbd_tftp_engine_sockets(sbd_tftp_engine *e);
SBD_TFTP_API int sbd_tftp_engine_local(sbd_tftp_engine *e, int i, char *buf, int len);
/* Node's end of the control socketpair (SOCK_STREAM, non-blocking, CLOEXEC). Node owns and closes it. */
SBD_TFTP_API int sbd_tftp_engine_control_fd(sbd_tftp_engine *e);
/* Runs the loop on the calling thread until a STOP frame or EOF on the control socket; closes every socket it
 * owns. Returns 0, or -1 on a fatal error (then a final LOG frame with level "error" says why, when possible). */
SBD_TFTP_API int sbd_tftp_engine_run(sbd_tftp_engine *e);
/* Runs the loop on a thread of its own (every signal blocked there). 0, or -errno when no thread could be made. */
SBD_TFTP_API int sbd_tftp_engine_start(sbd_tftp_engine *e);
/* Waits for that thread (it ends as `run` does: STOP or EOF on the control socket) and returns what `run` returned;
 * 0 when no thread runs. */
SBD_TFTP_API int sbd_tftp_engine_join(sbd_tftp_engine *e);
/* Joins the thread first if one was started and not joined. */
SBD_TFTP_API void sbd_tftp_engine_free(sbd_tftp_engine *e);
/* The defaults of every numeric config key as "key=value\n" lines (a test compares them with TypeScript's). The text
 * length, or -1 when buf is too small. */
SBD_TFTP_API int sbd_tftp_engine_defaults(char *buf, int len);
/* Test entry (test/tftp/vectors.test.ts runs the same vectors through src/tftp/core/request.ts firstReply): the first
 * packet the request `req` draws from a file of `file_size` bytes under `config` (the request checks, then RFC 2347
 * negotiation), written to out. Its length; 0: no option acknowledged, DATA 1 follows; -1: nothing is sent; -2: bad
 * config or out too small. No socket, no engine. */
SBD_TFTP_API int sbd_tftp_first_reply(const char *config, const unsigned char *req, int len, double file_size,
                                      unsigned char *out, int cap);

#endif
