/**
 * The frames on the stream between a TLS engine worker and Node (native/tls-mux.c), sans-I/O: bytes in, frames
 * out, and frames encoded. Frame: connection id (u32 LE), kind (u8), payload length (u32 LE), payload. Kinds:
 *   open   engine → Node  handshake done: "address port version cipher resumed ktls verified" NUL peer cert DER
 *   data   both ways       plaintext
 *   end    both ways       engine: the TLS side ended (EOF); Node: end() (close_notify and FIN)
 *   close  both ways       engine: the connection is gone; Node: done with the id (destroy, or the answer to close)
 *   credit both ways       u32 LE: the receiver consumed that many data bytes (the window, RFC 9113 §5.2 style)
 *   error  engine → Node   id 0: a failed handshake, "address port reason"
 *   ktls   engine → Node   id 0: "fd address port version cipher resumed 1 verified" NUL peer cert DER
 *   dial   Node → engine   id 0: "tag address port name sni trust timeoutMs" (the trunk dial-out; sni "-": none)
 *   dialed engine → Node   a dial's handshake done, id its connection: "tag address port …" as open
 *   dialError engine → Node  id 0: "tag address port what code reason" NUL [peer cert DER when it did not verify]
 */
import { TlsEngineError, TlsEngineErrorCode } from './errors.js';

