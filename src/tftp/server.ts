/**
 * sbd-tftpd's I/O shell: UDP sockets, the timer sweep, limits, counters and log lines around the pure cores in
 * ./core. Read-only (RFC 1350 write requests are refused with error 2). Each running transfer has its own socket
 * (its TID, RFC 1350 §4; a stranger's datagram there gets error 5), taken from a pool where ended transfers' sockets
 * rest `tidReuseDelayMs` first. A retransmitted RRQ is left to the running transfer; over the concurrency limits a
 * request is dropped unanswered, so the client retries. A transfer is unverified until its peer acknowledges
 * something (sources can be forged): fewer resends, a per-address bound that evicts the oldest unverified transfer
 * rather than lock a phone out. docs/tftp.md ("What works", "Spoofed requests") has the whole story.
 */
import dgram from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import type { TransferAction } from './core/actions.js';
import { TftpError, TftpErrorCode, printable, tftpErrors } from './core/errors.js';
import { judgeRequest } from './core/request.js';
import type { TftpServerLike } from './server-like.js';
import { toNetascii } from './core/netascii.js';
import { defaultNegotiationLimits, negotiate } from './core/options.js';
import { checkTftpLimits, limitDefaults } from './limits.js';
import { encodeError, Opcode } from './core/packet.js';
import { ServerTransfer, type ServerTransferLimits } from './core/server-transfer.js';
import { DataPacketCache } from './core/data-packets.js';
import type { NegotiationLimits } from './core/options.js';
import type { TftpClientInfo, TftpFileSource } from './file-source.js';
import { createLogger, type Logger } from '../lib/log.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { SbdError } from '../lib/errors.js';

export interface TftpServerOptions {
  source: TftpFileSource;
  /** Addresses to listen on; one request socket each. Default ['127.0.0.1']. '::' is dual-stack. */
  addresses?: string[];
  /** Request port. Default 69; 0 picks a free port per address (tests). */
  port?: number;
  /** Transfers running at once, server-wide. Default 16384. Requests over it are dropped (the client retries). */
  maxTransfers?: number;
  /** Transfers running at once per client address. Default 16. */
  maxTransfersPerClient?: number;
  /** Timeouts in a row before a transfer is abandoned, once its peer has acknowledged something. Default 5. */
  maxRetries?: number;
  /** Timeouts before a transfer whose peer never acknowledged anything is abandoned (resends toward a source that
   *  may be spoofed). Default 1. */
  maxRetriesUnverified?: number;
  /** Total lifetime of a transfer, ms, however it is going. Default 120000. */
  maxTransferLifetimeMs?: number;
  /** Unverified transfers (no ACK yet) running at once per client address; a request over it evicts the oldest.
   *  Default 8: half of maxTransfersPerClient, so a client's own parallel requests fit. A spoofer bearing a phone's
   *  address must then send 8 RRQs within the phone's round trip to push its transfer out. */
  maxUnverifiedPerClient?: number;
  /** Retransmission timeout when the client did not negotiate one (RFC 2349). Default 1000 ms. */
  timeoutMs?: number;
  /** RFC 2349 timeout values accepted, seconds; others are declined (core/options.ts). Defaults 1 and 10. */
  minTimeoutS?: number;
  maxTimeoutS?: number;
  /** Largest blksize granted (RFC 2348). Default 65464. */
  maxBlksize?: number;
  /** Largest windowsize granted (RFC 7440). Default 64. */
  maxWindowsize?: number;
  /** Longest file name accepted. Default 255. */
  maxFilenameLength?: number;
  /** Largest request datagram accepted (RFC 2347 §2: requests fit in 512 bytes). Default 512. */
  maxRequestBytes?: number;
  /** Serve netascii mode. Default true. */
  netascii?: boolean;
  /** Kernel receive buffer of each request socket (bursts of RRQs). Default 4 MiB (capped by net.core.rmem_max). */
  recvBufferSize?: number;
  /** How often transfer deadlines are checked. Default 20 ms. */
  timerResolutionMs?: number;
  /** How long a transfer socket rests after its transfer ended before another transfer may use its port (late
   *  packets of the peer it served are dropped quietly meanwhile instead of drawing error 5). Default 250 ms: far
   *  above a LAN round trip, and at R transfers a second R × this many sockets rest (what longer rests cost in a
   *  boot storm: docs/tftp.md, boot-storm benchmark). */
  tidReuseDelayMs?: number;
  /** Files up to this size have their DATA packets built once per blksize and shared by every transfer of the same
   *  bytes (core/data-packets.ts). Default 1 MiB; 0 builds every packet per transfer. */
  packetCacheMaxFileBytes?: number;
  /** Blksizes per file whose packets are kept. Default 2. */
  packetCacheVariantsPerFile?: number;
  /** Transfer sockets kept open for reuse while no transfer uses them. Default 1024; 0 closes each socket when its
   *  transfer ends (a fresh port per transfer). */
  maxIdleSockets?: number;
  /** Log lines per second for refused requests and failed transfers; the rest are counted. Default 100. */
  maxLogLinesPerSecond?: number;
  logger?: Logger;
  clock?: Clock;
}

