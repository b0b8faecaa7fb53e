/**
 * sbd-mediad's server: music on hold, IVR and annunciator sources from WAV files, sent as RTP or SRTP to many
 * listeners, each with its own negotiated suite and key. Its theory of operation is on `MediaServer`.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes, randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../lib/log.js';
import { silentLogger } from '../../lib/log.js';
import { PacketBuffer, SrtpContext, type Suite } from '../srtp/index.js';
import { formatCryptoAttribute, negotiateCrypto } from '../../sdp/index.js';
import { MediaError, MediaErrorCode } from '../errors.js';
import { PAYLOAD_TYPE, type WavAudio } from './wav.js';
import { RtpStream } from './rtp-stream.js';

export const PACKET_MS = 20;
export const SAMPLES_PER_PACKET = 160; // 20 ms of 8 kHz G.711

export interface MediaServerOptions {
  /** Address the RTP/SRTP socket binds. Default 127.0.0.1. */
  host?: string;
  /** Source UDP port. Default 0 (any). */
  port?: number;
  /** Suites the administrator allows for media streaming. Default both AES_CM_128_HMAC_SHA1 suites. */
  allowedSuites?: Suite[];
  /** Refuse listeners with no common suite instead of sending plain RTP. Default false. */
  blockUnencrypted?: boolean;
  /** Most listeners at once. Default 10000. */
  maxListeners?: number;
  /** Missed ticks a late timer makes up for by sending at once. Default 5. */
  maxCatchUpTicks?: number;
  /**
   * The timer wakes this many ms before a tick is due and waits out the rest on the clock: Node timers have
   * 1 ms granularity and fire up to a millisecond off, more than the pacing goal. Default 1.5; 0 turns it off.
   */
  spinMs?: number;
  logger?: Logger;
}

export interface ListenerRequest {
  source: string;
  address: string;
  port: number;
  /** The listener's offered `a=crypto` lines; none asks for plain RTP (refused under blockUnencrypted). */
  crypto?: string[];
}

export interface ListenerAnswer {
  id: number;
  mode: 'srtp' | 'rtp';
  suite?: Suite;
  /** Our `a=crypto` answer line (the key we send with). */
  crypto?: string;
  ssrc: number;
}

export interface MediaServerStats {
  listeners: number;
  packetsSent: number;
  sendErrors: number;
  ticks: number;
  ticksSkipped: number;
  /** How late ticks ran, in ms: max and the count over 1 ms. */
  maxLatenessMs: number;
  lateTicksOver1ms: number;
}

interface Source {
  name: string;
  audio: WavAudio;
  position: number;
}

interface Listener {
  id: number;
  source: Source;
  address: string;
  port: number;
  stream: RtpStream;
  srtp: SrtpContext | undefined;
  /**
   * Packet buffers in use by sends not yet completed. dgram may queue a send and read the buffer later, so a buffer
   * is reused only once its send callback ran; otherwise (a catch-up burst under load) a fresh one is taken —
   * reusing it at once put the next packet's bytes into the queued one (a duplicated index, seen as a replay).
   */
  free: PacketBuffer[];
}

const packetBytes = 12 + SAMPLES_PER_PACKET + 64;

/**
 * Theory of operation: every source is a loop of G.711 samples played "live" — one clock for the whole server
 * ticks every 20 ms (tick n is due at t0 + 20·n ms, so timer drift never accumulates); on each tick every
 * source advances one frame of 160 samples and every listener of that source gets one packet, built in the
 * listener's own off-heap buffer (PacketBuffer), protected in place by its SRTP context, and sent from one UDP
 * socket. A tick that runs late sends the frames it missed (up to `maxCatchUpTicks`), so receivers see
 * continuous timestamps; beyond that the missed frames are skipped and counted. Listeners come and go through
 * `addListener` / `removeListener` (the SIP side, or the loopback control port of the daemon), which run the
 * SDES negotiation with the media-streaming preference (RFC 4568; 80-bit tag, then 32, then RTP).
 */
