/**
 * Stream framing for TVS over TLS (lib/frame-assembler.ts does the buffering): a wrong protocol id fails on the
 * first byte, an oversized body on the length field, so a peer sending garbage never makes us buffer more than
 * one header plus `maxBodyBytes`.
 */
import { FrameAssembler, type FrameShape } from '../../lib/frame-assembler.js';
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

const tvsShape: FrameShape<TvsHeader> = {
  headerBytes: TVS_HEADER_BYTES,
  checkPrefix: checkHeaderPrefix,
  decodeHeader,
  tooLarge: (length, limit) => new TvsError(TvsErrorCode.frameTooLarge, `frame body of ${length} bytes exceeds the limit of ${limit}`),
  truncated: (held, want) => new TvsError(TvsErrorCode.truncated, `stream ended after ${held} of ${want} bytes of a frame`),
};

export class TvsFrameReader {
  readonly maxBodyBytes: number;
  readonly #frames: FrameAssembler<TvsHeader>;

  constructor(options: TvsFrameReaderOptions = {}) {
    const max = options.maxBodyBytes ?? TVS_FRAME_READER_DEFAULTS.maxBodyBytes;
    if (!Number.isInteger(max) || max < 0 || max > TVS_MAX_BODY_BYTES) {
      throw new TvsError(TvsErrorCode.argument, `maxBodyBytes must be 0..${TVS_MAX_BODY_BYTES}, got ${max}`, { remote: false });
    }
    this.maxBodyBytes = max;
    this.#frames = new FrameAssembler(tvsShape, max);
  }

  /** Bytes held that are not yet a whole frame. */
  get pendingBytes(): number {
    return this.#frames.pendingBytes;
  }

  /** Feeds bytes; returns every frame now complete. After an error the reader stays failed. */
  push(chunk: Uint8Array): TvsFrame[] {
    return this.#frames.push(chunk);
  }

  /** The stream ended: an incomplete frame is ERR_TVS_TRUNCATED. */
  end(): void {
    this.#frames.end();
  }
}
