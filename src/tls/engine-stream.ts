/**
 * Node's side of the TLS engine's streams (native/tls-mux.c): `EngineLink` reads one worker's stream and sends
 * frames back (all frames of one turn of the event loop in one write); `EngineStream` is one connection, a Duplex
 * with the surface the daemons use of a net.Socket (remote address, setTimeout, setNoDelay, end/destroy, cork). It holds no file
 * descriptor and no libuv handle: that is what makes a connection cheap (docs/tls.md "Stream").
 * Flow control both ways with the engine's window: data from the engine is credited back as the daemon reads it
 * (a paused daemon stops the engine, which stops reading TLS), and no more than the window is sent before the
 * engine credits it as written to TLS (the writer sees backpressure as from a socket).
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { encodeCredit, encodeFrame, type Frame, FrameKind, FrameReader, STREAM_CODEC_DEFAULTS } from './stream-codec.js';

/** The session facts of a connection from the engine. */
export interface EngineTlsInfo {
  version: string;
  cipher: string;
  resumed: boolean;
  ktls: boolean;
  /** The peer certificate chained to the client CAs (node:tls's `authorized`). */
  peerVerified: boolean;
  peerCertificate: Buffer | undefined;
}

/** A credit nobody waits for goes with the next write, or after this (native/tls-internal.h SBD_TLS_LAZY_MS). */
const LAZY_MS = 20;

