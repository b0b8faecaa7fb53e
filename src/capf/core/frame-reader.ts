/**
 * Stream framing for CAPF over TLS (lib/frame-assembler.ts does the buffering): a wrong protocol id fails on byte
 * 0 and an oversized body at the length field, so garbage never makes us buffer more than `maxBodyBytes`.
 */
import { FrameAssembler, type FrameShape } from '../../lib/frame-assembler.js';
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

const capfShape: FrameShape<CapfHeader> = {
  headerBytes: CAPF_HEADER_BYTES,
  checkPrefix: checkHeaderPrefix,
  decodeHeader,
  tooLarge: (length, limit) => new CapfError(CapfErrorCode.frameTooLarge, `frame body of ${length} bytes exceeds the limit of ${limit}`),
  truncated: (held, want) => new CapfError(CapfErrorCode.truncated, `stream ended after ${held} of ${want} bytes of a frame`),
};

export class CapfFrameReader {
  readonly maxBodyBytes: number;
  readonly #frames: FrameAssembler<CapfHeader>;

  constructor(options: CapfFrameReaderOptions = {}) {
    const max = options.maxBodyBytes ?? CAPF_FRAME_READER_DEFAULTS.maxBodyBytes;
    if (!Number.isInteger(max) || max < 0 || max > CAPF_MAX_BODY_BYTES)
      throw localError(CapfErrorCode.argument, `maxBodyBytes must be 0..${CAPF_MAX_BODY_BYTES}, got ${max}`);
    this.maxBodyBytes = max;
    this.#frames = new FrameAssembler(capfShape, max);
  }

  get pendingBytes(): number {
    return this.#frames.pendingBytes;
  }

  /** Feeds bytes; returns every frame now complete. After an error the reader stays failed. */
  push(chunk: Uint8Array): CapfFrame[] {
    return this.#frames.push(chunk);
  }

  /** The stream ended: a partial frame is ERR_CAPF_TRUNCATED. */
  end(): void {
    this.#frames.end();
  }
}
