/**
 * What a datagram at the request port is, before any server state is consulted (server.ts onRequest; the C engine's
 * tftp_judge_request in native/tftp-packet.c does the same in the same order): too long, malformed, an ERROR (never
 * answered, RFC 1350 §7), a write request (refused: read-only), a stray DATA/ACK/OACK (counted, not answered), a
 * mode this server does not serve, a refused file name — or a read request to serve.
 * `firstReply` adds RFC 2347 negotiation: the first packet a request draws from a file of a given size. It is what
 * the shared test vectors (test/tftp/vectors.test.ts) compare between the two engines.
 */
import { TftpError, printable, tftpErrors } from './errors.js';
import { checkFilename } from './filename.js';
import { negotiate, type NegotiationLimits } from './options.js';
import { decodePacket, encodeError, encodeOack, Opcode, type TftpOption } from './packet.js';

export interface RequestLimits {
  maxRequestBytes: number;
  maxFilenameLength: number;
  netascii: boolean;
}

export type RequestVerdict =
  | { kind: 'refuse'; error: TftpError; filename: string }
  | { kind: 'ignore' }
  | { kind: 'stray' }
  | { kind: 'read'; filename: string; netascii: boolean; options: TftpOption[] };

export function judgeRequest(msg: Buffer, limits: RequestLimits): RequestVerdict {
  let packet;
  try {
    if (msg.length > limits.maxRequestBytes) {
      throw new TftpError('ERR_TFTP_REQUEST_TOO_LONG', `request of ${msg.length} bytes is longer than ${limits.maxRequestBytes}`);
    }
    packet = decodePacket(msg);
  } catch (err) {
    return { kind: 'refuse', error: err as TftpError, filename: '' };
  }
  if (packet.opcode === Opcode.ERROR) return { kind: 'ignore' };
  if (packet.opcode === Opcode.WRQ) {
    return {
      kind: 'refuse',
      error: new TftpError('ERR_TFTP_WRITE_REFUSED', tftpErrors.ERR_TFTP_WRITE_REFUSED.message),
      filename: packet.filename,
    };
  }
  // DATA/ACK/OACK at the request port belong to no transfer (tftp-hpa's client, for one, ACKs an error it got from
  // here): a reply would only feed a loop or a reflection.
  if (packet.opcode !== Opcode.RRQ) return { kind: 'stray' };
  const { filename, mode } = packet;
  if (mode !== 'octet' && !(mode === 'netascii' && limits.netascii)) {
    return { kind: 'refuse', error: new TftpError('ERR_TFTP_MODE', `transfer mode "${printable(mode)}" is not supported`), filename };
  }
  const bad = checkFilename(filename, limits.maxFilenameLength);
  if (bad) return { kind: 'refuse', error: bad, filename };
  return { kind: 'read', filename, netascii: mode === 'netascii', options: packet.options };
}

/** The first packet a request draws when its file has `fileSize` bytes (as sent): an ERROR, an OACK, 'data' (no
 *  options acknowledged: DATA 1 follows, RFC 2347 §2) or undefined (nothing is sent). */
export function firstReply(msg: Buffer, fileSize: number, limits: RequestLimits & NegotiationLimits): Buffer | 'data' | undefined {
  const v = judgeRequest(msg, limits);
  if (v.kind === 'ignore' || v.kind === 'stray') return undefined;
  if (v.kind === 'refuse') return encodeError(v.error.tftpCode, v.error.message);
  try {
    const { oack } = negotiate(v.options, fileSize, limits);
    return oack.length > 0 ? encodeOack(oack) : 'data';
  } catch (err) {
    const e = err as TftpError;
    return encodeError(e.tftpCode, e.message);
  }
}
