/**
 * TFTP client I/O shell over the pure `ClientTransfer` core: `fetchFile` for one download, `TftpClientPool` for
 * thousands at once in one process (the phone simulator, the boot-storm bench).
 *
 * Multiplexing: a pool socket carries many transfers at once. Replies are routed by the server's TID (its source
 * address and port, RFC 1350 §4). Only the first reply of a transfer comes from a port not seen before, so each
 * socket has at most one transfer waiting for its first reply; more requests queue until one is answered.
 * A finished transfer's TID is remembered (`forgetMs`): the server's last DATA, sent again seconds late under load,
 * must not be taken for the first reply of the next transfer on the socket (it would get the last file's bytes).
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { TransferAction } from './core/actions.js';
import { ClientTransfer, isLastDataAgain } from './core/client-transfer.js';
import { encodeError } from './core/packet.js';
import { TftpError, TftpErrorCode, tftpErrors } from './core/errors.js';
import type { RequestedOptions } from './core/options.js';

export interface FetchRequest {
  /** Server address (IPv4 or IPv6 literal). */
  server: string;
  /** Server request port. Default 69. */
  port?: number;
  name: string;
  mode?: 'octet' | 'netascii';
  blksize?: number;
  /** Ask for the size (RFC 2349). */
  tsize?: boolean;
  windowsize?: number;
  /** RFC 2349 timeout option, seconds (sent to the server; also our retransmission timeout). */
  timeout?: number;
  /** Our retransmission timeout when no `timeout` option is sent. Default 1000 ms. */
  timeoutMs?: number;
  /** Timeouts in a row before giving up. Default 5. */
  retries?: number;
  /** Largest file accepted. Default 64 MiB. */
  maxBytes?: number;
  /** `fetchFile` only: local address to bind. Default any address of the server's family. */
  localAddress?: string;
}

export interface FetchResult {
  data: Buffer;
  retransmissions: number;
  durationMs: number;
  blksize: number;
  windowsize: number;
  tsize: number | undefined;
  /** The server refused our options (error 8) and the file came without them. */
  fellBack: boolean;
}

export interface TftpClientPoolOptions {
  /** Sockets in the pool. Default 64. */
  sockets?: number;
  /** Local addresses the sockets bind to, round-robin. Default ['0.0.0.0'] for IPv4, ['::'] for IPv6. */
  localAddresses?: string[];
  family?: 'IPv4' | 'IPv6';
  /** How often transfer deadlines are checked. Default 20 ms. */
  timerResolutionMs?: number;
  /** How long a finished transfer still answers a repeated last block (RFC 1350 §6 dally). Default 1000 ms. */
  dallyMs?: number;
  /** How long a finished transfer's TID is recognised, so its late last DATA is not taken for another transfer's
   *  first reply. Default 15000 ms (a server's retransmissions: 5 × 1 s, longer when it is loaded). */
  forgetMs?: number;
  /** How long a socket takes no new request after one whose RRQ was sent again (`Slot.quietUntil`). Default 10000 ms. */
  ghostMs?: number;
  /** Socket receive buffer. Default 4 MiB (capped by net.core.rmem_max). */
  recvBufferSize?: number;
  /** Transfers one socket carries at once (servers limit transfers per client address). Default 8. */
  maxTransfersPerSocket?: number;
}

interface Job {
  req: FetchRequest;
  core: ClientTransfer;
  slot: Slot | undefined;
  tidKey: string | undefined;
  deadline: number;
  started: number;
  resolve: (r: FetchResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  socket: dgram.Socket;
  pending: Job | undefined;
  byTid: Map<string, Job>;
  /** TIDs of finished transfers → their final ACK (answered again until `reAckUntil`, recognised until `forgetAt`). */
  finished: Map<string, { finalAck: Buffer; reAckUntil: number; forgetAt: number }>;
  /** After a request whose RRQ went out more than once, no new request waits for a first reply here until then:
   *  the server may answer each copy with a transfer, and the late one would be taken for the next request's. */
  quietUntil: number;
  /** Transfers on this socket not finished yet (the pending one included). */
  running: number;
  /** `server|port|name` of those transfers: a server cannot tell a second request for the same file from the
   *  same port from a retransmitted one, so a socket never carries two at once. */
  names: Set<string>;
}

export class TftpClientPool {
  /** Retransmissions of finished transfers, summed. */
  retransmissions = 0;
  private readonly opts: Required<Omit<TftpClientPoolOptions, 'localAddresses'>> & { localAddresses: string[] };
  private slots: Slot[] = [];
  private ready: Promise<void> | undefined;
  private readonly queue: Job[] = [];
  private readonly jobs = new Set<Job>();
  private sweep: NodeJS.Timeout | undefined;
  private nextSlot = 0;
  private closed = false;