export type ResolvedTftpServerOptions = Required<Omit<TftpServerOptions, 'source' | 'logger' | 'clock'>>;
type Resolved = ResolvedTftpServerOptions;

/** Every default from the one limits table (limits.ts), which the native engine and the CLI read too. */
export const tftpServerDefaults: Resolved = { addresses: ['127.0.0.1'], ...limitDefaults('server', 'typescript') };

/** Every address this server sends to or binds is an IP literal (from recvmsg or the options); dgram's default
 *  lookup would still defer each send by a tick through dns.lookup. Anything else goes to dns.lookup. (Node calls
 *  this with the family number, whatever @types/node says; dns.lookup takes either.) */
type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;
const literalLookup = (address: string, options: LookupOneOptions | number, callback: LookupCallback): void => {
  if (isIP(address)) callback(null, address, typeof options === 'number' ? options : isIP(address));
  else dnsLookup(address, options as LookupOneOptions, callback);
};

export interface TftpServerCounters {
  requests: number;
  transfersStarted: number;
  transfersCompleted: number;
  transfersFailed: number;
  retransmissions: number;
  /** ERROR packets sent, by TFTP error code. */
  errorsSent: Record<number, number>;
  /** Requests dropped over maxTransfers / maxTransfersPerClient. */
  busyDrops: number;
  /** Unverified transfers ended to make room for a newer request from the same address. */
  unverifiedEvicted: number;
  /** Transfers ended by maxTransferLifetimeMs. */
  lifetimeExpired: number;
  /** Retransmitted RRQs ignored because their transfer is running. */
  duplicateRequests: number;
  /** Datagrams at a transfer socket from another address or port (answered with error 5). */
  unknownTid: number;
  /** DATA, ACK or OACK datagrams at the request port (ignored). */
  strayPackets: number;
  /** Log lines not written because of maxLogLinesPerSecond. */
  logSuppressed: number;
  bytesSent: number;
}

interface Active {
  key: string;
  client: TftpClientInfo;
  filename: string;
  tid: TransferSocket | undefined;
  core: ServerTransfer | undefined;
  deadline: number;
  closed: boolean;
  /** Still listed in `unacknowledged` and its client's `unverified` (saves a string-keyed lookup per packet). */
  unacked: boolean;
}

/** Transfers running for one client address. */
interface ClientSlots {
  n: number;
  /** Those whose peer has not acknowledged anything yet, oldest first. */
  unverified: Set<Active>;
}

/** A pooled transfer socket: its port is the server's TID of whichever transfer holds it. */
interface TransferSocket {
  socket: dgram.Socket;
  /** Pool it returns to: `family|local address`. */
  pool: string;
  transfer: Active | undefined;
  /** The peer of the transfer that last ended here, and until when its late packets are dropped quietly. */
  lastAddress: string;
  lastPort: number;
  restUntil: number;
  broken: boolean;
}

