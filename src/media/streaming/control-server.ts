/**
 * The media daemon's control port: JSON lines over TCP on loopback, so the SIP daemon (or an administrator with
 * `nc`) can attach listeners with their SDES offer and detach them. One request per line, one answer per line:
 *   {"op":"add","source":"moh","address":"127.0.0.1","port":40000,"crypto":["1 AES_CM_128_HMAC_SHA1_80 inline:..."]}
 *     → {"ok":true,"id":1,"mode":"srtp","suite":"AES_CM_128_HMAC_SHA1_80","crypto":"1 AES_CM_... inline:...","ssrc":…}
 *   {"op":"remove","id":1} → {"ok":true}        {"op":"stats"} → {"ok":true,"stats":{…}}
 *   errors → {"ok":false,"code":"ERR_…","message":"…","status":488}
 */
import { createServer, type Server, type Socket } from 'node:net';
import { isSbdError } from '../../lib/errors.js';
import { MediaError, MediaErrorCode } from '../errors.js';
import type { MediaServer } from './media-server.js';

export interface ControlServerOptions {
  /** Bind address; loopback only by default (no authentication on this port). Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any). */
  port?: number;
  /** Longest request line, bytes. Default 65536. */
  maxLineBytes?: number;
  /** Most simultaneous control connections. Default 16. */
  maxConnections?: number;
}

export class MediaControlServer {
  readonly #server: Server;
  readonly #media: MediaServer;
  readonly #opts: Required<ControlServerOptions>;

  constructor(media: MediaServer, options: ControlServerOptions = {}) {
    this.#media = media;
    this.#opts = {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      maxLineBytes: options.maxLineBytes ?? 65536,
      maxConnections: options.maxConnections ?? 16,
    };
    this.#server = createServer((s) => this.#onConnection(s));
    this.#server.maxConnections = this.#opts.maxConnections;
  }

  listen(): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        const a = this.#server.address() as { address: string; port: number };
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** One request object in, one answer object out (also used directly in tests and by in-process callers). */
  handle(req: unknown): Record<string, unknown> {
    try {
      const r = req as Record<string, unknown>;
      if (typeof r !== 'object' || r === null) throw new MediaError(MediaErrorCode.control, 'request must be a JSON object');
      switch (r.op) {
        case 'add': {
          const crypto = r.crypto === undefined ? [] : r.crypto;
          if (!Array.isArray(crypto) || !crypto.every((c) => typeof c === 'string'))
            throw new MediaError(MediaErrorCode.control, '"crypto" must be an array of strings');
          const ans = this.#media.addListener({ source: String(r.source), address: String(r.address), port: Number(r.port), crypto });
          return { ok: true, ...ans };
        }
        case 'remove':
          return { ok: this.#media.removeListener(Number(r.id)) };
        case 'stats':
          return { ok: true, stats: this.#media.stats(), sources: this.#media.sources };
        default:
          throw new MediaError(MediaErrorCode.control, `unknown op ${JSON.stringify(r.op)}`);
      }
    } catch (err) {
      const e = err as Error & { code?: string };
      return {
        ok: false,
        code: e.code ?? MediaErrorCode.control,
        message: e.message,
        ...(isSbdError(err) && err.statusHint ? { status: err.statusHint } : {}),
      };
    }
  }

  #onConnection(socket: Socket): void {
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      pending += chunk;
      if (pending.length > this.#opts.maxLineBytes && !pending.includes('\n')) {
        socket.end(
          JSON.stringify({
            ok: false,
            code: MediaErrorCode.controlTooLong,
            message: `request line over ${this.#opts.maxLineBytes} bytes`,
          }) + '\n',
        );
        return;
      }
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        let req: unknown;
        try {
          req = JSON.parse(line);
        } catch {
          socket.write(JSON.stringify({ ok: false, code: MediaErrorCode.controlJson, message: 'request is not JSON' }) + '\n');
          continue;
        }
        socket.write(JSON.stringify(this.handle(req)) + '\n');
      }
    });
  }
}
