/**
 * Stream framing for TCP/TLS (RFC 3261 §18.3): a message ends Content-Length bytes after the empty line that
 * ends its headers; Content-Length is mandatory on streams. Also RFC 5626 §3.5.1 keep-alives: a double CRLF
 * ("ping") between messages asks for a single CRLF ("pong").
 *
 * Sans-I/O: `push(chunk)` returns the events the bytes complete, whatever the chunk boundaries. After an error
 * the stream cannot be resynchronised, so the framer stays failed and the transport closes the connection.
 */
import { SipParseError, bad } from './errors.js';
import { isDigits, trimWs } from './syntax.js';

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

/**
 * Linear in the bytes received however they are split (issue 16 row 4/8: a peer trickling one byte at a time
 * must not make each byte cost the whole buffer): bytes are appended into a buffer that grows by doubling and is
 * compacted only when half of it is consumed, and the search for the empty line resumes where it stopped.
 */
export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** Live bytes are buf[start, end). */
  private start = 0;
  private end = 0;
  /** Offset (from `start`) where the search for CRLFCRLF resumes: everything before it holds none. */
  private searched = 0;
  private failed = false;
  private readonly opts: Required<FramerOptions>;
  /** Header length and Content-Length of the message being received, once its headers are complete. */
  private pending: { headLen: number; bodyLen: number } | undefined;
  /** Bytes copied and searched so far: tests check it stays proportional to the bytes pushed. */
  work = 0;

  constructor(options: FramerOptions = {}) {
    this.opts = { ...framerDefaults, ...options };
  }

  /** Bytes held while waiting for the rest of a message (for memory accounting). */
  get buffered(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): FramerEvent[] {
    if (this.failed) return [];
    this.append(chunk);
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
      this.start = this.end = this.searched = 0;
      events.push({ type: 'error', error: err instanceof SipParseError ? err : bad(String(err)) });
    }
    if (this.start === this.end) this.start = this.end = 0;
    return events;
  }

  private append(chunk: Uint8Array): void {
    const live = this.end - this.start;
    if (this.end + chunk.length > this.buf.length) {
      if (live + chunk.length <= this.buf.length >>> 1) {
        // At least half the buffer was consumed since it last grew: slide the live bytes down.
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, live + chunk.length, 4096));
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.work += live;
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
    this.work += chunk.length;
  }

  private next(): FramerEvent | undefined {
    const b = this.buf;
    const live = this.end - this.start;
    if (this.pending === undefined) {
      if (live === 0) return undefined;
      const s = this.start;
      if (b[s] === 0x0d) {
        // Keep-alive CRLFs between messages (§7.5 lets them precede a start line).
        if (live < 2) return undefined;
        if (b[s + 1] !== 0x0a) throw bad('CR not followed by LF between messages');
        if (live < 3) return undefined;
        if (b[s + 2] !== 0x0d) return this.consume(2, { type: 'pong' });
        if (live < 4) return undefined;
        if (b[s + 3] !== 0x0a) throw bad('CR not followed by LF between messages');
        return this.consume(4, { type: 'ping' });
      }
      const from = s + Math.max(0, this.searched - 3);
      const at = b.subarray(0, this.end).indexOf(CRLFCRLF, from);
      this.work += (at < 0 ? this.end : at + 4) - from;
      if (at < 0) {
        this.searched = live;
        if (live > this.opts.maxHeaderBytes) {
          throw new SipParseError(513, `header section larger than ${this.opts.maxHeaderBytes} bytes`);
        }
        return undefined;
      }
      const end = at - s;
      if (end + 4 > this.opts.maxHeaderBytes) {
        throw new SipParseError(513, `header section larger than ${this.opts.maxHeaderBytes} bytes`);
      }
      this.work += end;
      this.pending = { headLen: end + 4, bodyLen: contentLengthOf(b.toString('latin1', s, at), this.opts.maxBodyBytes) };
    }
    const total = this.pending.headLen + this.pending.bodyLen;
    if (live < total) return undefined;
    this.pending = undefined;
    this.work += total;
    return this.consume(total, { type: 'message', bytes: Buffer.from(b.subarray(this.start, this.start + total)) });
  }

  private consume(n: number, ev: FramerEvent): FramerEvent {
    this.start += n;
    this.searched = 0;
    return ev;
  }
}

/** Content-Length (or its compact form `l`) from a raw header section, with folding taken into account. */
function contentLengthOf(head: string, maxBody: number): number {
  const lines = head.split('\r\n');
  let found: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const value0 = contentLengthValue(lines[i]!);
    if (value0 === undefined) continue;
    let value = value0;
    while (i + 1 < lines.length && (lines[i + 1]![0] === ' ' || lines[i + 1]![0] === '\t')) value += ' ' + lines[++i];
    if (found !== undefined) throw bad('more than one Content-Length header');
    found = trimWs(value);
  }
  if (found === undefined) throw bad('Content-Length is required on a stream transport');
  if (found.length > 10 || !isDigits(found)) throw bad('Content-Length is not a decimal number');
  const n = Number(found);
  if (n > maxBody) throw new SipParseError(413, `body is larger than ${maxBody} bytes`);
  return n;
}

/** The value after `Content-Length:` or `l:` (any case, SP/HT before the colon), else undefined. */
function contentLengthValue(line: string): string | undefined {
  let i: number;
  const c0 = line.charCodeAt(0) | 0x20;
  if (c0 === 0x6c && (line.length === 1 || line[1] === ':' || line[1] === ' ' || line[1] === '\t')) i = 1;
  else if (line.length >= 14 && line.slice(0, 14).toLowerCase() === 'content-length') i = 14;
  else return undefined;
  while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
  return line[i] === ':' ? line.slice(i + 1) : undefined;
}
