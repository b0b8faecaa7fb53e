/**
 * libsbdtls.so (native/tls-*.c) through koffi: where it is and its functions. The engine starts its own threads
 * (unlike the TFTP engine, which blocks in a call and so runs in a Node worker), so every call here returns at once.
 */
import { existsSync } from 'node:fs';
import koffi from 'koffi';
import { findNativeLibrary } from '../lib/native-library.js';
import { TlsEngineError, TlsEngineErrorCode } from './errors.js';

export interface TlsEngineApi {
  create: (config: string, err: Buffer, errLen: number) => unknown;
  setIdentity: (
    e: unknown,
    cert: string,
    key: string,
    ca: string,
    ciphers: string,
    suites: string,
    minVersion: number,
    /** SBD_TLS_REQUIRE_CERT (1) | SBD_TLS_ADMIT_UNVERIFIED (2), native/tls-engine.h. */
    clientFlags: number,
    err: Buffer,
    errLen: number,
  ) => number;
  /** The trunk dial-out: registers a CA bundle (PEM), its id for dial frames; -1 and err (native/tls-dial.c). */
  trust: (e: unknown, ca: string, err: Buffer, errLen: number) => number;
  start: (e: unknown) => number;
  local: (e: unknown, buf: Buffer, len: number) => number;
  /** After start: how many workers, and Node's end of worker i's stream (native/tls-mux.c). */
  workers: (e: unknown) => number;
  streamFd: (e: unknown, i: number) => number;
  stats: (e: unknown, buf: Buffer, len: number) => number;
  rotateTickets: (e: unknown) => void;
  stopAccepting: (e: unknown) => void;
  free: (e: unknown) => void;
}

let api: TlsEngineApi | undefined;

/** Path of libsbdtls.so, or undefined when it is not built. */
export function tlsEngineLibraryPath(): string | undefined {
  return findNativeLibrary('libsbdtls.so').path;
}

/** Whether the engine can run here. */
export function tlsEngineAvailable(): boolean {
  return tlsEngineLibraryPath() !== undefined;
}

/**
 * The TLS path a listener takes when its options name none: the engine where libsbdtls.so is built (the image,
 * any checkout after `make -C native`), else node:tls (a checkout without libssl-dev still runs). The engine
 * serves more connections per second than node:tls on every bench row (docs/tls.md "Bench").
 */
export function defaultTlsEngine(): 'node' | 'native' {
  return tlsEngineAvailable() ? 'native' : 'node';
}

/** Where the kernel's TLS ULP is loaded (the `tls` module; the image loads it at boot): /proc/net/tls_stat exists. */
export function kernelTlsAvailable(statFile = '/proc/net/tls_stat'): boolean {
  return existsSync(statFile);
}

/**
 * The library's functions, loaded on first use. `ktls`: bind it to the system OpenSSL (the only one that does kTLS
 * here) rather than Node's; the first load in a process decides for every engine in it.
 */
export function tlsEngineApi(o: { ktls?: boolean } = {}): TlsEngineApi {
  if (api) return api;
  const path = tlsEngineLibraryPath();
  if (!path) {
    throw new TlsEngineError(
      TlsEngineErrorCode.missing,
      `the native TLS engine is not built (looked for ${findNativeLibrary('libsbdtls.so').candidates.join(', ')}; run "make -C native", which needs libssl-dev)`,
    );
  }
  // The node executable exports its own OpenSSL, built without kTLS: loaded plainly, the engine's SSL_* calls bind
  // to that copy (found by test/image/ktls.test.ts), which makes a handshake ~30 % cheaper than the system's libssl
  // (bare TVS-sized exchange, resumed: worker 420-450 µs against 630-640 µs, same load). With kTLS asked for,
  // RTLD_DEEPBIND binds them to the system libssl it was linked against, which can hand sessions to the kernel.
  // AddressSanitizer's runtime refuses DEEPBIND: an ASan run (LD_PRELOAD=…libasan…) always loads it plainly.
  const deep = (o.ktls ?? false) && !/libasan/.test(process.env.LD_PRELOAD ?? '');
  const lib = koffi.load(path, { deep });
  api = {
    create: lib.func('void *sbd_tls_engine_new(const char *config, uint8_t *err, int errlen)'),
    setIdentity: lib.func(
      'int sbd_tls_engine_set_identity(void *e, const char *cert, const char *key, const char *ca, const char *ciphers, const char *suites, int min, int client_flags, uint8_t *err, int errlen)',
    ),
    trust: lib.func('int sbd_tls_engine_trust(void *e, const char *ca, uint8_t *err, int errlen)'),
    start: lib.func('int sbd_tls_engine_start(void *e)'),
    local: lib.func('int sbd_tls_engine_local(void *e, uint8_t *buf, int len)'),
    workers: lib.func('int sbd_tls_engine_workers(void *e)'),
    streamFd: lib.func('int sbd_tls_engine_stream_fd(void *e, int i)'),
    stats: lib.func('int sbd_tls_engine_stats(void *e, uint8_t *buf, int len)'),
    rotateTickets: lib.func('void sbd_tls_engine_rotate_tickets(void *e)'),
    stopAccepting: lib.func('void sbd_tls_engine_stop_accepting(void *e)'),
    free: lib.func('void sbd_tls_engine_free(void *e)'),
  };
  return api;
}

/** The NUL-terminated message the engine wrote into `err`. */
export function engineMessage(err: Buffer): string {
  const end = err.indexOf(0);
  return err.toString('utf8', 0, end < 0 ? err.length : end) || 'unknown error';
}