  constructor(options: TftpClientPoolOptions = {}) {
    const family = options.family ?? 'IPv4';
    this.opts = {
      sockets: options.sockets ?? 64,
      family,
      localAddresses: options.localAddresses ?? [family === 'IPv6' ? '::' : '0.0.0.0'],
      timerResolutionMs: options.timerResolutionMs ?? 20,
      dallyMs: options.dallyMs ?? 1000,
      forgetMs: options.forgetMs ?? 15_000,
      ghostMs: options.ghostMs ?? 10_000,
      recvBufferSize: options.recvBufferSize ?? 4 * 1024 * 1024,
      maxTransfersPerSocket: options.maxTransfersPerSocket ?? 8,
    };
  }

  fetch(req: FetchRequest): Promise<FetchResult> {
    if (this.closed) return Promise.reject(new TftpError('ERR_TFTP_CLOSED', 'client pool is closed'));
    return this.open().then(
      () =>
        new Promise<FetchResult>((resolve, reject) => {
          const request: RequestedOptions = { blksize: req.blksize, tsize: req.tsize, windowsize: req.windowsize, timeoutS: req.timeout };
          const core = new ClientTransfer({
            filename: req.name,
            mode: req.mode ?? 'octet',
            request,
            serverPort: req.port ?? 69,
            timeoutMs: req.timeoutMs ?? 1000,
            maxRetries: req.retries ?? 5,
            maxBytes: req.maxBytes ?? 64 * 1024 * 1024,
          });
          const job: Job = {
            req,
            core,
            slot: undefined,
            tidKey: undefined,
            deadline: Infinity,
            started: performance.now(),
            resolve,
            reject,
          };
          this.jobs.add(job);
          this.queue.push(job);
          this.drain();
        }),
    );
  }

  /** Transfers running or queued. */
  get inFlight(): number {
    return this.jobs.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweep) clearInterval(this.sweep);
    for (const job of [...this.jobs]) this.settle(job, false, 'client pool closed');
    await Promise.all(this.slots.map((s) => new Promise<void>((r) => s.socket.close(() => r()))));
    this.slots = [];
  }

  /** Creates and binds the pool's sockets (done by the first fetch otherwise; a bench does it before timing). */
  open(): Promise<void> {
    this.ready ??= this.bindAll();
    return this.ready;
  }

