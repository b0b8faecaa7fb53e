/**
 * Stream framing for TCP/TLS (RFC 3261 §18.3): a message ends Content-Length bytes after the empty line that
 * ends its headers; Content-Length is mandatory on streams. Also RFC 5626 §3.5.1 keep-alives: a double CRLF
 * ("ping") between messages asks for a single CRLF ("pong").
 *
 * Sans-I/O: `push(chunk)` returns the events the bytes complete, whatever the chunk boundaries. After an error
 * the stream cannot be resynchronised, so the framer stays failed and the transport closes the connection.
 */
import { SipParseError, bad } from './errors.js';

export interface FramerOptions {
  /** Largest header section (start line to empty line), default 16384 bytes → 513 when exceeded. */
  maxHeaderBytes?: number;
  /** Largest body, default 65535 bytes → 413 when a Content-Length exceeds it. */
  maxBodyBytes?: number;
}

export const framerDefaults = { maxHeaderBytes: 16384, maxBodyBytes: 65535 } as const;

export type FramerEvent =
  | { type: 'message'; bytes: Buffer }
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'error'; error: SipParseError };

const CRLFCRLF = Buffer.from('\r\n\r\n');

export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  private failed = false;
  private readonly o: Required<FramerOptions>;
  /** Header length and Content-Length of the message being received, once its headers are complete. */
  private pending: { headLen: number; bodyLen: number } | undefined;

  constructor(options: FramerOptions = {}) {
    this.o = { ...framerDefaults, ...options };
  }

  /** Bytes held while waiting for the rest of a message (for memory accounting). */
  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Uint8Array): FramerEvent[] {
    if (this.failed) return [];
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const events: FramerEvent[] = [];
    try {
      for (;;) {
        const ev = this.next();
        if (ev === undefined) break;
        events.push(ev);
      }
    } catch (err) {
      this.failed = true;
      this.buf = Buffer.alloc(0);
      events.push({ type: 'error', error: err instanceof SipParseError ? err : bad(String(err)) });
    }
    return events;
  }

  private next(): FramerEvent | undefined {
    const b = this.buf;
    if (this.pending === undefined) {
      if (b.length === 0) return undefined;
      if (b[0] === 0x0d) {
        // Keep-alive CRLFs between messages (§7.5 lets them precede a start line).
        if (b.length < 2) return undefined;
        if (b[1] !== 0x0a) throw bad('CR not followed by LF between messages');
        if (b.length < 3) return undefined;
        if (b[2] !== 0x0d) return this.consume(2, { type: 'pong' });
        if (b.length < 4) return undefined;
        if (b[3] !== 0x0a) throw bad('CR not followed by LF between messages');
        return this.consume(4, { type: 'ping' });
      }
      const end = b.indexOf(CRLFCRLF);
      if (end < 0) {
        if (b.length > this.o.maxHeaderBytes) {
          throw new SipParseError(513, `header section larger than ${this.o.maxHeaderBytes} bytes`);
        }
        return undefined;
      }
      if (end + 4 > this.o.maxHeaderBytes) {
        throw new SipParseError(513, `header section larger than ${this.o.maxHeaderBytes} bytes`);
      }
      this.pending = { headLen: end + 4, bodyLen: contentLengthOf(b.subarray(0, end).toString('latin1'), this.o.maxBodyBytes) };
    }
    const total = this.pending.headLen + this.pending.bodyLen;
    if (this.buf.length < total) return undefined;
    this.pending = undefined;
    return this.consume(total, { type: 'message', bytes: Buffer.from(this.buf.subarray(0, total)) });
  }

  private consume(n: number, ev: FramerEvent): FramerEvent {
    this.buf = this.buf.subarray(n);
    return ev;
  }
}

/** Content-Length (or its compact form `l`) from a raw header section, with folding taken into account. */
function contentLengthOf(head: string, maxBody: number): number {
  const lines = head.split('\r\n');
  let found: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const m = /^(content-length|l)[ \t]*:(.*)$/i.exec(lines[i]!);
    if (!m) continue;
    let value = m[2]!;
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1]!)) value += ' ' + lines[++i];
    if (found !== undefined) throw bad('more than one Content-Length header');
    found = value.trim();
  }
  if (found === undefined) throw bad('Content-Length is required on a stream transport');
  if (!/^[0-9]{1,10}$/.test(found)) throw bad('Content-Length is not a decimal number');
  const n = Number(found);
  if (n > maxBody) throw new SipParseError(413, `body is larger than ${maxBody} bytes`);
  return n;
}
