/**
 * The control protocol between sbd-tftpd's Node side and its native data plane (native/tftp-*.c), over a stream
 * socketpair. Pure: bytes in, frames out. Every frame is `u32 length (of what follows), u8 type, body`, integers
 * little-endian. The data plane owns the sockets and the transfers; Node answers the names it cannot serve from
 * its cache (OPEN → FILE or REFUSE) and writes the log lines it reports.
 */
import { SbdError } from '../../lib/errors.js';
import { TftpLocalErrorCode } from '../core/errors.js';

export const FrameType = {
  file: 1,
  refuse: 2,
  flush: 3,
  stats: 4,
  stop: 5,
  open: 129,
  log: 130,
  statsReply: 131,
} as const;

/** "No generation": the entry does not depend on the store. */
export const NO_GENERATION = 0xffff_ffff_ffff_ffffn;

/** Largest frame the engine may send us (a LOG or STATS line); anything longer means the stream is corrupt. */
const MAX_INBOUND_FRAME = 1024 * 1024;

export class EngineProtocolError extends SbdError {
  declare readonly code: typeof TftpLocalErrorCode.engineProtocol;

  constructor(message: string) {
    super(TftpLocalErrorCode.engineProtocol, message);
  }
}

export interface FileFrame {
  /** The OPEN this answers, or 0 to publish without a request. */
  request: number;
  /** Keep it in the engine's cache for later requests. */
  cache: boolean;
  /** Store generation the bytes are valid for, or undefined when they do not depend on the store. */
  generation?: number | undefined;
  /** How long the engine may serve them from its cache; 0 or undefined: no time limit. */
  ttlMs?: number | undefined;
  name: string;
  data: Buffer;
}

function frame(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt32LE(1 + body.length, 0);
  out.writeUInt8(type, 4);
  body.copy(out, 5);
  return out;
}

/** FILE: header only; the caller writes `data` after it (a config or firmware image is not copied again). */
export function encodeFileHeader(f: Omit<FileFrame, 'data'>, dataLength: number): Buffer {
  const name = Buffer.from(f.name, 'latin1');
  if (name.length > 0xffff) throw new EngineProtocolError(`file name of ${name.length} bytes does not fit a FILE frame`);
  if (dataLength > 0xffff_ffff - 64 - name.length) throw new EngineProtocolError(`file of ${dataLength} bytes does not fit a FILE frame`);
  const headLen = 4 + 1 + 8 + 4 + 2 + name.length + 4;
  const out = Buffer.allocUnsafe(5 + headLen);
  let o = out.writeUInt32LE(1 + headLen + dataLength, 0);
  o = out.writeUInt8(FrameType.file, o);
  o = out.writeUInt32LE(f.request, o);
  o = out.writeUInt8(f.cache ? 1 : 0, o);
  o = out.writeBigUInt64LE(f.generation === undefined ? NO_GENERATION : BigInt(f.generation), o);
  o = out.writeUInt32LE(Math.max(0, Math.min(0xffff_ffff, Math.ceil(f.ttlMs ?? 0))), o);
  o = out.writeUInt16LE(name.length, o);
  o += name.copy(out, o);
  out.writeUInt32LE(dataLength, o);
  return out;
}

export function encodeRefuse(request: number, tftpCode: number, code: string, message: string): Buffer {
  const c = Buffer.from(code.slice(0, 200), 'utf8');
  const m = Buffer.from(message, 'latin1').subarray(0, 400); // as encodeError puts it on the wire
  const body = Buffer.allocUnsafe(4 + 2 + 2 + c.length + 2 + m.length);
  let o = body.writeUInt32LE(request, 0);
  o = body.writeUInt16LE(tftpCode, o);
  o = body.writeUInt16LE(c.length, o);
  o += c.copy(body, o);
  o = body.writeUInt16LE(m.length, o);
  m.copy(body, o);
  return frame(FrameType.refuse, body);
}

export const encodeFlush = (): Buffer => frame(FrameType.flush, Buffer.alloc(0));
export const encodeStatsRequest = (): Buffer => frame(FrameType.stats, Buffer.alloc(0));
export const encodeStop = (): Buffer => frame(FrameType.stop, Buffer.alloc(0));

export type EngineFrame =
  | { type: 'open'; request: number; family: 'IPv4' | 'IPv6'; address: string; port: number; name: string }
  | { type: 'log'; record: Record<string, unknown> }
  | { type: 'stats'; counters: Record<string, unknown> };

/** Reassembles the engine's frames from stream chunks. */
export class EngineFrameReader {
  #buf: Buffer = Buffer.alloc(0);

  /** Feed a chunk; returns every complete frame in it (a frame may span chunks). Throws EngineProtocolError. */
  push(chunk: Buffer): EngineFrame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: EngineFrame[] = [];
    let off = 0;
    while (this.#buf.length - off >= 4) {
      const len = this.#buf.readUInt32LE(off);
      if (len < 1 || len > MAX_INBOUND_FRAME) throw new EngineProtocolError(`engine frame of ${len} bytes`);
      if (this.#buf.length - off - 4 < len) break;
      out.push(decodeEngineFrame(this.#buf.subarray(off + 4, off + 4 + len)));
      off += 4 + len;
    }
    this.#buf = off === this.#buf.length ? Buffer.alloc(0) : Buffer.from(this.#buf.subarray(off));
    return out;
  }
}

function json(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new EngineProtocolError(`engine ${what} frame is not a JSON object`);
}

/** One frame without its length prefix: `u8 type, body`. */
export function decodeEngineFrame(f: Buffer): EngineFrame {
  const type = f.readUInt8(0);
  const need = (n: number, at: number): void => {
    if (at + n > f.length) throw new EngineProtocolError(`engine frame type ${type} is truncated`);
  };
  if (type === FrameType.open) {
    need(4 + 1 + 2 + 1, 1);
    const request = f.readUInt32LE(1);
    const fam = f.readUInt8(5);
    const port = f.readUInt16LE(6);
    const addrLen = f.readUInt8(8);
    need(addrLen + 2, 9);
    const address = f.toString('latin1', 9, 9 + addrLen);
    const nameLen = f.readUInt16LE(9 + addrLen);
    need(nameLen, 11 + addrLen);
    // Names travel as the request's raw bytes; latin1 maps each byte to one character, as decodePacket does.
    const name = f.toString('latin1', 11 + addrLen, 11 + addrLen + nameLen);
    if (fam !== 4 && fam !== 6) throw new EngineProtocolError(`engine OPEN with address family ${fam}`);
    return { type: 'open', request, family: fam === 4 ? 'IPv4' : 'IPv6', address, port, name };
  }
  if (type === FrameType.log) {
    need(2, 1);
    const len = f.readUInt16LE(1);
    need(len, 3);
    return { type: 'log', record: json(f.subarray(3, 3 + len), 'LOG') };
  }
  if (type === FrameType.statsReply) {
    need(4, 1);
    const len = f.readUInt32LE(1);
    need(len, 5);
    return { type: 'stats', counters: json(f.subarray(5, 5 + len), 'STATS') };
  }
  throw new EngineProtocolError(`unknown engine frame type ${type}`);
}
