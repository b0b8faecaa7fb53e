/**
 * Stream framing shared by the TLV-over-TLS protocols (TVS, CAPF): bytes arrive in arbitrary pieces, whole frames
 * come out. The protocol checks its header prefix as soon as bytes are in and its body length at the header, so a
 * peer sending garbage never makes us hold more than one header plus the body limit. Pieces are joined only once a
 * header or a whole frame is in: a peer sending one byte at a time costs linear work (Buffer.concat on every push
 * copied everything held per piece: found by fuzzing). After an error the assembler stays failed.
 */

/** What a protocol tells the assembler about its frames; the errors are the protocol's own typed errors. */
export interface FrameShape<H extends { bodyLength: number }> {
  headerBytes: number;
  /** Throws on the first bytes that cannot start a frame (called with whatever is held, possibly < headerBytes). */
  checkPrefix(held: Buffer): void;
  decodeHeader(header: Buffer): H;
  tooLarge(bodyLength: number, limit: number): Error;
  truncated(held: number, want: number): Error;
}

export class FrameAssembler<H extends { bodyLength: number }> {
  #chunks: Buffer[] = [];
  #held = 0;
  #header: H | undefined;
  #failed: unknown;

  readonly shape: FrameShape<H>;
  readonly maxBodyBytes: number;

  constructor(shape: FrameShape<H>, maxBodyBytes: number) {
    this.shape = shape;
    this.maxBodyBytes = maxBodyBytes;
  }

  /** Bytes held that are not yet a whole frame. */
  get pendingBytes(): number {
    return this.#held;
  }

  #joined(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#held)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  /** Feeds bytes; returns every frame now complete. */
  push(chunk: Uint8Array): { header: H; body: Buffer }[] {
    if (this.#failed) throw this.#failed;
    try {
      return this.#push(chunk);
    } catch (err) {
      this.#failed = err;
      this.#chunks = [];
      this.#held = 0;
      throw err;
    }
  }

  #push(chunk: Uint8Array): { header: H; body: Buffer }[] {
    const { headerBytes } = this.shape;
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.from(chunk));
      this.#held += chunk.length;
    }
    const frames: { header: H; body: Buffer }[] = [];
    for (;;) {
      if (!this.#header) {
        if (this.#held === 0) return frames;
        const first = this.#chunks[0]!;
        this.shape.checkPrefix(first.length >= headerBytes || this.#chunks.length === 1 ? first : this.#joined());
        if (this.#held < headerBytes) return frames;
        const h = this.shape.decodeHeader(this.#joined());
        if (h.bodyLength > this.maxBodyBytes) throw this.shape.tooLarge(h.bodyLength, this.maxBodyBytes);
        this.#header = h;
      }
      const total = headerBytes + this.#header.bodyLength;
      if (this.#held < total) return frames;
      const buf = this.#joined();
      frames.push({ header: this.#header, body: Buffer.from(buf.subarray(headerBytes, total)) });
      const rest = buf.subarray(total);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#held = rest.length;
      this.#header = undefined;
    }
  }

  /** The stream ended: a partial frame is the protocol's truncation error. */
  end(): void {
    if (this.#failed || this.#held === 0) return;
    throw this.shape.truncated(this.#held, this.#header ? this.shape.headerBytes + this.#header.bodyLength : this.shape.headerBytes);
  }
}
