/**
 * One SRTP/SRTCP cryptographic context (RFC 3711 §3.2): the session keys derived once from one master key and
 * salt, the crypto handles of one backend created once, and the per-SSRC state (ROC, replay window, SRTCP
 * index). A context protects (sender) or unprotects (receiver); use one per direction. The packet transform
 * runs in the native helper, one call per packet or one per batch, with no allocation on the way.
 *
 * Errors: every rejected packet throws an SrtpError with a stable code and is counted in `stats()`; the
 * in-place and batch calls report the same as negative results instead of throwing (receivers drop quietly).
 */
import koffi from 'koffi';
import { srtpNative, type SrtpNative } from './native.js';
import type { PacketBuffer } from './packet-buffer.js';
import { MediaErrorCode } from '../errors.js';
import { SrtpError, srtpErrorFromNative } from './errors.js';
import { SUITES, type Suite } from '../../sdp/suites.js';
import type { PacketBatch } from './batch.js';

export const BACKENDS = { openssl: 0, af_alg: 1 } as const;
export type Backend = keyof typeof BACKENDS;

export interface SrtpPolicy {
  suite: Suite;
  /** Master key (16, 24 or 32 bytes per suite). */
  masterKey: Uint8Array;
  /** Master salt (14 bytes; 12 for the AEAD suites). */
  masterSalt: Uint8Array;
  /** Master key identifier carried in each packet (RFC 3711 §3.1), 0–128 bytes. Default: none. */
  mki?: Uint8Array;
  /** Replay window size in packets (RFC 3711 §3.3.2: at least 64). Default 128, at most 32768. */
  replayWindow?: number;
  /** SSRCs one context keeps state for; a packet from one more is rejected (ERR_SRTP_SSRC_LIMIT). Default 16. */
  maxSsrcs?: number;
  /** Crypto backend. Default 'openssl'. */
  backend?: Backend;
  /** Test vectors only: masterKey/masterSalt are the session key and salt; no key derivation. */
  sessionKeys?: boolean;
  /**
   * OpenSSL backend, AEAD suites, packets too long for the keystream path (payload over ~1,500 bytes): 'builtin'
   * (default) runs them on libcrypto's built-in stitched AES-GCM without the provider layer where this libcrypto
   * allows it (native/srtp-builtin-gcm.c), 'provider' always through the default provider. Same bytes; tests
   * compare the two.
   */
  evpGcm?: EvpGcm;
}

export type EvpGcm = 'builtin' | 'provider';
const FLAG_SESSION_KEYS = 1,
  FLAG_PROVIDER_GCM = 2;
const NATIVE_E_PARAM = -1; // SBD_E_PARAM (native/srtp.h)

export const DEFAULT_REPLAY_WINDOW = 128;
export const DEFAULT_MAX_SSRCS = 16;

export interface SrtpStats {
  rtpProtected: number;
  rtpUnprotected: number;
  rtcpProtected: number;
  rtcpUnprotected: number;
  authFailures: number;
  replays: number;
  replaysTooOld: number;
  malformed: number;
  mkiMismatches: number;
  otherErrors: number;
}

const STAT_NAMES: (keyof SrtpStats)[] = [
  'rtpProtected',
  'rtpUnprotected',
  'rtcpProtected',
  'rtcpUnprotected',
  'authFailures',
  'replays',
  'replaysTooOld',
  'malformed',
  'mkiMismatches',
  'otherErrors',
];

const OP = { protectRtp: 0, unprotectRtp: 1, protectRtcp: 2, unprotectRtcp: 3 } as const;

const registry = new FinalizationRegistry<{ ptr: unknown; n: SrtpNative }>((h) => h.n.free(h.ptr));

function checkBytes(name: string, v: Uint8Array, allowed: readonly number[]): void {
  if (!(v instanceof Uint8Array) || !allowed.includes(v.length)) {
    throw new SrtpError(MediaErrorCode.srtpKeyLength, `${name} must be ${allowed.join(' or ')} bytes, got ${v?.length ?? typeof v}`);
  }
}

