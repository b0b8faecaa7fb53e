/**
 * The phone's RTP endpoint for one call: a UDP socket, and once offer/answer is done the SRTP engine's two
 * contexts (RFC 3711: one per direction, each keyed by its sender's SDES key) or plain RTP when the call fell
 * back. It sends G.711 packets of a 400 Hz tone paced at 20 ms (RFC 3551 §4.5.14: 160 samples a packet) and
 * counts what it receives: decrypted, refused by the engine (with the engine's error codes), plain.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { SrtpErrorCode } from '../../media/errors.js';
import { SrtpContext, SrtpError, type SrtpPolicy } from '../../media/srtp/index.js';
import { RtpStream } from '../../media/streaming/rtp-stream.js';
import { linearToUlaw } from '../../media/streaming/g711.js';

export interface MediaStats {
  sent: number;
  /** Packets received and, for SRTP, authenticated and decrypted. */
  received: number;
  /** SRTP packets the engine refused, by its error code ('ERR_OTHER': a failure that is not the engine's). */
  refused: Partial<Record<SrtpErrorCode | 'ERR_OTHER', number>>;
  /** Payload bytes of the last good packet (after decryption). */
  lastPayload: Buffer | undefined;
  /** SSRCs seen in good packets. */
  ssrcs: Set<number>;
}

export interface MediaSessionOptions {
  /** Address to bind and announce; default 127.0.0.1. */
  address?: string;
  /** Packets to keep at most in flight per send call; default 500 (10 s of audio). */
  maxPacketsPerSend?: number;
}

export class MediaSession {
  readonly stats: MediaStats = { sent: 0, received: 0, refused: {}, lastPayload: undefined, ssrcs: new Set() };
  readonly address: string;
  private readonly socket: Socket;
  private readonly maxPacketsPerSend: number;
  private tx: SrtpContext | undefined;
  private rx: SrtpContext | undefined;
  private remote: { address: string; port: number } | undefined;
  private readonly stream = new RtpStream({
    ssrc: randomInt(1, 2 ** 32 - 1),
    sequence: randomInt(0, 65536),
    timestamp: randomInt(0, 2 ** 32 - 1),
    payloadType: 0,
  });
  private waiters: { count: number; resolve: () => void }[] = [];
  private closed = false;

  private constructor(socket: Socket, address: string, o: MediaSessionOptions) {
    this.socket = socket;
    this.address = address;
    this.maxPacketsPerSend = o.maxPacketsPerSend ?? 500;
    socket.on('message', (msg) => this.onPacket(msg));
  }

  static async open(o: MediaSessionOptions = {}): Promise<MediaSession> {
    const address = o.address ?? '127.0.0.1';
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => {}); // ICMP unreachable while the peer's socket is not up yet: not fatal
    return new MediaSession(socket, address, o);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get secure(): boolean {
    return this.tx !== undefined;
  }

  /** Where to send and with which keys (undefined policies: plain RTP). */
  start(remote: { address: string; port: number }, policies?: { tx: SrtpPolicy; rx: SrtpPolicy }): void {
    this.remote = remote;
    if (policies) {
      this.tx = new SrtpContext(policies.tx);
      this.rx = new SrtpContext(policies.rx);
    }
  }

  /** Sends `count` packets of 20 ms G.711 μ-law tone, one every `intervalMs` (default 20). */
  async sendTone(count: number, intervalMs = 20): Promise<void> {
    if (!this.remote) throw new Error('media not started');
    const n = Math.min(count, this.maxPacketsPerSend);
    for (let i = 0; i < n && !this.closed; i++) {
      const pkt = Buffer.alloc(12 + 160);
      this.stream.writeHeader(pkt, 0, 160);
      for (let s = 0; s < 160; s++)
        pkt[12 + s] = linearToUlaw(Math.round(8000 * Math.sin((2 * Math.PI * 400 * (this.stats.sent * 160 + s)) / 8000)));
      const wire = this.tx ? this.tx.protect(pkt) : pkt;
      await new Promise<void>((resolve) => this.socket.send(wire, this.remote!.port, this.remote!.address, () => resolve()));
      this.stats.sent++;
      if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** Resolves once `count` good packets have arrived in total. */
  waitForPackets(count: number): Promise<void> {
    if (this.stats.received >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  private onPacket(msg: Buffer): void {
    if (msg.length < 12 || (msg[0]! & 0xc0) !== 0x80) return;
    const pt = msg[1]! & 0x7f;
    if (pt >= 72 && pt <= 76) return; // RTCP on the RTP port (RFC 5761 §4): not counted as media
    let plain: Buffer;
    if (this.rx) {
      try {
        plain = this.rx.unprotect(msg);
      } catch (err) {
        const code: keyof MediaStats['refused'] = err instanceof SrtpError ? err.code : 'ERR_OTHER';
        this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1;
        return;
      }
    } else plain = msg;
    this.stats.received++;
    this.stats.ssrcs.add(plain.readUInt32BE(8));
    this.stats.lastPayload = plain.subarray(12 + (plain[0]! & 0x0f) * 4);
    this.waiters = this.waiters.filter((w) => {
      if (this.stats.received < w.count) return true;
      w.resolve();
      return false;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}