export class MediaServer {
  readonly #opts: Required<Omit<MediaServerOptions, 'logger'>> & { logger: Logger };
  readonly #sources = new Map<string, Source>();
  readonly #listeners = new Map<number, Listener>();
  #socket: Socket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #t0 = 0;
  #tick = 0;
  #nextId = 1;
  readonly #stats: MediaServerStats = {
    listeners: 0,
    packetsSent: 0,
    sendErrors: 0,
    ticks: 0,
    ticksSkipped: 0,
    maxLatenessMs: 0,
    lateTicksOver1ms: 0,
  };

  constructor(options: MediaServerOptions = {}) {
    this.#opts = {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      allowedSuites: options.allowedSuites ?? ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'],
      blockUnencrypted: options.blockUnencrypted ?? false,
      maxListeners: options.maxListeners ?? 10000,
      maxCatchUpTicks: options.maxCatchUpTicks ?? 5,
      spinMs: options.spinMs ?? 1.5,
      logger: options.logger ?? silentLogger,
    };
  }

  addSource(name: string, audio: WavAudio): void {
    if (!/^[\w.-]{1,64}$/.test(name)) throw new MediaError(MediaErrorCode.sourceName, `invalid source name "${name}"`);
    if (audio.samples.length < SAMPLES_PER_PACKET)
      throw new MediaError(MediaErrorCode.wavEmpty, `source "${name}" is shorter than one packet`);
    this.#sources.set(name, { name, audio, position: 0 });
  }

  get sources(): string[] {
    return [...this.#sources.keys()];
  }

  async listen(): Promise<{ address: string; port: number }> {
    const socket = createSocket(isIP(this.#opts.host) === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.#opts.port, this.#opts.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.#opts.logger.warn('socket_error', { err }));
    socket.on('message', () => {}); // RTCP from listeners is not used by a one-way source
    this.#socket = socket;
    this.#t0 = performance.now();
    this.#tick = 0;
    this.#schedule();
    const a = socket.address();
    return { address: a.address, port: a.port };
  }

  /** Negotiates and adds a listener; throws MediaError ERR_MEDIA_NO_COMMON_SUITE (statusHint 488) when refused. */
  addListener(req: ListenerRequest): ListenerAnswer {
    const source = this.#sources.get(req.source);
    if (!source) throw new MediaError(MediaErrorCode.sourceUnknown, `no media source "${req.source}"`, { statusHint: 404 });
    if (isIP(req.address) === 0) throw new MediaError(MediaErrorCode.address, `listener address "${req.address}" is not an IP address`);
    if (!Number.isInteger(req.port) || req.port < 1 || req.port > 65535)
      throw new MediaError(MediaErrorCode.address, `listener port ${req.port} outside 1..65535`);
    if (this.#listeners.size >= this.#opts.maxListeners)
      throw new MediaError(MediaErrorCode.tooManyListeners, `at most ${this.#opts.maxListeners} listeners`, { statusHint: 503 });
    const result = negotiateCrypto(req.crypto ?? [], {
      allowed: this.#opts.allowedSuites,
      blockUnencrypted: this.#opts.blockUnencrypted,
      purpose: 'media-streaming',
    });
    if (result.mode === 'reject') throw new MediaError(MediaErrorCode.noCommonSuite, result.reason, { statusHint: 488 });
    const stream = new RtpStream({
      ssrc: randomBytes(4).readUInt32BE(0),
      sequence: randomInt(0, 0x10000),
      timestamp: randomBytes(4).readUInt32BE(0),
      payloadType: PAYLOAD_TYPE[source.audio.codec],
    });
    const srtp = result.mode === 'srtp' ? new SrtpContext({ ...result.txPolicy, maxSsrcs: 1 }) : undefined;
    const id = this.#nextId++;
    this.#listeners.set(id, { id, source, address: req.address, port: req.port, stream, srtp, free: [new PacketBuffer(packetBytes)] });
    this.#stats.listeners = this.#listeners.size;
    this.#opts.logger.info('listener_added', {
      id,
      source: source.name,
      address: req.address,
      port: req.port,
      mode: result.mode,
      suite: result.mode === 'srtp' ? result.suite : undefined,
    });
    return result.mode === 'srtp'
      ? { id, mode: 'srtp', suite: result.suite, crypto: formatCryptoAttribute(result.local), ssrc: stream.ssrc }
      : { id, mode: 'rtp', ssrc: stream.ssrc };
  }

  removeListener(id: number): boolean {
    const l = this.#listeners.get(id);
    if (!l) return false;
    l.srtp?.close();
    this.#listeners.delete(id);
    this.#stats.listeners = this.#listeners.size;
    this.#opts.logger.info('listener_removed', { id });
    return true;
  }

  stats(): MediaServerStats {
    return { ...this.#stats };
  }

  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const id of [...this.#listeners.keys()]) this.removeListener(id);
    const s = this.#socket;
    this.#socket = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Pacing counters start over (benchmarks measure a window). */
  resetPacingStats(): void {
    this.#stats.maxLatenessMs = 0;
    this.#stats.lateTicksOver1ms = 0;
  }

  #schedule(): void {
    const due = this.#t0 + (this.#tick + 1) * PACKET_MS;
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(0, Math.floor(due - performance.now() - this.#opts.spinMs)));
  }

  #onTimer(): void {
    if (!this.#socket) return;
    const due = this.#t0 + (this.#tick + 1) * PACKET_MS;
    let now = performance.now();
    // never send before the tick is due; wait out the last stretch (at most spinMs + the timer's own error)
    while (now < due && due - now <= this.#opts.spinMs + 1) now = performance.now();
    if (now < due) {
      this.#schedule();
      return;
    }
    const behind = Math.floor((now - this.#t0) / PACKET_MS) - this.#tick;
    const lateness = now - (this.#t0 + (this.#tick + 1) * PACKET_MS);
    if (lateness > this.#stats.maxLatenessMs) this.#stats.maxLatenessMs = lateness;
    if (lateness > 1) this.#stats.lateTicksOver1ms++;
    let run = Math.max(1, behind);
    if (run > this.#opts.maxCatchUpTicks) {
      this.#stats.ticksSkipped += run - this.#opts.maxCatchUpTicks;
      for (const s of this.#sources.values())
        s.position = (s.position + (run - this.#opts.maxCatchUpTicks) * SAMPLES_PER_PACKET) % s.audio.samples.length;
      this.#tick += run - this.#opts.maxCatchUpTicks;
      run = this.#opts.maxCatchUpTicks;
    }
    for (let i = 0; i < run; i++) this.#sendTick();
    this.#schedule();
  }

  #sendTick(): void {
    this.#tick++;
    this.#stats.ticks++;
    const socket = this.#socket!;
    for (const l of this.#listeners.values()) {
      const packet = l.free.pop() ?? new PacketBuffer(packetBytes);
      const buf = packet.bytes;
      const h = l.stream.writeHeader(buf, 0, SAMPLES_PER_PACKET);
      copyFrame(l.source, buf, h);
      const n = l.srtp ? l.srtp.protectPacket(packet, 0, h + SAMPLES_PER_PACKET) : h + SAMPLES_PER_PACKET;
      if (n < 0) {
        l.free.push(packet);
        this.#stats.sendErrors++;
        continue;
      }
      socket.send(buf, 0, n, l.port, l.address, (err) => {
        if (err) this.#stats.sendErrors++;
        if (l.free.length < 4) l.free.push(packet);
      });
      this.#stats.packetsSent++;
    }
    for (const s of this.#sources.values()) s.position = (s.position + SAMPLES_PER_PACKET) % s.audio.samples.length;
  }
}

/** The source's current 160 samples, wrapping around the end of the file (the loop). */
function copyFrame(s: Source, out: Buffer, at: number): void {
  const samples = s.audio.samples;
  const first = Math.min(SAMPLES_PER_PACKET, samples.length - s.position);
  samples.copy(out, at, s.position, s.position + first);
  if (first < SAMPLES_PER_PACKET) samples.copy(out, at + first, 0, SAMPLES_PER_PACKET - first);
}
