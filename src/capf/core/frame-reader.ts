/**
 * Stream framing for CAPF over TLS. The header is checked as soon as its bytes are in: a wrong protocol id fails on
 * byte 0 and an oversized body at the length field, so garbage never makes us buffer more than `maxBodyBytes`.
 */
import { CapfError, CapfErrorCode, localError } from './errors.js';
import { CAPF_HEADER_BYTES, CAPF_MAX_BODY_BYTES, checkHeaderPrefix, decodeHeader, type CapfFrame, type CapfHeader } from './frame.js';

export interface CapfFrameReaderOptions {
  /**
   * Largest body accepted. Default 16384: the biggest message, AUTH_RESPONSE with MIC auth, carries a certificate,
   * two signatures and SUDI data (another certificate and two signatures), about 6 KB with RSA-4096.
   */
  maxBodyBytes?: number;
}
export const CAPF_FRAME_READER_DEFAULTS = { maxBodyBytes: 16384 } as const;

export class CapfFrameReader {
  readonly maxBodyBytes: number;
  // Pieces not yet a whole frame, joined only once a header or a whole frame is in: a peer sending one byte at a
  // time costs linear work, not a copy of everything held per byte (Buffer.concat on every push was quadratic).
  #chunks: Buffer[] = [];
  #held = 0;
  #header: CapfHeader | undefined;
  #failed: CapfError | undefined;

  constructor(options: CapfFrameReaderOptions = {}) {
    const max = options.maxBodyBytes ?? CAPF_FRAME_READER_DEFAULTS.maxBodyBytes;
    if (!Number.isInteger(max) || max < 0 || max > CAPF_MAX_BODY_BYTES)
      throw localError(CapfErrorCode.argument, `maxBodyBytes must be 0..${CAPF_MAX_BODY_BYTES}, got ${max}`);
    this.maxBodyBytes = max;
  }

  get pendingBytes(): number {
    return this.#held;
  }

  #joined(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#held)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  push(chunk: Uint8Array): CapfFrame[] {
    if (this.#failed) throw this.#failed;
    try {
      if (chunk.length > 0) {
        this.#chunks.push(Buffer.from(chunk));
        this.#held += chunk.length;
      }
      const frames: CapfFrame[] = [];
      for (;;) {
        if (!this.#header) {
          if (this.#held === 0) return frames;
          checkHeaderPrefix(this.#chunks[0]!);
          if (this.#held < CAPF_HEADER_BYTES) return frames;
          const h = decodeHeader(this.#joined());
          if (h.bodyLength > this.maxBodyBytes)
            throw new CapfError(
              CapfErrorCode.frameTooLarge,
              `frame body of ${h.bodyLength} bytes exceeds the limit of ${this.maxBodyBytes}`,
            );
          this.#header = h;
        }
        const total = CAPF_HEADER_BYTES + this.#header.bodyLength;
        if (this.#held < total) return frames;
        const buf = this.#joined();
        frames.push({ header: this.#header, body: Buffer.from(buf.subarray(CAPF_HEADER_BYTES, total)) });
        const rest = buf.subarray(total);
        this.#chunks = rest.length > 0 ? [rest] : [];
        this.#held = rest.length;
        this.#header = undefined;
      }
    } catch (err) {
      this.#failed = err as CapfError;
      this.#chunks = [];
      this.#held = 0;
      throw err;
    }
  }

  /** The stream ended: a partial frame is ERR_CAPF_TRUNCATED. */
  end(): void {
    if (this.#failed || this.#held === 0) return;
    const want = this.#header ? CAPF_HEADER_BYTES + this.#header.bodyLength : CAPF_HEADER_BYTES;
    throw new CapfError(CapfErrorCode.truncated, `stream ended after ${this.#held} of ${want} bytes of a frame`);
  }
}
