/**
 * Server side of one read transfer (RFC 1350 with RFC 2347 options and RFC 7440 windows). Sans-I/O: the shell has
 * already decoded the RRQ, checked the name, fetched the bytes (netascii-converted if asked) and negotiated options;
 * this machine owns the rest. Its theory of operation is on `ServerTransfer`.
 */
import type { TransferAction } from './actions.js';
import { encodeError, encodeOack, Opcode, decodePacket, type TftpOption } from './packet.js';
import { DataPackets } from './data-packets.js';
import { TftpErrorCode, TftpError } from './errors.js';
import type { TransferParams } from './options.js';

export interface ServerTransferLimits {
  /** Retransmission timeout when the client did not ask for one (RFC 2349). Default 1000 ms. */
  timeoutMs: number;
  /** Timeouts in a row before the transfer is abandoned, once the peer has acknowledged something. Default 5. */
  maxRetries: number;
  /** Timeouts before a transfer whose peer never acknowledged anything is abandoned: resends of the OACK or block 1
   *  toward a source that may be spoofed. Default 1. */
  maxRetriesUnverified: number;
  /** Total lifetime of a transfer from its start, ms. Default 120000. */
  maxLifetimeMs: number;
}

export const defaultServerTransferLimits: ServerTransferLimits = {
  timeoutMs: 1000,
  maxRetries: 5,
  maxRetriesUnverified: 1,
  maxLifetimeMs: 120_000,
};

export type ServerTransferState = 'idle' | 'oack' | 'data' | 'done';

/**
 * Theory of operation
 * -------------------
 * The shell has already decoded the RRQ, validated the name, fetched the bytes (netascii-converted if asked) and
 * negotiated options. This machine then owns the transfer:
 *
 *   state      event                              actions                                   next
 *   ---------  ---------------------------------  ----------------------------------------  ---------
 *   (start)    start()  with OACK options         send OACK, arm timer                      oack
 *   (start)    start()  without options           send window from block 1, arm timer        data
 *   oack       ACK 0                              send window from block 1, arm timer        data
 *   oack       ERROR (e.g. 8, RFC 2347 §2)        done(failed)                              done
 *   data       ACK of a block in the window       slide window past it; last block? done    data/done
 *   data       ACK of the block before the window ignored — a duplicate (RFC 1123 §4.2.3.1)  data
 *   data       ACK outside [window-1, last sent]  ignored (stale or from a wrapped block)    data
 *   any        timer fired, lifetime over         done(failed, lifetime)                    done
 *   any        timer fired, retries left          resend OACK / the whole window, re-arm    same
 *   any        timer fired, no retries left       done(failed, timeout)                     done
 *   any        ERROR from the client              done(failed)                              done
 *   any        malformed or other opcode          send ERROR 4, done(failed)                done
 *
 * Sorcerer's Apprentice (RFC 1123 §4.2.3.1): only the timer ever retransmits. A duplicate ACK never triggers a
 * send, so a delayed or duplicated ACK cannot double the traffic. RFC 7440 §4: an ACK for a block inside the
 * window that is not its last means the client lost what followed; the next window starts right after it.
 *
 * Bounds against a spoofed source (which never ACKs, since the packets go to the address it forged): until the
 * peer has acknowledged something it gets `maxRetriesUnverified` resends of the OACK or block 1, not `maxRetries`;
 * and every transfer ends after `maxLifetimeMs` however it is going (the timer is armed no later than that), so no
 * peer, verified or not, holds a slot for longer.
 *
 * Blocks are counted with absolute numbers (1..blockCount) inside; only the wire carries `block & 0xffff`, so
 * files over 65535 blocks roll over to 0 (the common convention, as tftp-hpa and curl expect) and an ACK's
 * 16-bit number is mapped back into the window, which is never more than 65535 blocks wide.
 */
export class ServerTransfer {
  state: ServerTransferState = 'idle';
  /** Packets sent again because of a timeout or a client's RFC 7440 partial ACK. */
  retransmissions = 0;
  /** The client has acknowledged something: from now on a new RRQ for the same file from the same port is a new
   *  request, not a retransmission of the one that started this transfer. */
  acknowledged = false;
  readonly blockCount: number;
  readonly params: TransferParams;
  readonly rtoMs: number;

  private readonly packets: DataPackets;
  private readonly oack: readonly TftpOption[];
  private readonly maxRetries: number;
  private readonly maxRetriesUnverified: number;
  private readonly maxLifetimeMs: number;
  /** When the transfer's lifetime ends (set by start). */
  private endAt = Infinity;
  private retries = 0;
  /** First block of the current window (absolute). */
  private windowStart = 1;
  /** Last block sent in the current window (absolute). */
  private lastSent = 0;

