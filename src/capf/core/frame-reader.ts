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
  #buf: Buffer = Buffer.alloc(0);
  #header: CapfHeader | undefined;
  #failed: CapfError | undefined;

  constructor(options: CapfFrameReaderOptions = {}) {
    const max = options.maxBodyBytes ?? CAPF_FRAME_READER_DEFAULTS.maxBodyBytes;
    if (!Number.isInteger(max) || max < 0 || max > CAPF_MAX_BODY_BYTES) throw localError(CapfErrorCode.argument, `maxBodyBytes must be 0..${CAPF_MAX_BODY_BYTES}, got ${max}`);
    this.maxBodyBytes = max;
  }

  get pendingBytes(): number {
    return this.#buf.length;
  }

  push(chunk: Uint8Array): CapfFrame[] {
    if (this.#failed) throw this.#failed;
    try {
      this.#buf = this.#buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buf, chunk]);
      const frames: CapfFrame[] = [];
      for (;;) {
        if (!this.#header) {
          checkHeaderPrefix(this.#buf);
          if (this.#buf.length < CAPF_HEADER_BYTES) return frames;
          const h = decodeHeader(this.#buf);
          if (h.bodyLength > this.maxBodyBytes) throw new CapfError(CapfErrorCode.frameTooLarge, `frame body of ${h.bodyLength} bytes exceeds the limit of ${this.maxBodyBytes}`);
          this.#header = h;
        }
        const total = CAPF_HEADER_BYTES + this.#header.bodyLength;
        if (this.#buf.length < total) return frames;
        frames.push({ header: this.#header, body: Buffer.from(this.#buf.subarray(CAPF_HEADER_BYTES, total)) });
        this.#buf = this.#buf.subarray(total);
        this.#header = undefined;
      }
    } catch (err) {
      this.#failed = err as CapfError;
      this.#buf = Buffer.alloc(0);
      throw err;
    }
  }

  /** The stream ended: a partial frame is ERR_CAPF_TRUNCATED. */
  end(): void {
    if (this.#failed || this.#buf.length === 0) return;
    const want = this.#header ? CAPF_HEADER_BYTES + this.#header.bodyLength : CAPF_HEADER_BYTES;
    throw new CapfError(CapfErrorCode.truncated, `stream ended after ${this.#buf.length} of ${want} bytes of a frame`);
  }
}