export class SrtpContext {
  readonly suite: Suite;
  readonly backend: Backend;
  readonly rtpOverhead: number;
  readonly rtcpOverhead: number;
  #ptr: unknown;
  #addr = 0;
  readonly #n: SrtpNative;
  readonly #token = {};
  readonly #stats = new Float64Array(STAT_NAMES.length);

  constructor(policy: SrtpPolicy) {
    const params = SUITES[policy.suite];
    if (!params) throw new SrtpError(MediaErrorCode.srtpSuite, `unknown SRTP crypto suite "${String(policy.suite)}"`);
    const backend = policy.backend ?? 'openssl';
    if (!Object.hasOwn(BACKENDS, backend)) throw new SrtpError(MediaErrorCode.srtpParam, `unknown backend "${backend}"`);
    const window = policy.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    const maxSsrcs = policy.maxSsrcs ?? DEFAULT_MAX_SSRCS;
    if (!Number.isInteger(window) || window < 64 || window > 32768) {
      throw new SrtpError(MediaErrorCode.srtpParam, `replayWindow must be an integer from 64 to 32768, got ${window}`);
    }
    if (!Number.isInteger(maxSsrcs) || maxSsrcs < 1 || maxSsrcs > 65536) {
      throw new SrtpError(MediaErrorCode.srtpParam, `maxSsrcs must be an integer from 1 to 65536, got ${maxSsrcs}`);
    }
    checkBytes('master key', policy.masterKey, [params.keyLength]);
    checkBytes('master salt', policy.masterSalt, policy.sessionKeys ? [4, 12, 14] : [params.saltLength]);
    const evpGcm = policy.evpGcm ?? 'builtin';
    if (evpGcm !== 'builtin' && evpGcm !== 'provider')
      throw new SrtpError(MediaErrorCode.srtpParam, `evpGcm must be "builtin" or "provider", got "${String(evpGcm)}"`);
    const mki = policy.mki ?? new Uint8Array(0);
    if (mki.length > 128) throw new SrtpError(MediaErrorCode.srtpParam, `MKI must be at most 128 bytes, got ${mki.length}`);
    this.#n = srtpNative();
    const err = [0];
    const ptr = this.#n.create(
      params.id,
      Buffer.from(policy.masterKey),
      params.keyLength,
      Buffer.from(policy.masterSalt),
      policy.masterSalt.length,
      mki.length ? Buffer.from(mki) : null,
      mki.length,
      window,
      maxSsrcs,
      BACKENDS[backend],
      (policy.sessionKeys ? FLAG_SESSION_KEYS : 0) | (evpGcm === 'provider' ? FLAG_PROVIDER_GCM : 0),
      err,
    );
    if (!ptr) throw srtpErrorFromNative(err[0] ?? -1, `creating ${policy.suite} context on ${backend}`);
    this.#ptr = ptr;
    this.#addr = Number(koffi.address(ptr));
    this.suite = policy.suite;
    this.backend = backend;
    this.rtpOverhead = params.rtpTagLength + mki.length;
    this.rtcpOverhead = 4 + params.rtcpTagLength + mki.length;
    registry.register(this, { ptr, n: this.#n }, this.#token);
  }

  /** How long AEAD packets reach AES-GCM (see SrtpPolicy.evpGcm); undefined for the other suites and AF_ALG. */
  get evpGcm(): EvpGcm | undefined {
    if (SUITES[this.suite].cipher !== 'gcm' || this.backend !== 'openssl') return undefined;
    return this.#n.gcmBuiltin(this.#handle()) === 1 ? 'builtin' : 'provider';
  }

  /** Whether a backend can run here (AF_ALG needs a kernel with the kernel crypto API sockets). */
  static backendAvailable(backend: Backend): boolean {
    return srtpNative().backendAvailable(BACKENDS[backend]) === 1;
  }

  #handle(): unknown {
    if (!this.#ptr) throw new SrtpError(MediaErrorCode.srtpClosed, 'SRTP context is closed');
    return this.#ptr;
  }

  #address(): number {
    if (!this.#addr) throw new SrtpError(MediaErrorCode.srtpClosed, 'SRTP context is closed');
    return this.#addr;
  }

  /**
   * The fastest per-packet call: the RTP packet is `pb.bytes[offset .. offset+length)`, the rest of the
   * buffer is room for the tag. Returns the SRTP length or a negative native code (no throw).
   */
  protectPacket(pb: PacketBuffer, offset: number, length: number): number {
    const cap = pb.bytes.length - offset;
    if (!(offset >= 0 && length >= 0 && length <= cap)) throw new SrtpError(MediaErrorCode.srtpParam, 'packet outside the buffer');
    return this.#n.protectAt(this.#address(), pb.address + offset, length, cap);
  }

  /** As protectPacket, for receiving: returns the RTP length or a negative native code. */
  unprotectPacket(pb: PacketBuffer, offset: number, length: number): number {
    if (!(offset >= 0 && length >= 0 && offset + length <= pb.bytes.length))
      throw new SrtpError(MediaErrorCode.srtpParam, 'packet outside the buffer');
    return this.#n.unprotectAt(this.#address(), pb.address + offset, length);
  }

  protectRtcpPacket(pb: PacketBuffer, offset: number, length: number): number {
    const cap = pb.bytes.length - offset;
    if (!(offset >= 0 && length >= 0 && length <= cap)) throw new SrtpError(MediaErrorCode.srtpParam, 'packet outside the buffer');
    return this.#n.protectRtcpAt(this.#address(), pb.address + offset, length, cap);
  }

  unprotectRtcpPacket(pb: PacketBuffer, offset: number, length: number): number {
    if (!(offset >= 0 && length >= 0 && offset + length <= pb.bytes.length))
      throw new SrtpError(MediaErrorCode.srtpParam, 'packet outside the buffer');
    return this.#n.unprotectRtcpAt(this.#address(), pb.address + offset, length);
  }

  /** RTP → SRTP in a new buffer. */
  protect(rtp: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(rtp.length + this.rtpOverhead);
    out.set(rtp);
    const r = this.#n.protect(this.#handle(), out, rtp.length, out.length);
    if (r < 0) throw srtpErrorFromNative(r, 'protect RTP');
    return out.subarray(0, r);
  }

  /** SRTP → RTP in a new buffer (the input is left as it was). */
  unprotect(srtp: Uint8Array): Buffer {
    const out = Buffer.from(srtp);
    const r = this.#n.unprotect(this.#handle(), out, out.length);
    if (r < 0) throw srtpErrorFromNative(r, 'unprotect RTP');
    return out.subarray(0, r);
  }

  protectRtcp(rtcp: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(rtcp.length + this.rtcpOverhead);
    out.set(rtcp);
    const r = this.#n.protectRtcp(this.#handle(), out, rtcp.length, out.length);
    if (r < 0) throw srtpErrorFromNative(r, 'protect RTCP');
    return out.subarray(0, r);
  }

  unprotectRtcp(srtcp: Uint8Array): Buffer {
    const out = Buffer.from(srtcp);
    const r = this.#n.unprotectRtcp(this.#handle(), out, out.length);
    if (r < 0) throw srtpErrorFromNative(r, 'unprotect RTCP');
    return out.subarray(0, r);
  }

  /**
   * In place: `buf[0..length)` holds an RTP packet and `buf` has room for the overhead behind it. Returns the
   * SRTP length, or a negative native code (see errors.ts) without throwing. The hot path of senders.
   */
  protectInPlace(buf: Uint8Array, length: number): number {
    if (!(length >= 0 && length <= buf.length)) throw new SrtpError(MediaErrorCode.srtpParam, 'length outside the buffer');
    return this.#n.protect(this.#handle(), buf, length, buf.length);
  }

  /** In place; returns the RTP length or a negative native code. On failure the bytes are unspecified. */
  unprotectInPlace(buf: Uint8Array, length: number): number {
    if (!(length >= 0 && length <= buf.length)) throw new SrtpError(MediaErrorCode.srtpParam, 'length outside the buffer');
    return this.#n.unprotect(this.#handle(), buf, length);
  }

  protectRtcpInPlace(buf: Uint8Array, length: number): number {
    if (!(length >= 0 && length <= buf.length)) throw new SrtpError(MediaErrorCode.srtpParam, 'length outside the buffer');
    return this.#n.protectRtcp(this.#handle(), buf, length, buf.length);
  }

  unprotectRtcpInPlace(buf: Uint8Array, length: number): number {
    if (!(length >= 0 && length <= buf.length)) throw new SrtpError(MediaErrorCode.srtpParam, 'length outside the buffer');
    return this.#n.unprotectRtcp(this.#handle(), buf, length);
  }

  /** Protects every packet of the batch in one native call; per-packet results land in `batch.lengths`. */
  protectBatch(batch: PacketBatch): number {
    return this.#batch(OP.protectRtp, batch);
  }

  unprotectBatch(batch: PacketBatch): number {
    return this.#batch(OP.unprotectRtp, batch);
  }

  protectRtcpBatch(batch: PacketBatch): number {
    return this.#batch(OP.protectRtcp, batch);
  }

  unprotectRtcpBatch(batch: PacketBatch): number {
    return this.#batch(OP.unprotectRtcp, batch);
  }

  #batch(op: number, b: PacketBatch): number {
    const n = b.count;
    if (!Number.isInteger(n) || n < 0 || n > b.maxPackets) {
      throw new SrtpError(MediaErrorCode.srtpParam, `batch count ${n} outside 0..${b.maxPackets}`);
    }
    const a = b.addresses;
    // the native side checks every slot against the arena before touching any (b.validate() in JavaScript
    // cost ~5 ns a packet); on a bad slot nothing is done and validate() names it
    const r = this.#n.batchAt(this.#address(), op, a.arena, b.arena.length, a.offsets, a.lengths, a.capacities, n);
    if (r === NATIVE_E_PARAM) {
      b.validate();
      throw new SrtpError(MediaErrorCode.srtpParam, 'batch slot outside the arena');
    }
    return r;
  }

