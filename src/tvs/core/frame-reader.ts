/**
 * Stream framing for TVS over TLS: bytes arrive in arbitrary pieces; whole frames come out. The header is checked
 * as soon as its bytes are in (a wrong protocol id fails on the first byte, an oversized body on the length
 * field), so a peer sending garbage never makes us buffer more than one header plus `maxBodyBytes`.
 */
import { TvsError, TvsErrorCode } from './errors.js';
import { checkHeaderPrefix, decodeHeader, TVS_HEADER_BYTES, TVS_MAX_BODY_BYTES, type TvsFrame, type TvsHeader } from './frame.js';

export interface TvsFrameReaderOptions {
  /**
   * Largest body accepted. Default 16384: a VERIFY_REQUEST carries one certificate (an RSA-4096 certificate with
   * extensions is about 1.5 KB of DER); anything near the u16 limit is not a phone.
   */
  maxBodyBytes?: number;
}
export const TVS_FRAME_READER_DEFAULTS = { maxBodyBytes: 16384 } as const;

export class TvsFrameReader {
  readonly maxBodyBytes: number;
  // Pieces not yet a whole frame, joined only once a header or a whole frame is in: a peer sending a byte at a
  // time costs linear work (Buffer.concat on every push copied everything held, per piece: found by fuzzing).
  #chunks: Buffer[] = [];
  #held = 0;
  #header: TvsHeader | undefined;
  #failed: TvsError | undefined;

  constructor(options: TvsFrameReaderOptions = {}) {
    const max = options.maxBodyBytes ?? TVS_FRAME_READER_DEFAULTS.maxBodyBytes;
    if (!Number.isInteger(max) || max < 0 || max > TVS_MAX_BODY_BYTES) {
      throw new TvsError(TvsErrorCode.argument, `maxBodyBytes must be 0..${TVS_MAX_BODY_BYTES}, got ${max}`, { remote: false });
    }
    this.maxBodyBytes = max;
  }

  /** Bytes held that are not yet a whole frame. */
  get pendingBytes(): number {
    return this.#held;
  }

  #joined(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#held)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  /** Feeds bytes; returns every frame now complete. After an error the reader stays failed. */
  push(chunk: Uint8Array): TvsFrame[] {
    if (this.#failed) throw this.#failed;
    try {
      return this.#push(chunk);
    } catch (err) {
      this.#failed = err as TvsError;
      this.#chunks = [];
      this.#held = 0;
      throw err;
    }
  }

  #push(chunk: Uint8Array): TvsFrame[] {
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.from(chunk));
      this.#held += chunk.length;
    }
    const frames: TvsFrame[] = [];
    for (;;) {
      if (!this.#header) {
        if (this.#held === 0) return frames;
        // Protocol id and version are bytes 0 and 1: fail on them as soon as they are in.
        checkHeaderPrefix(this.#chunks[0]!.length >= 2 || this.#chunks.length === 1 ? this.#chunks[0]! : this.#joined());
        if (this.#held < TVS_HEADER_BYTES) return frames;
        const h = decodeHeader(this.#joined());
        if (h.bodyLength > this.maxBodyBytes) {
          throw new TvsError(TvsErrorCode.frameTooLarge, `frame body of ${h.bodyLength} bytes exceeds the limit of ${this.maxBodyBytes}`);
        }
        this.#header = h;
      }
      const total = TVS_HEADER_BYTES + this.#header.bodyLength;
      if (this.#held < total) return frames;
      const buf = this.#joined();
      frames.push({ header: this.#header, body: Buffer.from(buf.subarray(TVS_HEADER_BYTES, total)) });
      const rest = buf.subarray(total);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#held = rest.length;
      this.#header = undefined;
    }
  }

  /** The stream ended: an incomplete frame is ERR_TVS_TRUNCATED. */
  end(): void {
    if (this.#failed) return;
    if (this.#held > 0) {
      const want = this.#header ? TVS_HEADER_BYTES + this.#header.bodyLength : TVS_HEADER_BYTES;
      throw new TvsError(TvsErrorCode.truncated, `stream ended after ${this.#held} of ${want} bytes of a frame`);
    }
  }
}
