/**
 * Packet memory for the hot path: an off-heap Buffer whose address is taken once, so each protect/unprotect
 * passes plain numbers to the native helper instead of a Buffer (koffi marshals a Buffer argument in about
 * 250 ns, a number in a few). The Buffer's backing store never moves; this object keeps it referenced.
 */
import { addressOf } from './native.js';
import { MediaErrorCode } from '../errors.js';
import { SrtpError } from './errors.js';

export class PacketBuffer {
  readonly bytes: Buffer;
  readonly address: number;

  /** `size`: bytes of room (packet plus tag and MKI). Default 1500. */
  constructor(size = 1500) {
    if (!Number.isInteger(size) || size < 16 || size > 1 << 26)
      throw new SrtpError(MediaErrorCode.srtpParam, `PacketBuffer size must be 16..2^26, got ${size}`);
    this.bytes = Buffer.alloc(size);
    this.address = addressOf(this.bytes);
  }
}

/** Int32Array over off-heap memory (small typed arrays may live on V8's moving heap). */
export function offHeapInt32(n: number): { array: Int32Array; address: number } {
  const b = Buffer.alloc(Math.max(n * 4, 64));
  return { array: new Int32Array(b.buffer, b.byteOffset, n), address: addressOf(b) };
}