  /** `packets`: the file's DATA packets at params.blksize, shared with other transfers (see data-packets.ts);
   *  built for this transfer alone when not given. */
  constructor(file: Buffer, params: TransferParams, oack: readonly TftpOption[], limits: ServerTransferLimits, packets?: DataPackets) {
    if (packets && packets.blksize !== params.blksize)
      throw new RangeError(`packets built for blksize ${packets.blksize}, transfer uses ${params.blksize}`);
    this.packets = packets ?? new DataPackets(file, params.blksize, false);
    this.params = params;
    this.oack = oack;
    this.maxRetries = limits.maxRetries;
    this.maxRetriesUnverified = limits.maxRetriesUnverified;
    this.maxLifetimeMs = limits.maxLifetimeMs;
    this.rtoMs = params.timeoutS !== undefined ? params.timeoutS * 1000 : limits.timeoutMs;
    this.blockCount = this.packets.blockCount;
  }

  start(now: number): TransferAction[] {
    if (this.state !== 'idle') return [];
    this.endAt = now + this.maxLifetimeMs;
    if (this.oack.length > 0) {
      this.state = 'oack';
      return [{ type: 'send', bytes: encodeOack(this.oack) }, this.timer(now)];
    }
    this.state = 'data';
    return this.sendWindow(now, 1, false);
  }

  /** A datagram from the transfer's own peer (the shell answers other TIDs with error 5 itself). */
  receive(bytes: Buffer, now: number): TransferAction[] {
    if (this.state === 'done' || this.state === 'idle') return [];
    let packet;
    try {
      packet = decodePacket(bytes);
    } catch (err) {
      return this.abort(err as TftpError);
    }
    switch (packet.opcode) {
      case Opcode.ACK:
        return this.onAck(packet.block, now);
      case Opcode.ERROR:
        this.state = 'done';
        return [
          {
            type: 'done',
            ok: false,
            reason: `client sent error ${packet.errorCode}: ${packet.message.slice(0, 100)}`,
            tftpCode: packet.errorCode,
          },
        ];
      default:
        return this.abort(new TftpError('ERR_TFTP_ILLEGAL', `unexpected opcode ${packet.opcode} during a read transfer`));
    }
  }

  timeout(now: number): TransferAction[] {
    if (this.state === 'done' || this.state === 'idle') return [];
    if (now >= this.endAt) {
      this.state = 'done';
      return [
        {
          type: 'done',
          ok: false,
          reason: `transfer lifetime of ${this.maxLifetimeMs} ms exceeded`,
          tftpCode: TftpErrorCode.notDefined,
          expired: true,
        },
      ];
    }
    if (this.retries >= (this.acknowledged ? this.maxRetries : this.maxRetriesUnverified)) {
      this.state = 'done';
      return [{ type: 'done', ok: false, reason: `timed out after ${this.retries} retransmissions`, tftpCode: TftpErrorCode.notDefined }];
    }
    this.retries++;
    if (this.state === 'oack') {
      this.retransmissions++;
      return [{ type: 'send', bytes: encodeOack(this.oack) }, this.timer(now)];
    }
    return this.sendWindow(now, this.windowStart, true);
  }

  private onAck(wire: number, now: number): TransferAction[] {
    if (this.state === 'oack') {
      if (wire !== 0) return []; // Not the ACK of the OACK (RFC 2347 §2): stale, ignore.
      this.acknowledged = true;
      this.state = 'data';
      this.retries = 0;
      return this.sendWindow(now, 1, false);
    }
    // Map the 16-bit number into [windowStart - 1, windowStart - 1 + 65535].
    const base = this.windowStart - 1;
    const acked = base + ((wire - base) & 0xffff);
    if (acked > this.lastSent || acked === base) return []; // Unknown or duplicate: never resend (SAS).
    this.acknowledged = true;
    if (acked === this.blockCount) {
      this.state = 'done';
      return [{ type: 'done', ok: true, reason: 'complete' }];
    }
    this.retries = 0;
    // RFC 7440 §4: blocks after `acked` that we already sent were lost; sending them again is a retransmission.
    const resent = this.lastSent - acked;
    const actions = this.sendWindow(now, acked + 1, false);
    this.retransmissions += Math.min(resent, this.params.windowsize);
    return actions;
  }

  private sendWindow(now: number, from: number, isRetransmit: boolean): TransferAction[] {
    const to = Math.min(from + this.params.windowsize - 1, this.blockCount);
    const actions: TransferAction[] = [];
    for (let b = from; b <= to; b++) actions.push({ type: 'send', bytes: this.packets.packet(b) });
    if (isRetransmit) this.retransmissions += to - from + 1;
    this.windowStart = from;
    this.lastSent = to;
    actions.push(this.timer(now));
    return actions;
  }

  /** The retransmission timer, never later than the end of the transfer's lifetime. */
  private timer(now: number): TransferAction {
    return { type: 'timer', at: Math.min(now + this.rtoMs, this.endAt) };
  }

  private abort(err: TftpError): TransferAction[] {
    this.state = 'done';
    return [
      { type: 'send', bytes: encodeError(err.tftpCode, err.message) },
      { type: 'done', ok: false, reason: err.message, tftpCode: err.tftpCode },
    ];
  }
}
