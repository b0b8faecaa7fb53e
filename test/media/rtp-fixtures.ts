/** RTP/RTCP packets for the media tests (RFC 3550 §5.1, §6.4.1). */
import { randomBytes } from 'node:crypto';

export function rtpPacket(
  seq: number,
  ssrc: number,
  payloadLength = 160,
  opts: { timestamp?: number; pt?: number; csrcs?: number[]; extension?: Buffer } = {},
): Buffer {
  const csrcs = opts.csrcs ?? [];
  const ext = opts.extension;
  const h = Buffer.alloc(12 + 4 * csrcs.length + (ext ? 4 + ext.length : 0));
  h[0] = 0x80 | (ext ? 0x10 : 0) | csrcs.length;
  h[1] = opts.pt ?? 0;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE((opts.timestamp ?? seq * 160) >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  csrcs.forEach((c, i) => h.writeUInt32BE(c, 12 + 4 * i));
  if (ext) {
    const at = 12 + 4 * csrcs.length;
    h.writeUInt16BE(0xbede, at);
    h.writeUInt16BE(ext.length / 4, at + 2);
    ext.copy(h, at + 4);
  }
  return Buffer.concat([h, Buffer.alloc(payloadLength, seq & 0xff)]);
}

/** A sender report with one report block. */
export function rtcpSenderReport(ssrc: number, seed = 0): Buffer {
  const b = Buffer.alloc(52);
  b[0] = 0x81;
  b[1] = 200;
  b.writeUInt16BE(b.length / 4 - 1, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  for (let i = 8; i < b.length; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

export function keyFor(keyLength: number, saltLength: number): { masterKey: Buffer; masterSalt: Buffer } {
  return { masterKey: randomBytes(keyLength), masterSalt: randomBytes(saltLength) };
}