/** Every counter at zero (both engines start here; the native one resets to it before each sync). */
export const zeroTftpCounters = (): TftpServerCounters => ({
  requests: 0,
  transfersStarted: 0,
  transfersCompleted: 0,
  transfersFailed: 0,
  retransmissions: 0,
  errorsSent: {},
  busyDrops: 0,
  unverifiedEvicted: 0,
  lifetimeExpired: 0,
  duplicateRequests: 0,
  strayPackets: 0,
  unknownTid: 0,
  logSuppressed: 0,
  bytesSent: 0,
});

export class TftpServer implements TftpServerLike {
  readonly options: Resolved;
  readonly counters: TftpServerCounters = zeroTftpCounters();
  private readonly source: TftpFileSource;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly sockets: dgram.Socket[] = [];
  /** The address each request socket is bound to; a transfer's socket binds to the same one. */
  private readonly localAddress = new Map<dgram.Socket, string>();
  /** Running transfers. */
  private readonly active = new Set<Active>();
  /** Running transfers the client has not acknowledged yet, by `address|port|filename` (duplicate RRQs). */
  private readonly unacknowledged = new Map<string, Active>();
  private readonly perClient = new Map<string, ClientSlots>();
  /** Transfer sockets ready for a new transfer, per pool, oldest-rested first. */
  private readonly free = new Map<string, TransferSocket[]>();
  private idleCount = 0;
  /** Sockets whose transfer ended, in order of ending (so of restUntil). */
  private resting: TransferSocket[] = [];
  private readonly allSockets = new Set<TransferSocket>();
  private readonly packetCache: DataPacketCache;
  private readonly negotiationLimits: NegotiationLimits;
  private readonly transferLimits: ServerTransferLimits;
  private sweep: NodeJS.Timeout | undefined;
  private closing = false;
  private logWindowStart = 0;
  private logWindowCount = 0;

  constructor(options: TftpServerOptions) {
    this.source = options.source;
    this.logger = options.logger ?? createLogger('tftpd');
    this.clock = options.clock ?? systemClock;
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    checkTftpLimits(given);
    this.options = { ...tftpServerDefaults, ...given } as Resolved;
    const o = this.options;
    this.packetCache = new DataPacketCache({ maxFileBytes: o.packetCacheMaxFileBytes, maxVariantsPerFile: o.packetCacheVariantsPerFile });
    this.negotiationLimits = {
      ...defaultNegotiationLimits,
      maxBlksize: o.maxBlksize,
      maxWindowsize: o.maxWindowsize,
      minTimeoutS: o.minTimeoutS,
      maxTimeoutS: o.maxTimeoutS,
    };
    this.transferLimits = {
      timeoutMs: o.timeoutMs,
      maxRetries: o.maxRetries,
      maxRetriesUnverified: o.maxRetriesUnverified,
      maxLifetimeMs: o.maxTransferLifetimeMs,
    };
  }

  /** Counters and gauges are always current here; the native server fetches them from its data plane. */
  async sync(): Promise<void> {}

  /** Transfers running now (including ones whose file is being opened). */
  get activeTransfers(): number {
    return this.active.size;
  }

  /** Transfer sockets open now: in use, resting after their transfer, or free. */
  get transferSockets(): number {
    return this.allSockets.size;
  }

  /** Transfer sockets free for the next transfer (at most maxIdleSockets). */
  get idleSockets(): number {
    return this.idleCount;
  }

