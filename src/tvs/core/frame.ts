/**
 * TVS frames (spec cisco-trust-formats §3.1): a 10-byte big-endian header, then a body of elements.
 *   offset 0  u8   protocol id = 87
 *          1  u8   protocol version = 1
 *          2  u8   command
 *          3  u8   reserved (sent as 0; the first tvsd sent 245, so a receiver ignores it)
 *          4  u32  session id: the client picks it, the server echoes it
 *          8  u16  body length
 *   body: elements `tag u8, length u16, value`.
 */
import { TvsError, TvsErrorCode } from './errors.js';

export const TVS_PROTOCOL_ID = 87;
export const TVS_PROTOCOL_VERSION = 1;
export const TVS_HEADER_BYTES = 10;
export const TVS_ELEMENT_HEADER_BYTES = 3;
/** The u16 length field caps every body and element. */
export const TVS_MAX_BODY_BYTES = 0xffff;

export const TvsCommand = {
  none: 0,
  verifyRequest: 1,
  verifyResponse: 2,
  // Defined by tvsd, semantics unknown (spec §3.1): never sent, refused when received.
  queryRequest: 3,
  queryResponse: 4,
} as const;
export type TvsCommand = (typeof TvsCommand)[keyof typeof TvsCommand];

export const TvsElementTag = {
  deviceName: 1,
  certificate: 2,
  status: 7,
  roles: 8,
  ttl: 9,
} as const;

export interface TvsHeader {
  command: number;
  reserved: number;
  sessionId: number;
  bodyLength: number;
}

export interface TvsElement {
  tag: number;
  value: Buffer;
}

export interface TvsFrame {
  header: TvsHeader;
  body: Buffer;
}

/** Checks whatever of the protocol id and version bytes is present, so a stream reader can fail on byte 0. */
export function checkHeaderPrefix(bytes: Buffer): void {
  if (bytes.length > 0 && bytes[0] !== TVS_PROTOCOL_ID)
    throw new TvsError(TvsErrorCode.protocolId, `protocol id ${bytes[0]} is not TVS (${TVS_PROTOCOL_ID})`);
  if (bytes.length > 1 && bytes[1] !== TVS_PROTOCOL_VERSION)
    throw new TvsError(TvsErrorCode.version, `protocol version ${bytes[1]} is not ${TVS_PROTOCOL_VERSION}`);
}

/** Reads and checks the 10 header bytes at the start of `bytes` (which must hold at least 10). */
export function decodeHeader(bytes: Buffer): TvsHeader {
  checkHeaderPrefix(bytes);
  if (bytes.length < TVS_HEADER_BYTES)
    throw new TvsError(TvsErrorCode.truncated, `a TVS header is ${TVS_HEADER_BYTES} bytes, got ${bytes.length}`);
  return { command: bytes[2]!, reserved: bytes[3]!, sessionId: bytes.readUInt32BE(4), bodyLength: bytes.readUInt16BE(8) };
}

export function encodeElements(elements: readonly TvsElement[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of elements) {
    if (!Number.isInteger(e.tag) || e.tag < 0 || e.tag > 0xff)
      throw new TvsError(TvsErrorCode.argument, `element tag ${e.tag} is not a byte`, { remote: false });
    if (e.value.length > TVS_MAX_BODY_BYTES)
      throw new TvsError(TvsErrorCode.argument, `element ${e.tag} is ${e.value.length} bytes; the limit is ${TVS_MAX_BODY_BYTES}`, {
        remote: false,
      });
    const h = Buffer.allocUnsafe(TVS_ELEMENT_HEADER_BYTES);
    h[0] = e.tag;
    h.writeUInt16BE(e.value.length, 1);
    parts.push(h, e.value);
  }
  return Buffer.concat(parts);
}

/** Splits a body into its elements; an element running past the end of the body is ERR_TVS_TRUNCATED. */
export function decodeElements(body: Buffer): TvsElement[] {
  const out: TvsElement[] = [];
  let i = 0;
  while (i < body.length) {
    if (body.length - i < TVS_ELEMENT_HEADER_BYTES)
      throw new TvsError(TvsErrorCode.truncated, `element header at body offset ${i} is cut short`);
    const tag = body[i]!;
    const len = body.readUInt16BE(i + 1);
    i += TVS_ELEMENT_HEADER_BYTES;
    if (body.length - i < len)
      throw new TvsError(TvsErrorCode.truncated, `element ${tag} at body offset ${i - 3} announces ${len} bytes, ${body.length - i} left`);
    out.push({ tag, value: body.subarray(i, i + len) });
    i += len;
  }
  return out;
}

/**
 * One whole frame as a single buffer: header and body go out in one write (spec §3.1; phones stall when the
 * header arrives alone).
 */
export function encodeFrame(command: number, sessionId: number, elements: readonly TvsElement[], reserved = 0): Buffer {
  if (!Number.isInteger(command) || command < 0 || command > 0xff)
    throw new TvsError(TvsErrorCode.argument, `command ${command} is not a byte`, { remote: false });
  if (!Number.isInteger(sessionId) || sessionId < 0 || sessionId > 0xffffffff) {
    throw new TvsError(TvsErrorCode.argument, `session id ${sessionId} is not a u32`, { remote: false });
  }
  const body = encodeElements(elements);
  if (body.length > TVS_MAX_BODY_BYTES)
    throw new TvsError(TvsErrorCode.argument, `body of ${body.length} bytes exceeds ${TVS_MAX_BODY_BYTES}`, { remote: false });
  const out = Buffer.allocUnsafe(TVS_HEADER_BYTES + body.length);
  out[0] = TVS_PROTOCOL_ID;
  out[1] = TVS_PROTOCOL_VERSION;
  out[2] = command;
  out[3] = reserved & 0xff;
  out.writeUInt32BE(sessionId, 4);
  out.writeUInt16BE(body.length, 8);
  body.copy(out, TVS_HEADER_BYTES);
  return out;
}
