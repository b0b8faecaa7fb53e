/**
 * A batch of packets in one contiguous arena, the shape the native batch call takes: packet i lives at
 * `offsets[i]` with `lengths[i]` bytes and room for `capacities[i]`. After a batch call `lengths[i]` holds the
 * new length, or a negative native code for a packet that failed (see errors.ts: srtpCodeOf).
 */
import { MediaErrorCode } from '../errors.js';
import { SrtpError } from './errors.js';
import { addressOf } from './native.js';
import { offHeapInt32 } from './packet-buffer.js';

export interface PacketBatchOptions {
  /** Most packets in one batch. Default 64. */
  maxPackets?: number;
  /** Bytes reserved per packet slot, tag and MKI included. Default 1500 (an Ethernet MTU). */
  slotSize?: number;
}

export class PacketBatch {
  readonly arena: Buffer;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  readonly capacities: Int32Array;
  readonly slotSize: number;
  readonly maxPackets: number;
  /** Addresses of the arena and arrays, for the native call. */
  readonly addresses: { arena: number; offsets: number; lengths: number; capacities: number };
  count = 0;

  constructor(options: PacketBatchOptions = {}) {
    this.maxPackets = options.maxPackets ?? 64;
    this.slotSize = options.slotSize ?? 1500;
    if (!Number.isInteger(this.maxPackets) || this.maxPackets < 1 || this.maxPackets > 65536) {
      throw new SrtpError(MediaErrorCode.srtpParam, `maxPackets must be an integer from 1 to 65536, got ${this.maxPackets}`);
    }
    if (!Number.isInteger(this.slotSize) || this.slotSize < 16 || this.slotSize > 65536) {
      throw new SrtpError(MediaErrorCode.srtpParam, `slotSize must be an integer from 16 to 65536, got ${this.slotSize}`);
    }
    this.arena = Buffer.alloc(this.maxPackets * this.slotSize);
    const offsets = offHeapInt32(this.maxPackets),
      lengths = offHeapInt32(this.maxPackets),
      caps = offHeapInt32(this.maxPackets);
    this.offsets = offsets.array;
    this.lengths = lengths.array;
    this.capacities = caps.array;
    this.addresses = { arena: addressOf(this.arena), offsets: offsets.address, lengths: lengths.address, capacities: caps.address };
    for (let i = 0; i < this.maxPackets; i++) {
      this.offsets[i] = i * this.slotSize;
      this.capacities[i] = this.slotSize;
    }
  }

  /** Copies a packet into the next slot; returns its index. */
  push(packet: Uint8Array): number {
    if (this.count >= this.maxPackets) throw new SrtpError(MediaErrorCode.srtpBatchFull, `batch holds at most ${this.maxPackets} packets`);
    if (packet.length > this.slotSize)
      throw new SrtpError(MediaErrorCode.srtpNoRoom, `packet of ${packet.length} bytes exceeds slot of ${this.slotSize}`);
    const i = this.count++;
    this.arena.set(packet, this.offsets[i]!);
    this.lengths[i] = packet.length;
    return i;
  }

  /** The slot of packet i, to fill in place (set `lengths[i]` and `count` yourself). */
  slot(i: number): Buffer {
    return this.arena.subarray(this.offsets[i]!, this.offsets[i]! + this.capacities[i]!);
  }

  /** Packet i's current bytes (a view into the arena), or undefined when its last operation failed. */
  packet(i: number): Buffer | undefined {
    const n = this.lengths[i]!;
    return n < 0 ? undefined : this.arena.subarray(this.offsets[i]!, this.offsets[i]! + n);
  }

  clear(): void {
    this.count = 0;
  }

  /** The native side trusts offsets, lengths and capacities: check them against the arena before each call. */
  validate(): void {
    if (!Number.isInteger(this.count) || this.count < 0 || this.count > this.maxPackets) {
      throw new SrtpError(MediaErrorCode.srtpParam, `batch count ${this.count} outside 0..${this.maxPackets}`);
    }
    const size = this.arena.length;
    for (let i = 0; i < this.count; i++) {
      const o = this.offsets[i]!,
        l = this.lengths[i]!,
        c = this.capacities[i]!;
      if (o < 0 || l < 0 || l > c || o + c > size) throw new SrtpError(MediaErrorCode.srtpParam, `batch slot ${i} lies outside the arena`);
    }
  }
}
