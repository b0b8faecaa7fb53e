/**
 * The engine's control stream (native/tls-engine.c), parsed sans-I/O: bytes in, events out. One line per event:
 *   C <fd> <address> <port> <version> <cipher> <resumed 0|1> <ktls 0|1> <verified 0|1> <peer certificate DER base64 | ->
 *   E <address> <port> <reason…>
 * A partial line waits for the rest; a line longer than `maxLineBytes` or of an unknown kind is an error (the
 * engine never writes one).
 */
import { TlsEngineError, TlsEngineErrorCode } from './errors.js';

export interface EngineConnection {
  type: 'connection';
  fd: number;
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

export interface EngineHandshakeError {
  type: 'handshake-error';
  address: string;
  port: number;
  reason: string;
}

export type EngineEvent = EngineConnection | EngineHandshakeError;

export const CONTROL_READER_DEFAULTS = { maxLineBytes: 16384 } as const;

export class ControlReader {
  #pending = '';
  readonly #max: number;

  constructor(o: { maxLineBytes?: number } = {}) {
    this.#max = o.maxLineBytes ?? CONTROL_READER_DEFAULTS.maxLineBytes;
  }

  push(chunk: Buffer): EngineEvent[] {
    this.#pending += chunk.toString('latin1');
    const out: EngineEvent[] = [];
    for (let nl = this.#pending.indexOf('\n'); nl >= 0; nl = this.#pending.indexOf('\n')) {
      out.push(parseLine(this.#pending.slice(0, nl)));
      this.#pending = this.#pending.slice(nl + 1);
    }
    if (this.#pending.length > this.#max)
      throw new TlsEngineError(TlsEngineErrorCode.control, `control line longer than ${this.#max} bytes`);
    return out;
  }
}

function parseLine(line: string): EngineEvent {
  const f = line.split(' ');
  if (f[0] === 'C' && f.length === 10) {
    const fd = Number(f[1]);
    const port = Number(f[3]);
    if (Number.isInteger(fd) && fd >= 0 && Number.isInteger(port))
      return {
        type: 'connection',
        fd,
        address: f[2]!,
        port,
        version: f[4]!,
        cipher: f[5]!,
        resumed: f[6] === '1',
        ktls: f[7] === '1',
        peerVerified: f[8] === '1',
        peerCertificate: f[9] === '-' ? undefined : Buffer.from(f[9]!, 'base64'),
      };
  }
  if (f[0] === 'E' && f.length >= 4) return { type: 'handshake-error', address: f[1]!, port: Number(f[2]), reason: f.slice(3).join(' ') };
  throw new TlsEngineError(TlsEngineErrorCode.control, `unexpected control line: ${JSON.stringify(line.slice(0, 80))}`);
}
