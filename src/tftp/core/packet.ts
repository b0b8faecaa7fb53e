/**
 * TFTP packet codec (RFC 1350 §5, RFC 2347 §2 for options and OACK). Pure: bytes in, objects out, and back.
 *
 * Strings on the wire are NUL-terminated octets. File names are decoded as latin1 so every byte survives
 * one-to-one for name validation (a UTF-8 decode would hide NULs and invalid sequences); option names and the
 * mode are compared case-insensitively (RFC 1350 §5, RFC 2347 §2) and are therefore lower-cased here.
 */
import { malformed } from './errors.js';

export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** An option as sent: lower-cased name, value as text. Order is kept (it matters for duplicates and echoing). */
export type TftpOption = readonly [name: string, value: string];

export type RequestPacket = {
  opcode: typeof Opcode.RRQ | typeof Opcode.WRQ;
  filename: string;
  /** Lower-cased transfer mode ("octet", "netascii", "mail", or anything the peer sent). */
  mode: string;
  options: TftpOption[];
};
export type DataPacket = { opcode: typeof Opcode.DATA; block: number; data: Buffer };
export type AckPacket = { opcode: typeof Opcode.ACK; block: number };
export type ErrorPacket = { opcode: typeof Opcode.ERROR; errorCode: number; message: string };
export type OackPacket = { opcode: typeof Opcode.OACK; options: TftpOption[] };
export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

/** Decode one datagram. Throws TftpError (code ERR_TFTP_MALFORMED, TFTP error 4) on anything malformed. */
export function decodePacket(buf: Buffer): TftpPacket {
  if (buf.length < 2) throw malformed(`packet of ${buf.length} bytes is shorter than an opcode`);
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return decodeRequest(buf, opcode);
    case Opcode.DATA:
      if (buf.length < 4) throw malformed(`DATA packet of ${buf.length} bytes has no block number`);
      return { opcode, block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case Opcode.ACK:
      // RFC 1350 §5: an ACK is exactly 4 bytes; trailing bytes are tolerated (some stacks pad), a short one is not.
      if (buf.length < 4) throw malformed(`ACK packet of ${buf.length} bytes has no block number`);
      return { opcode, block: buf.readUInt16BE(2) };
    case Opcode.ERROR: {
      if (buf.length < 4) throw malformed(`ERROR packet of ${buf.length} bytes has no error code`);
      // The message should be NUL-terminated; peers that omit the NUL are still understood.
      const end = buf.indexOf(0, 4);
      const message = buf.toString('latin1', 4, end === -1 ? buf.length : end);
      return { opcode, errorCode: buf.readUInt16BE(2), message };
    }
    case Opcode.OACK:
      return { opcode, options: decodeOptions(buf, 2) };
    default:
      throw malformed(`unknown opcode ${opcode}`);
  }
}

function decodeRequest(buf: Buffer, opcode: typeof Opcode.RRQ | typeof Opcode.WRQ): RequestPacket {
  const name = opcode === Opcode.RRQ ? 'RRQ' : 'WRQ';
  const fEnd = buf.indexOf(0, 2);
  if (fEnd === -1) throw malformed(`${name} file name is not NUL-terminated`);
  const mEnd = buf.indexOf(0, fEnd + 1);
  if (mEnd === -1) throw malformed(`${name} mode is not NUL-terminated`);
  const filename = buf.toString('latin1', 2, fEnd);
  const mode = buf.toString('latin1', fEnd + 1, mEnd).toLowerCase();
  if (mode === '') throw malformed(`${name} has an empty mode`);
  return { opcode, filename, mode, options: decodeOptions(buf, mEnd + 1) };
}

/** RFC 2347 §2: name/value pairs of NUL-terminated strings. Trailing NUL padding is tolerated. */
function decodeOptions(buf: Buffer, start: number): TftpOption[] {
  const options: TftpOption[] = [];
  let at = start;
  while (at < buf.length) {
    const nEnd = buf.indexOf(0, at);
    if (nEnd === -1) throw malformed('option name is not NUL-terminated');
    if (nEnd === at) {
      // An empty name: only NUL padding may follow.
      for (let i = at; i < buf.length; i++) if (buf[i] !== 0) throw malformed('empty option name');
      break;
    }
    const vEnd = buf.indexOf(0, nEnd + 1);
    if (vEnd === -1) throw malformed(`option "${buf.toString('latin1', at, Math.min(nEnd, at + 32))}" has no NUL-terminated value`);
    options.push([buf.toString('latin1', at, nEnd).toLowerCase(), buf.toString('latin1', nEnd + 1, vEnd)]);
    at = vEnd + 1;
  }
  return options;
}

export function encodeRequest(
  opcode: typeof Opcode.RRQ | typeof Opcode.WRQ,
  filename: string,
  mode: string,
  options: readonly TftpOption[] = [],
): Buffer {
  const parts = [filename, mode];
  for (const [n, v] of options) parts.push(n, v);
  return withStrings(opcode, parts);
}

export function encodeData(block: number, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + data.length);
  out.writeUInt16BE(Opcode.DATA, 0);
  out.writeUInt16BE(block & 0xffff, 2);
  data.copy(out, 4);
  return out;
}

export function encodeAck(block: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt16BE(Opcode.ACK, 0);
  out.writeUInt16BE(block & 0xffff, 2);
  return out;
}

export function encodeError(errorCode: number, message: string): Buffer {
  const msg = Buffer.from(message, 'latin1');
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt16BE(Opcode.ERROR, 0);
  out.writeUInt16BE(errorCode & 0xffff, 2);
  msg.copy(out, 4);
  return out;
}

export function encodeOack(options: readonly TftpOption[]): Buffer {
  const parts: string[] = [];
  for (const [n, v] of options) parts.push(n, v);
  return withStrings(Opcode.OACK, parts);
}

function withStrings(opcode: number, parts: readonly string[]): Buffer {
  let len = 2;
  for (const p of parts) len += Buffer.byteLength(p, 'latin1') + 1;
  const out = Buffer.alloc(len);
  out.writeUInt16BE(opcode, 0);
  let at = 2;
  for (const p of parts) {
    at += out.write(p, at, 'latin1');
    out[at++] = 0;
  }
  return out;
}

export function encodePacket(p: TftpPacket): Buffer {
  switch (p.opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return encodeRequest(p.opcode, p.filename, p.mode, p.options);
    case Opcode.DATA:
      return encodeData(p.block, p.data);
    case Opcode.ACK:
      return encodeAck(p.block);
    case Opcode.ERROR:
      return encodeError(p.errorCode, p.message);
    case Opcode.OACK:
      return encodeOack(p.options);
  }
}
