/* libsbdtls.so: the TLS engine's API, bound through koffi by src/tls/engine-library.ts. */
#ifndef SBD_TLS_ENGINE_H
#define SBD_TLS_ENGINE_H
#include <stdint.h>
#define SBD_TLS_API __attribute__((visibility("default")))
typedef struct sbd_tls_engine sbd_tls_engine;
/* Config: `key=value` lines (host, port, workers, max_connections, max_per_source, handshake_timeout_ms, linger_ms,
 * ticket_rotation_s, ktls, backlog, window: bytes in flight per connection and direction on the stream to Node). Binds and listens; NULL and a one-line reason in err on failure. */
SBD_TLS_API sbd_tls_engine *sbd_tls_engine_new(const char *config, uint8_t *err, int errlen);
/* With a client CA (`ca` not ""): a client without a certificate fails the handshake; a certificate that does not
 * verify is admitted (SIP's "request" mode: the registrar decides) and reported as not verified on the C line. */
#define SBD_TLS_REQUIRE_CERT 1
#define SBD_TLS_ADMIT_UNVERIFIED 2
/* A new SSL_CTX for connections accepted from now on (the certificate reload). client_flags: SBD_TLS_* above.
 * 0, or -1 and err. */
SBD_TLS_API int sbd_tls_engine_set_identity(sbd_tls_engine *e, const char *cert, const char *key, const char *ca,
                                            const char *ciphers, const char *suites, int min_version, int client_flags,
                                            uint8_t *err, int errlen);
/* The trunk dial-out: registers a CA bundle (PEM; cached by its SHA-256) that DIAL frames name by the id returned;
 * -1 and err when it holds no certificate. Peers of dialed connections are verified against it. */
SBD_TLS_API int sbd_tls_engine_trust(sbd_tls_engine *e, const char *ca, uint8_t *err, int errlen);
SBD_TLS_API int sbd_tls_engine_start(sbd_tls_engine *e);
SBD_TLS_API int sbd_tls_engine_local(sbd_tls_engine *e, uint8_t *buf, int len);
/* After start: the number of workers, and Node's end of worker i's stream (once; Node owns and closes it). */
SBD_TLS_API int sbd_tls_engine_workers(sbd_tls_engine *e);
SBD_TLS_API int sbd_tls_engine_stream_fd(sbd_tls_engine *e, int i);
SBD_TLS_API int sbd_tls_engine_stats(sbd_tls_engine *e, uint8_t *buf, int len);
SBD_TLS_API void sbd_tls_engine_rotate_tickets(sbd_tls_engine *e);
SBD_TLS_API void sbd_tls_engine_stop_accepting(sbd_tls_engine *e);
SBD_TLS_API void sbd_tls_engine_free(sbd_tls_engine *e);
#endif