  async listen(): Promise<void> {
    for (const address of this.options.addresses) {
      const socket = dgram.createSocket({
        type: isIPv6(address) ? 'udp6' : 'udp4',
        recvBufferSize: this.options.recvBufferSize,
        lookup: literalLookup,
      });
      socket.on('message', (msg, rinfo) => this.onRequest(socket, msg, rinfo));
      socket.on('error', (err) => this.logger.error('socket-error', { address, err }));
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port: this.options.port, address }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      this.sockets.push(socket);
      this.localAddress.set(socket, socket.address().address);
    }
    this.sweep = setInterval(() => this.onSweep(), this.options.timerResolutionMs);
    this.logger.info('listening', { addresses: this.addresses() });
  }

  addresses(): { address: string; port: number; family: string }[] {
    return this.sockets.map((s) => s.address());
  }

  /** The request port of the first address (tests bind port 0). */
  get port(): number {
    return this.sockets[0]!.address().port;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.sweep) clearInterval(this.sweep);
    for (const a of [...this.active]) this.release(a);
    for (const t of this.allSockets) this.discard(t);
    this.free.clear();
    this.resting = [];
    await Promise.all(this.sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.sockets.length = 0;
  }

  private onRequest(socket: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.counters.requests++;
    const client: TftpClientInfo = { address: rinfo.address, port: rinfo.port, family: rinfo.family === 'IPv6' ? 'IPv6' : 'IPv4' };
    const verdict = judgeRequest(msg, this.options);
    if (verdict.kind === 'ignore') return; // RFC 1350 §7: errors are never answered.
    if (verdict.kind === 'stray') {
      this.counters.strayPackets++;
      return;
    }
    if (verdict.kind === 'refuse') return this.refuse(socket, client, verdict.error, verdict.filename);
    const { filename } = verdict;

    const key = `${client.address}|${client.port}|${filename}`;
    if (this.unacknowledged.has(key)) {
      this.counters.duplicateRequests++;
      return;
    }
    let slots = this.perClient.get(client.address);
    if (slots && (slots.unverified.size >= this.options.maxUnverifiedPerClient || slots.n >= this.options.maxTransfersPerClient)) {
      const oldest = slots.unverified.values().next().value;
      if (oldest) {
        this.counters.unverifiedEvicted++;
        this.finish(oldest, false, 'evicted: a newer request from this address and this one was never acknowledged');
        slots = this.perClient.get(client.address);
      }
    }
    const n = slots?.n ?? 0;
    if (this.active.size >= this.options.maxTransfers || n >= this.options.maxTransfersPerClient) {
      this.counters.busyDrops++;
      this.logLimited('request-dropped', {
        client,
        filename: printable(filename),
        reason: n >= this.options.maxTransfersPerClient ? 'maxTransfersPerClient' : 'maxTransfers',
      });
      return;
    }
    const a: Active = { key, client, filename, tid: undefined, core: undefined, deadline: Infinity, closed: false, unacked: true };
    this.active.add(a);
    this.unacknowledged.set(key, a);
    if (!slots) this.perClient.set(client.address, (slots = { n: 0, unverified: new Set() }));
    slots.n++;
    slots.unverified.add(a);
    void this.startTransfer(socket, a, verdict.options, verdict.netascii);
  }

  private startTransfer(main: dgram.Socket, a: Active, options: Parameters<typeof negotiate>[0], netascii: boolean): void {
    let opened;
    try {
      opened = this.source.open(a.filename, a.client);
    } catch (err) {
      return this.openFailed(main, a, err);
    }
    // A source that answers synchronously (the folder source for small files, cached generated files) starts the
    // transfer in this same turn of the event loop.
    if (opened instanceof Promise) {
      opened.then(
        (raw) => this.opened(main, a, raw, options, netascii),
        (err: unknown) => this.openFailed(main, a, err),
      );
    } else {
      this.opened(main, a, opened, options, netascii);
    }
  }

  private openFailed(main: dgram.Socket, a: Active, err: unknown): void {
    this.release(a);
    const e = err instanceof TftpError ? err : new TftpError('ERR_TFTP_INTERNAL', tftpErrors.ERR_TFTP_INTERNAL.message, { cause: err });
    if (!(err instanceof SbdError)) this.logger.error('source-error', { filename: printable(a.filename), err });
    if (this.closing) return;
    this.refuse(main, a.client, e, a.filename);
  }

  private opened(main: dgram.Socket, a: Active, raw: Buffer, options: Parameters<typeof negotiate>[0], netascii: boolean): void {
    if (a.closed || this.closing) return;
    let core: ServerTransfer;
    let data: Buffer;
    try {
      data = netascii ? toNetascii(raw) : raw;
      const { params, oack } = negotiate(options, data.length, this.negotiationLimits);
      core = new ServerTransfer(data, params, oack, this.transferLimits, this.packetCache.for(data, params.blksize));
    } catch (err) {
      return this.openFailed(main, a, err);
    }
    a.core = core;
    const begin = (tid: TransferSocket): void => {
      if (a.closed || this.closing) return this.putBack(tid);
      tid.transfer = a;
      a.tid = tid;
      this.counters.transfersStarted++;
      this.logger.log('debug', 'transfer-start', { client: a.client, filename: a.filename, bytes: data.length, ...core.params });
      this.apply(a, core.start(this.clock.now()));
    };
    const pool = `${a.client.family}|${this.localAddress.get(main)}`;
    const ready = this.free.get(pool);
    if (ready && ready.length > 0) {
      this.idleCount--;
      return begin(ready.shift()!);
    }
    this.newTransferSocket(pool, a.client.family, this.localAddress.get(main)!, begin);
  }

  private newTransferSocket(pool: string, family: 'IPv4' | 'IPv6', address: string, then: (t: TransferSocket) => void): void {
    const socket = dgram.createSocket({ type: family === 'IPv6' ? 'udp6' : 'udp4', lookup: literalLookup });
    const t: TransferSocket = { socket, pool, transfer: undefined, lastAddress: '', lastPort: -1, restUntil: 0, broken: false };
    this.allSockets.add(t);
    socket.on('message', (msg, rinfo) => this.onTransferPacket(t, msg, rinfo));
    socket.on('error', (err) => {
      const a = t.transfer;
      this.logLimited('transfer-socket-error', { client: a?.client, err });
      t.broken = true;
      if (a) this.finish(a, false, `socket error: ${err.message}`);
      this.discard(t);
    });
    socket.bind({ port: 0, address }, () => then(t));
  }

  private onTransferPacket(t: TransferSocket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const a = t.transfer;
    if (a === undefined || rinfo.port !== a.client.port || rinfo.address !== a.client.address) {
      // Late packets of the transfer that just ended here (a repeated final ACK) are not worth an error.
      if (a === undefined && rinfo.port === t.lastPort && rinfo.address === t.lastAddress && this.clock.now() < t.restUntil) return;
      // RFC 1350 §4: a packet from an unknown TID gets error 5; the transfer is not disturbed.
      this.counters.unknownTid++;
      this.sendError(t.socket, rinfo.port, rinfo.address, TftpErrorCode.unknownTransferId, tftpErrors.ERR_TFTP_UNKNOWN_TID.message);
      return;
    }
    const core = a.core!;
    this.apply(a, core.receive(msg, this.clock.now()));
    if (a.unacked && core.acknowledged) this.forgetRequest(a);
  }

  /** The peer acknowledged something (it is verified) or the transfer ended. */
  private forgetRequest(a: Active): void {
    a.unacked = false;
    if (this.unacknowledged.get(a.key) === a) this.unacknowledged.delete(a.key);
    this.perClient.get(a.client.address)?.unverified.delete(a);
  }

  /** A socket whose transfer ended: rest, then free (or closed when the pool is full, broken or shutting down). */
  private putBack(t: TransferSocket): void {
    const a = t.transfer;
    t.transfer = undefined;
    if (this.closing || t.broken || this.options.maxIdleSockets <= 0) return this.discard(t);
    if (a) {
      t.lastAddress = a.client.address;
      t.lastPort = a.client.port;
      t.restUntil = this.clock.now() + this.options.tidReuseDelayMs;
      this.resting.push(t);
    } else {
      this.makeFree(t);
    }
  }

  private makeFree(t: TransferSocket): void {
    if (t.broken || this.closing) return;
    if (this.idleCount >= this.options.maxIdleSockets) return this.discard(t);
    let q = this.free.get(t.pool);
    if (!q) this.free.set(t.pool, (q = []));
    q.push(t);
    this.idleCount++;
  }

  private discard(t: TransferSocket): void {
    if (!this.allSockets.delete(t)) return;
    t.broken = true;
    try {
      t.socket.close();
    } catch {
      /* already closed after an error */
    }
  }

  private apply(a: Active, actions: TransferAction[]): void {
    for (const act of actions) {
      if (act.type === 'send') {
        if (a.closed || !a.tid) return;
        this.counters.bytesSent += act.bytes.length;
        if (act.bytes.readUInt16BE(0) === Opcode.ERROR) this.countError(act.bytes.readUInt16BE(2));
        a.tid.socket.send(act.bytes, act.port ?? a.client.port, a.client.address);
      } else if (act.type === 'timer') {
        a.deadline = act.at;
      } else {
        if (act.expired) this.counters.lifetimeExpired++;
        this.finish(a, act.ok, act.reason);
      }
    }
  }

  private finish(a: Active, ok: boolean, reason: string): void {
    if (a.closed) return;
    const core = a.core;
    if (core) this.counters.retransmissions += core.retransmissions;
    if (ok) {
      this.counters.transfersCompleted++;
      this.logger.log('debug', 'transfer-complete', { client: a.client, filename: a.filename, retransmissions: core?.retransmissions });
    } else {
      this.counters.transfersFailed++;
      this.logLimited('transfer-failed', { client: a.client, filename: printable(a.filename), reason });
    }
    this.release(a);
  }

  private release(a: Active): void {
    if (a.closed) return;
    a.closed = true;
    this.active.delete(a);
    if (a.unacked) this.forgetRequest(a);
    const slots = this.perClient.get(a.client.address);
    if (slots && --slots.n <= 0) this.perClient.delete(a.client.address);
    if (a.tid) this.putBack(a.tid);
  }

  private onSweep(): void {
    const now = this.clock.now();
    let rested = 0;
    while (rested < this.resting.length && this.resting[rested]!.restUntil <= now) this.makeFree(this.resting[rested++]!);
    if (rested > 0) this.resting = this.resting.slice(rested);
    for (const a of this.active) {
      if (a.deadline <= now && a.core) {
        a.deadline = Infinity;
        this.apply(a, a.core.timeout(now));
      }
    }
  }

  /** Answer a request with an error from the request socket, and write its one log line. */
  private refuse(socket: dgram.Socket, client: TftpClientInfo, err: TftpError, filename: string): void {
    this.sendError(socket, client.port, client.address, err.tftpCode, err.message);
    this.logLimited('request-refused', {
      client,
      filename: printable(filename),
      tftpCode: err.tftpCode,
      code: err.code,
      message: err.message,
    });
  }

  private sendError(socket: dgram.Socket, port: number, address: string, code: number, message: string): void {
    this.countError(code);
    const bytes = encodeError(code, message);
    this.counters.bytesSent += bytes.length;
    socket.send(bytes, port, address);
  }

  private countError(code: number): void {
    this.counters.errorsSent[code] = (this.counters.errorsSent[code] ?? 0) + 1;
  }

  private logLimited(event: string, fields: Record<string, unknown>): void {
    const now = this.clock.now();
    if (now - this.logWindowStart >= 1000) {
      if (this.logWindowCount > this.options.maxLogLinesPerSecond) {
        this.logger.warn('log-suppressed', { lines: this.logWindowCount - this.options.maxLogLinesPerSecond });
      }
      this.logWindowStart = now;
      this.logWindowCount = 0;
    }
    if (++this.logWindowCount > this.options.maxLogLinesPerSecond) {
      this.counters.logSuppressed++;
      return;
    }
    this.logger.warn(event, fields);
  }
}
