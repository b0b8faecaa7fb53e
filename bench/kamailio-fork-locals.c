/*
 * bench/kamailio-fork-locals.c: LD_PRELOAD'ed into Kamailio 5.6 by bench/sip-kamailio.ts so that more than one
 * TLS worker survives a storm on OpenSSL 3.
 *
 * Why: OpenSSL 3 keeps per-thread state (the RAND DRBGs, the error queue) behind pthread keys. Kamailio's main
 * process creates it while it loads tls.so, in shared memory (its CRYPTO_set_mem_functions), and then forks its
 * workers: every child inherits the same key values and so the same DRBG objects, which two TLS workers then use
 * at once without a lock — the double frees and corrupted fragments of Kamailio issues #3635/#3791
 * (`qm_free(): BUG: freeing already freed pointer … tls_init.c`). Kamailio 5.8 fixed it with `tls_threads_mode = 2`
 * (clear thread-locals in the child after fork); 5.6.3, what Debian 12 ships, has no such setting. This does the
 * same from outside: after each fork the child forgets every thread-local value it inherited, so OpenSSL builds
 * its own per-process state on first use. Kamailio's processes are single-threaded and keep nothing of their own
 * behind pthread keys.
 */
#include <limits.h>
#include <pthread.h>

static void forget_inherited_locals(void) {
  for (pthread_key_t k = 0; k < PTHREAD_KEYS_MAX; k++)
    if (pthread_getspecific(k) != NULL) pthread_setspecific(k, NULL);
}

__attribute__((constructor)) static void install(void) { pthread_atfork(NULL, NULL, forget_inherited_locals); }
