/**
 * The koffi binding of native/build/libsbdsrtp.so (built by `make -C native`, see native/srtp.mk). The helper
 * links the same libcrypto.so.3 that node:crypto and native/libcrypto.ts use. SBD_NATIVE_DIR overrides where
 * the library is looked for (the image installs it next to the daemons).
 */
import koffi from 'koffi';
import { MediaErrorCode } from '../errors.js';
import { SrtpError } from './errors.js';
import { findNativeLibrary } from '../../lib/native-library.js';

export interface SrtpNative {
  create: (
    suite: number,
    key: Buffer,
    keyLen: number,
    salt: Buffer,
    saltLen: number,
    mki: Buffer | null,
    mkiLen: number,
    window: number,
    maxSsrcs: number,
    backend: number,
    flags: number,
    err: number[],
  ) => unknown;
  free: (ctx: unknown) => void;
  protect: (ctx: unknown, pkt: Uint8Array, len: number, cap: number) => number;
  unprotect: (ctx: unknown, pkt: Uint8Array, len: number) => number;
  protectRtcp: (ctx: unknown, pkt: Uint8Array, len: number, cap: number) => number;
  unprotectRtcp: (ctx: unknown, pkt: Uint8Array, len: number) => number;
  batch: (
    ctx: unknown,
    op: number,
    arena: Uint8Array,
    arenaLen: number,
    offsets: Int32Array,
    lens: Int32Array,
    caps: Int32Array,
    n: number,
  ) => number;
  stats: (ctx: unknown, out: Float64Array) => void;
  getRoc: (ctx: unknown, ssrc: number) => number | bigint;
  setRoc: (ctx: unknown, ssrc: number, roc: number) => number;
  backendAvailable: (backend: number) => number;
  gcmBuiltin: (ctx: unknown) => number;
  /** Hot-path twins taking plain numbers: the context's and the packet's addresses (see addressOf). */
  protectAt: (ctx: number, pkt: number, len: number, cap: number) => number;
  unprotectAt: (ctx: number, pkt: number, len: number) => number;
  protectRtcpAt: (ctx: number, pkt: number, len: number, cap: number) => number;
  unprotectRtcpAt: (ctx: number, pkt: number, len: number) => number;
  batchAt: (ctx: number, op: number, arena: number, arenaLen: number, offsets: number, lens: number, caps: number, n: number) => number;
  addressOf: (buf: Uint8Array) => number | bigint;
  kdf: (backend: number, key: Buffer, keyLen: number, salt: Buffer, saltLen: number, label: number, out: Buffer, outLen: number) => number;
}

let cached: SrtpNative | undefined;

/** Where the shared library is (src/lib/native-library.ts). */
export function nativeLibraryPath(): string {
  const { path, candidates } = findNativeLibrary('libsbdsrtp.so');
  if (!path) {
    throw new SrtpError(
      MediaErrorCode.srtpNativeMissing,
      `native SRTP helper not built (run "make -C native"); looked in ${candidates.join(', ')}`,
    );
  }
  return path;
}

/**
 * The address of an off-heap buffer's bytes as a number. Only for memory whose backing store never moves and
 * that the caller keeps referenced: Buffers from Buffer.alloc and views over them (see PacketBuffer).
 */
export function addressOf(buf: Uint8Array): number {
  return Number(srtpNative().addressOf(buf));
}

export function srtpNative(): SrtpNative {
  if (cached) return cached;
  const lib = koffi.load(nativeLibraryPath());
  cached = {
    create: lib.func(
      'void *sbd_srtp_new(int suite, const uint8_t *key, int key_len, const uint8_t *salt, int salt_len, const uint8_t *mki, int mki_len, int replay_window, int max_ssrcs, int backend, int flags, _Out_ int *err)',
    ),
    free: lib.func('void sbd_srtp_free(void *ctx)'),
    protect: lib.func('int sbd_srtp_protect(void *ctx, uint8_t *pkt, int len, int cap)'),
    unprotect: lib.func('int sbd_srtp_unprotect(void *ctx, uint8_t *pkt, int len)'),
    protectRtcp: lib.func('int sbd_srtp_protect_rtcp(void *ctx, uint8_t *pkt, int len, int cap)'),
    unprotectRtcp: lib.func('int sbd_srtp_unprotect_rtcp(void *ctx, uint8_t *pkt, int len)'),
    batch: lib.func(
      'int sbd_srtp_batch(void *ctx, int op, uint8_t *arena, int64_t arena_len, const int32_t *offsets, int32_t *lens, const int32_t *caps, int n)',
    ),
    stats: lib.func('void sbd_srtp_stats(void *ctx, double *out)'),
    getRoc: lib.func('int64_t sbd_srtp_get_roc(void *ctx, uint32_t ssrc)'),
    setRoc: lib.func('int sbd_srtp_set_roc(void *ctx, uint32_t ssrc, uint32_t roc)'),
    backendAvailable: lib.func('int sbd_srtp_backend_available(int backend)'),
    gcmBuiltin: lib.func('int sbd_srtp_gcm_builtin(void *ctx)'),
    protectAt: lib.func('int sbd_srtp_protect(uintptr_t ctx, uintptr_t pkt, int len, int cap)'),
    unprotectAt: lib.func('int sbd_srtp_unprotect(uintptr_t ctx, uintptr_t pkt, int len)'),
    protectRtcpAt: lib.func('int sbd_srtp_protect_rtcp(uintptr_t ctx, uintptr_t pkt, int len, int cap)'),
    unprotectRtcpAt: lib.func('int sbd_srtp_unprotect_rtcp(uintptr_t ctx, uintptr_t pkt, int len)'),
    batchAt: lib.func(
      'int sbd_srtp_batch(uintptr_t ctx, int op, uintptr_t arena, int64_t arena_len, uintptr_t offsets, uintptr_t lens, uintptr_t caps, int n)',
    ),
    addressOf: lib.func('uintptr_t sbd_address_of(const uint8_t *p)'),
    kdf: lib.func(
      'int sbd_srtp_kdf(int backend, const uint8_t *key, int key_len, const uint8_t *salt, int salt_len, int label, uint8_t *out, int out_len)',
    ),
  } as SrtpNative;
  return cached;
}