  private async bindAll(): Promise<void> {
    const { sockets, localAddresses, recvBufferSize } = this.opts;
    const binds: Promise<void>[] = [];
    for (let i = 0; i < sockets; i++) {
      const address = localAddresses[i % localAddresses.length]!;
      const socket = dgram.createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4', recvBufferSize });
      const slot: Slot = { socket, pending: undefined, byTid: new Map(), finished: new Map(), quietUntil: 0, running: 0, names: new Set() };
      socket.on('message', (msg, rinfo) => this.onMessage(slot, msg, rinfo));
      socket.on('error', () => {
        /* ICMP errors surface as send errors on some stacks; the transfer's timer handles the loss */
      });
      binds.push(
        new Promise((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ port: 0, address }, () => {
            socket.off('error', reject);
            resolve();
          });
        }),
      );
      this.slots.push(slot);
    }
    await Promise.all(binds);
    this.sweep = setInterval(() => this.onSweep(), this.opts.timerResolutionMs);
  }

  /** Give queued jobs to sockets that have no transfer waiting for its first reply. */
  private drain(): void {
    const n = this.slots.length;
    for (let tries = 0; this.queue.length > 0 && tries < n; tries++) {
      const slot = this.slots[this.nextSlot]!;
      this.nextSlot = (this.nextSlot + 1) % n;
      if (slot.pending || slot.running >= this.opts.maxTransfersPerSocket || slot.quietUntil > Date.now()) continue;
      const at = this.queue.findIndex((j) => !slot.names.has(jobName(j)));
      if (at === -1) continue;
      const job = this.queue.splice(at, 1)[0]!;
      slot.pending = job;
      slot.running++;
      slot.names.add(jobName(job));
      job.slot = slot;
      job.started = performance.now();
      tries = -1; // a slot was used; scan all of them again for the next job
      this.apply(job, job.core.start(Date.now()));
    }
  }

  private onMessage(slot: Slot, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    let job = slot.byTid.get(key);
    if (job === undefined) {
      const done = slot.finished.get(key);
      if (done !== undefined) {
        if (isLastDataAgain(msg, done.finalAck)) {
          if (Date.now() <= done.reAckUntil) slot.socket.send(done.finalAck, rinfo.port, rinfo.address);
          return;
        }
        // Anything else from that port: the server has reused it for a new transfer.
        slot.finished.delete(key);
      }
      const p = slot.pending;
      if (p && sameHost(p.req.server, rinfo.address)) job = p;
      else {
        // RFC 1350 §4: not a transfer of ours.
        slot.socket.send(encodeError(TftpErrorCode.unknownTransferId, tftpErrors.ERR_TFTP_UNKNOWN_TID.message), rinfo.port, rinfo.address);
        return;
      }
    }
    const actions = job.core.receive(msg, rinfo.port, Date.now());
    if (job.tidKey === undefined && job.core.serverTid === rinfo.port) {
      // The first reply fixed the TID: route by it from now on and free the socket for the next request.
      job.tidKey = key;
      slot.byTid.set(key, job);
      if (slot.pending === job) this.leavePending(slot, job);
      this.apply(job, actions);
      this.drain();
      return;
    }
    this.apply(job, actions);
  }

  private apply(job: Job, actions: TransferAction[]): void {
    for (const act of actions) {
      if (act.type === 'send') {
        if (job.slot) job.slot.socket.send(act.bytes, act.port ?? job.core.serverTid ?? job.req.port ?? 69, job.req.server);
      } else if (act.type === 'timer') job.deadline = act.at;
      else this.settle(job, act.ok, act.reason, act.tftpCode);
    }
  }

  private settle(job: Job, ok: boolean, reason: string, tftpCode?: number): void {
    if (!this.jobs.delete(job)) return;
    job.deadline = Infinity;
    const slot = job.slot;
    if (slot) {
      slot.running--;
      slot.names.delete(jobName(job));
      if (slot.pending === job) this.leavePending(slot, job);
      if (this.queue.length > 0) queueMicrotask(() => this.drain());
    }
    if (!slot) {
      const i = this.queue.indexOf(job);
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.retransmissions += job.core.retransmissions;
    if (ok) {
      const finalAck = job.core.finalAck();
      if (job.tidKey && slot) {
        slot.byTid.delete(job.tidKey);
        const now = Date.now();
        slot.finished.delete(job.tidKey); // re-inserted at the end: the map stays in forgetAt order
        if (finalAck) slot.finished.set(job.tidKey, { finalAck, reAckUntil: now + this.opts.dallyMs, forgetAt: now + this.opts.forgetMs });
      }
      const p = job.core.params;
      job.resolve({
        data: job.core.data(),
        retransmissions: job.core.retransmissions,
        durationMs: performance.now() - job.started,
        blksize: p.blksize,
        windowsize: p.windowsize,
        tsize: job.core.tsize,
        fellBack: job.core.fellBack,
      });
    } else {
      if (job.tidKey && slot) slot.byTid.delete(job.tidKey);
      job.reject(
        new TftpError(tftpCode === TftpErrorCode.fileNotFound ? 'ERR_TFTP_NOT_FOUND' : 'ERR_TFTP_TRANSFER', `${job.req.name}: ${reason}`, {
          tftpCode: (tftpCode ?? 0) as TftpErrorCode,
        }),
      );
    }
  }

  private leavePending(slot: Slot, job: Job): void {
    slot.pending = undefined;
    // Retransmitted RRQs: a second transfer of this file may still come (and get error 5, nothing waits for it).
    if (job.core.retransmissions > 0) slot.quietUntil = Date.now() + this.opts.ghostMs;
  }

  private onSweep(): void {
    const now = Date.now();
    if (this.queue.length > 0) this.drain(); // sockets whose quiet time ended
    for (const job of this.jobs) {
      if (job.deadline <= now) {
        job.deadline = Infinity;
        this.apply(job, job.core.timeout(now));
      }
    }
    for (const slot of this.slots) {
      // Insertion order is forgetAt order: stop at the first one still remembered.
      for (const [key, done] of slot.finished) {
        if (done.forgetAt > now) break;
        slot.finished.delete(key);
      }
    }
  }
}

function jobName(job: Job): string {
  return `${job.req.server}|${job.req.port ?? 69}|${job.req.name}`;
}

function sameHost(server: string, address: string): boolean {
  return server === address || (server === 'localhost' && (address === '127.0.0.1' || address === '::1'));
}

/** Download one file. */
export async function fetchFile(req: FetchRequest): Promise<FetchResult> {
  const family = isIPv6(req.server) ? 'IPv6' : 'IPv4';
  const pool = new TftpClientPool({ sockets: 1, family, dallyMs: 0, ...(req.localAddress ? { localAddresses: [req.localAddress] } : {}) });
  try {
    return await pool.fetch(req);
  } finally {
    await pool.close();
  }
}