export const FrameKind = { open: 1, data: 2, end: 3, close: 4, credit: 5, error: 6, ktls: 7, dial: 8, dialed: 9, dialError: 10 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface Frame {
  id: number;
  kind: number;
  payload: Buffer;
}

export const STREAM_CODEC_DEFAULTS = {
  /** Largest data payload Node sends (native/tls-internal.h SBD_TLS_FRAME_MAX; the engine refuses more). */
  maxDataBytes: 16384,
  /** Largest payload accepted from the engine (an open frame carries a certificate chain's leaf). */
  maxPayloadBytes: 1 << 20,
} as const;

const HEADER = 9;

export class FrameReader {
  #rest: Buffer | undefined;
  readonly #max: number;

  constructor(o: { maxPayloadBytes?: number } = {}) {
    this.#max = o.maxPayloadBytes ?? STREAM_CODEC_DEFAULTS.maxPayloadBytes;
  }

  /** Whole frames in `chunk` (after what was left over); payloads are views into the chunk. */
  push(chunk: Buffer): Frame[] {
    const buf = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    this.#rest = undefined;
    const out: Frame[] = [];
    let off = 0;
    while (buf.length - off >= HEADER) {
      const len = buf.readUInt32LE(off + 5);
      if (len > this.#max)
        throw new TlsEngineError(TlsEngineErrorCode.control, `a frame of ${len} bytes from the engine (at most ${this.#max})`);
      if (buf.length - off < HEADER + len) break;
      out.push({ id: buf.readUInt32LE(off), kind: buf[off + 4]!, payload: buf.subarray(off + HEADER, off + HEADER + len) });
      off += HEADER + len;
    }
    if (off < buf.length) this.#rest = Buffer.from(buf.subarray(off));
    return out;
  }
}

export function encodeFrame(id: number, kind: FrameKind, payload?: Uint8Array): Buffer {
  const len = payload?.length ?? 0;
  const b = Buffer.allocUnsafe(HEADER + len);
  b.writeUInt32LE(id, 0);
  b[4] = kind;
  b.writeUInt32LE(len, 5);
  if (payload) b.set(payload, HEADER);
  return b;
}

export function encodeCredit(id: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER + 4);
  b.writeUInt32LE(id, 0);
  b[4] = FrameKind.credit;
  b.writeUInt32LE(4, 5);
  b.writeUInt32LE(n, HEADER);
  return b;
}

/** The session facts of an open or ktls frame. */
export interface SessionFacts {
  /** ktls frames only: Node's file descriptor of the TCP socket. */
  fd: number | undefined;
  /** dialed frames only: the tag of the dial. */
  tag?: number;
  address: string;
  port: number;
  version: string;
  cipher: string;
  resumed: boolean;
  ktls: boolean;
  /** The peer certificate chained to the client CAs (false without one, or when one was admitted unverified). */
  peerVerified: boolean;
  peerCertificate: Buffer | undefined;
}

export function parseFacts(kind: FrameKind, payload: Buffer): SessionFacts {
  const nul = payload.indexOf(0);
  const f = payload.toString('latin1', 0, nul < 0 ? payload.length : nul).split(' ');
  const withFd = kind === FrameKind.ktls || kind === FrameKind.dialed; // the leading number: the fd, or the dial's tag
  const fd = withFd ? Number(f[0]) : 0;
  const base = withFd ? 1 : 0;
  const port = Number(f[base + 1]);
  if (nul < 0 || f.length !== base + 7 || !Number.isInteger(port) || !Number.isInteger(fd) || fd < 0)
    throw new TlsEngineError(TlsEngineErrorCode.control, `unexpected session facts: ${JSON.stringify(f.join(' ').slice(0, 80))}`);
  const der = payload.subarray(nul + 1);
  return {
    fd: kind === FrameKind.ktls ? fd : undefined,
    ...(kind === FrameKind.dialed ? { tag: fd } : {}),
    address: f[base]!,
    port,
    version: f[base + 2]!,
    cipher: f[base + 3]!,
    resumed: f[base + 4] === '1',
    ktls: f[base + 5] === '1',
    peerVerified: f[base + 6] === '1',
    peerCertificate: der.length ? Buffer.from(der) : undefined,
  };
}

export function parseHandshakeError(payload: Buffer): { address: string; port: number; reason: string } {
  const f = payload.toString('latin1').split(' ');
  return { address: f[0] ?? '?', port: Number(f[1]), reason: f.slice(2).join(' ') };
}

/** What Node asks the engine to dial (native/tls-dial.c). */
export interface DialRequest {
  tag: number;
  /** An IP address (Node resolves names first). */
  address: string;
  port: number;
  /** The name the certificate must carry (a DNS name, or an IP checked against its IP addresses). */
  name: string;
  /** SNI, or undefined for none. */
  sni: string | undefined;
  /** The CA bundle's id from sbd_tls_engine_trust. */
  trust: number;
  timeoutMs: number;
}

export function encodeDial(d: DialRequest): Buffer {
  const words = [d.tag, d.address, d.port, d.name, d.sni ?? '-', d.trust, d.timeoutMs].map(String);
  if (words.some((w) => w === '' || /\s/.test(w)))
    throw new TlsEngineError(TlsEngineErrorCode.control, `a dial field is empty or has a space: ${JSON.stringify(words)}`);
  return encodeFrame(0, FrameKind.dial, Buffer.from(words.join(' '), 'latin1'));
}

/** How a dial failed: the TCP connect (code: errno), the deadline, the TLS handshake, or the peer's certificate (code: X509_V_ERR_*). */
export type DialFailure = 'connect' | 'timeout' | 'tls' | 'verify';

export interface DialErrorFacts {
  tag: number;
  address: string;
  port: number;
  what: DialFailure;
  code: number;
  reason: string;
  peerCertificate: Buffer | undefined;
}

export function parseDialError(payload: Buffer): DialErrorFacts {
  const nul = payload.indexOf(0);
  const f = payload.toString('latin1', 0, nul < 0 ? payload.length : nul).split(' ');
  const what = f[3] as DialFailure;
  if (f.length < 6 || !['connect', 'timeout', 'tls', 'verify'].includes(what))
    throw new TlsEngineError(TlsEngineErrorCode.control, `unexpected dial error: ${JSON.stringify(f.join(' ').slice(0, 80))}`);
  const der = nul < 0 ? Buffer.alloc(0) : payload.subarray(nul + 1);
  return {
    tag: Number(f[0]),
    address: f[1]!,
    port: Number(f[2]),
    what,
    code: Number(f[4]),
    reason: f.slice(5).join(' '),
    peerCertificate: der.length ? Buffer.from(der) : undefined,
  };
}