export class EngineLink {
  readonly socket: Socket;
  readonly window: number;
  readonly streams = new Map<number, EngineStream>();
  readonly #reader = new FrameReader();
  #out: Buffer[] = [];
  /** Streams with credit to give that the engine does not need yet. */
  readonly #lazy = new Set<EngineStream>();
  #scheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(socket: Socket, window: number, onFrame: (link: EngineLink, f: Frame) => void, onError: (e: unknown) => void) {
    this.socket = socket;
    this.window = window;
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.#reader.push(chunk);
      } catch (e) {
        onError(e);
        socket.destroy();
        return;
      }
      for (const f of frames) onFrame(this, f);
    });
    socket.on('error', onError);
    // The engine closed its end (freed): every connection on it is gone.
    socket.on('close', () => {
      this.#closed = true;
      for (const s of [...this.streams.values()]) s.engineClosed();
    });
  }

  /** Queues a frame; all frames of one turn of the event loop leave in one write. A lazy one waits for the next
   * write (or LAZY_MS). */
  send(frame: Buffer, lazy = false): void {
    if (this.#closed) return;
    this.#out.push(frame);
    this.#schedule(lazy);
  }

  /** The stream's credit goes with the next write (EngineStream.takeCredit). */
  lazyCredit(s: EngineStream): void {
    this.#lazy.add(s);
    this.#schedule(true);
  }

  forget(s: EngineStream): void {
    this.#lazy.delete(s);
  }

  #schedule(lazy: boolean): void {
    if (this.#scheduled) return;
    if (!lazy) {
      this.#scheduled = true;
      // After this turn of the event loop's I/O, not after this tick: what a frame's handling sets off over several
      // ticks (a daemon's end() on the peer's END: our END, then the destroy's CLOSE) leaves in the same write.
      setImmediate(() => this.#flush());
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#flush(), LAZY_MS);
      this.#timer.unref();
    }
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const s of this.#lazy) s.takeCredit();
    this.#lazy.clear();
    const out = this.#out;
    this.#out = [];
    if (!this.#closed && out.length) this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  destroy(): void {
    this.#closed = true;
    this.socket.destroy();
  }
}

export class EngineStream extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: 'IPv4' | 'IPv6';
  readonly tls: EngineTlsInfo;
  readonly #link: EngineLink;
  /** 0 once the id is given back (after our close frame): nothing more is sent for it. */
  #id: number;
  /** Bytes the reader took and the engine was not yet told of. */
  #owed = 0;
  /** Bytes pushed while the reader was full: credited once it reads again. */
  #unread = 0;
  /** Bytes sent to the engine that it has not yet credited as written to TLS. */
  #unacked = 0;
  #pending: { chunk: Buffer; off: number; cb: (e?: Error | null) => void } | undefined;
  #timeoutMs = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(link: EngineLink, id: number, address: string, port: number, tls: EngineTlsInfo) {
    super({ allowHalfOpen: false });
    this.#link = link;
    this.#id = id;
    this.remoteAddress = address;
    this.remotePort = port;
    this.remoteFamily = address.includes(':') ? 'IPv6' : 'IPv4';
    this.tls = tls;
    link.streams.set(id, this);
  }

  /** A frame from the engine for this connection. */
  onFrame(kind: number, payload: Buffer): void {
    if (kind === FrameKind.data) {
      this.#activity();
      if (this.push(payload)) this.#owed += payload.length;
      else this.#unread += payload.length;
      this.#credit();
    } else if (kind === FrameKind.end) {
      this.push(null);
    } else if (kind === FrameKind.credit && payload.length === 4) {
      this.#unacked = Math.max(0, this.#unacked - payload.readUInt32LE(0));
      this.#pump();
    } else if (kind === FrameKind.close) {
      this.engineClosed();
    }
  }

  /** The engine closed the connection (or the whole stream): the id goes back, what is unread stays readable. */
  engineClosed(): void {
    this.#release(true);
    this.push(null);
    const p = this.#pending;
    this.#pending = undefined;
    p?.cb(); // nowhere to go: dropped, as a socket's queued bytes are at a reset
  }

  /** The id goes back: at once when we close first (the engine then closes TCP), lazily as the answer to its close. */
  #release(lazy = false): void {
    if (!this.#id) return;
    this.#link.send(encodeFrame(this.#id, FrameKind.close), lazy);
    this.#link.streams.delete(this.#id);
    this.#link.forget(this);
    this.#id = 0;
  }

  /** Credit at once when the engine may be near the window (half of it unacknowledged), else with the next write. */
  #credit(): void {
    if (!this.#id || this.#owed === 0) return;
    if (this.#owed + this.#unread >= this.#link.window / 2) this.takeCredit();
    else this.#link.lazyCredit(this);
  }

  /** Queues the credit owed (EngineLink's flush, or at once). */
  takeCredit(): void {
    if (this.#id && this.#owed > 0) this.#link.send(encodeCredit(this.#id, this.#owed));
    this.#owed = 0;
  }

  override _read(): void {
    this.#owed += this.#unread;
    this.#unread = 0;
    this.#credit();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.#activity();
    this.#pending = { chunk, off: 0, cb };
    this.#pump();
  }

  #pump(): void {
    const p = this.#pending;
    if (!p) return;
    const max = STREAM_CODEC_DEFAULTS.maxDataBytes;
    while (this.#id && p.off < p.chunk.length && this.#unacked < this.#link.window) {
      const n = Math.min(this.#link.window - this.#unacked, max, p.chunk.length - p.off);
      this.#link.send(encodeFrame(this.#id, FrameKind.data, p.chunk.subarray(p.off, p.off + n)));
      this.#unacked += n;
      p.off += n;
    }
    if (p.off === p.chunk.length || !this.#id) {
      this.#pending = undefined;
      p.cb();
    }
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (this.#id) this.#link.send(encodeFrame(this.#id, FrameKind.end));
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#release();
    const p = this.#pending;
    this.#pending = undefined;
    cb(err);
    p?.cb();
  }

  /** net.Socket's: 'timeout' after `ms` without reads or writes (0 turns it off); `cb` listens once. */
  setTimeout(ms: number, cb?: () => void): this {
    this.#timeoutMs = ms;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (ms > 0 && !this.destroyed) {
      this.#timer = setTimeout(() => this.emit('timeout'), ms);
      this.#timer.unref();
    }
    if (cb) {
      if (ms > 0) this.once('timeout', cb);
      else this.removeListener('timeout', cb);
    }
    return this;
  }

  #activity(): void {
    if (this.#timeoutMs > 0) this.#timer?.refresh();
  }

  /** No TCP socket here (the engine owns it and sends at once): accepted for net.Socket's callers. */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  setKeepAlive(_enable?: boolean, _delayMs?: number): this {
    return this;
  }
}