  /** The ROC of an SSRC's RTP stream, or undefined before its first packet (RFC 3711 §3.3.1). */
  roc(ssrc: number): number | undefined {
    const r = Number(this.#n.getRoc(this.#handle(), ssrc >>> 0));
    return r < 0 ? undefined : r;
  }

  /** Sets the ROC an SSRC's stream starts from (a receiver joining a stream in progress). */
  setRoc(ssrc: number, roc: number): void {
    if (!Number.isInteger(roc) || roc < 0 || roc > 0xffffffff) throw new SrtpError(MediaErrorCode.srtpParam, `ROC out of range: ${roc}`);
    const r = this.#n.setRoc(this.#handle(), ssrc >>> 0, roc);
    if (r < 0) throw srtpErrorFromNative(r, 'set ROC');
  }

  stats(): SrtpStats {
    this.#n.stats(this.#handle(), this.#stats);
    const out = {} as SrtpStats;
    STAT_NAMES.forEach((k, i) => (out[k] = this.#stats[i]!));
    return out;
  }

  /** Frees the native context (keys are wiped). Further calls throw ERR_SRTP_CLOSED. */
  close(): void {
    if (!this.#ptr) return;
    registry.unregister(this.#token);
    this.#n.free(this.#ptr);
    this.#ptr = undefined;
    this.#addr = 0;
  }
}
