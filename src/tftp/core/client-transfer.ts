/**
 * Client side of one read transfer (RFC 1350, RFC 2347 options, RFC 7440 windows). Sans-I/O. The phone simulator
 * and the boot-storm bench run thousands of these in one process over a pool of sockets. Its theory of operation
 * is on `ClientTransfer`.
 */
import type { TransferAction } from './actions.js';
import { decodePacket, encodeAck, encodeError, encodeRequest, Opcode } from './packet.js';
import { TftpError, TftpErrorCode, tftpErrors } from './errors.js';
import { acceptOack, requestOptions, BLKSIZE_DEFAULT, type RequestedOptions, type TransferParams } from './options.js';
import { fromNetascii } from './netascii.js';

export interface ClientTransferOptions {
  filename: string;
  /** Default "octet". */
  mode?: 'octet' | 'netascii';
  /** Options to ask for. Default none. */
  request?: RequestedOptions;
  /** Port of the server's request socket (RRQs go there; RFC 1350 §4). */
  serverPort: number;
  /** Retransmission timeout unless `request.timeoutS` is set. Default 1000 ms. */
  timeoutMs?: number;
  /** Timeouts in a row before giving up. Default 5. */
  maxRetries?: number;
  /** Largest file accepted; past it the client sends error 3. Default 64 MiB. */
  maxBytes?: number;
  /** Retry without options when the server answers error 8. Default true. */
  fallbackWithoutOptions?: boolean;
}

export type ClientTransferState = 'idle' | 'requested' | 'data' | 'complete' | 'done';

/**
 * Theory of operation
 * -------------------
 *   state      event                                actions                                    next
 *   ---------  -----------------------------------  -----------------------------------------  ---------
 *   idle       start()                              send RRQ (with options) to the server port  requested
 *   requested  OACK we can accept (RFC 2347 §2)     fix the server TID, send ACK 0             data
 *   requested  OACK we cannot accept                send ERROR 8, done(failed)                 done
 *   requested  DATA 1 (server ignored options)      fix the TID, default blksize 512, window 1 data
 *   requested  ERROR 8 and options were sent        send the RRQ again without options         requested
 *   requested  other ERROR                          done(failed)                               done
 *   data       next block in order                  keep it; ACK at window end or last block   data/complete
 *   data       a block already received             ACK the last in-order block again (once    data
 *                                                   per window when windowsize > 1)
 *   data       a block past a gap (RFC 7440 §4)     ACK the last in-order block, once          data
 *   complete   the last block again                 ACK it again (our final ACK was lost)      complete
 *   any        packet from another TID              ERROR 5 to that port, nothing else         same
 *   any        timer, retries left                  resend the RRQ / last ACK, re-arm          same
 *   any        timer, no retries left               done(failed, timeout)                      done
 *
 * "complete" already emitted done(ok); a shell may keep the transfer a little longer (dally, RFC 1350 §6) so a
 * lost final ACK is repaired without the server timing out.
 */
export class ClientTransfer {
  state: ClientTransferState = 'idle';
  /** The server's TID (its transfer port) once known. */
  serverTid: number | undefined;
  retransmissions = 0;
  /** Size announced by the server (RFC 2349), if any. */
  tsize: number | undefined;
  /** Whether the RRQ went out again without options after an error 8. */
  fellBack = false;
  params: TransferParams = { blksize: BLKSIZE_DEFAULT, windowsize: 1, timeoutS: undefined };

  private readonly filename: string;
  private readonly mode: 'octet' | 'netascii';
  private request: RequestedOptions;
  private readonly serverPort: number;
  private readonly rtoMs: number;
  private readonly maxRetries: number;
  private readonly maxBytes: number;
  private readonly fallback: boolean;
  private retries = 0;
  private chunks: Buffer[] = [];
  private received = 0;
  /** Next block expected, absolute (1-based). */
  private expected = 1;
  private inWindow = 0;
  private nakSent = false;
  private lastAck: Buffer | undefined;
  private rrq: Buffer;
  private result: Buffer | undefined;

  constructor(options: ClientTransferOptions) {
    this.filename = options.filename;
    this.mode = options.mode ?? 'octet';
    this.request = options.request ?? {};
    this.serverPort = options.serverPort;
    this.rtoMs = this.request.timeoutS !== undefined ? this.request.timeoutS * 1000 : (options.timeoutMs ?? 1000);
    this.maxRetries = options.maxRetries ?? 5;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.fallback = options.fallbackWithoutOptions ?? true;
    this.rrq = encodeRequest(Opcode.RRQ, this.filename, this.mode, requestOptions(this.request));
  }

  /** Our final ACK once done(ok) was emitted: a shell that keeps a finished transfer's TID answers
   *  `isLastDataAgain` packets with it (RFC 1350 §6 dally). */
  finalAck(): Buffer | undefined {
    return this.state === 'complete' ? this.lastAck : undefined;
  }

  /** The file's bytes (netascii converted back) once done(ok) was emitted. */
  data(): Buffer {
    if (this.result === undefined) throw new TftpError('ERR_TFTP_NOT_COMPLETE', 'transfer not complete');
    return this.result;
  }

  start(now: number): TransferAction[] {
    if (this.state !== 'idle') return [];
    this.state = 'requested';
    return [
      { type: 'send', bytes: this.rrq, port: this.serverPort },
      { type: 'timer', at: now + this.rtoMs },
    ];
  }

  /** A datagram from the server's address; `port` is its source port (the TID, RFC 1350 §4). */
  receive(bytes: Buffer, port: number, now: number): TransferAction[] {
    if (this.state === 'done' || this.state === 'idle') return [];
    if (this.serverTid !== undefined && port !== this.serverTid) {
      return [{ type: 'send', bytes: encodeError(TftpErrorCode.unknownTransferId, tftpErrors.ERR_TFTP_UNKNOWN_TID.message), port }];
    }
    let packet;
    try {
      packet = decodePacket(bytes);
    } catch (err) {
      return this.abort(err as TftpError, port);
    }
    if (this.state === 'complete') {
      // Dally: our final ACK may have been lost; answer the last block again, nothing else.
      if (packet.opcode === Opcode.DATA && this.lastAck && packet.block === this.lastAck.readUInt16BE(2))
        return [{ type: 'send', bytes: this.lastAck, port }];
      return [];
    }
    switch (packet.opcode) {
      case Opcode.ERROR:
        if (
          this.state === 'requested' &&
          packet.errorCode === TftpErrorCode.optionRefused &&
          this.fallback &&
          requestOptions(this.request).length > 0
        ) {
          // RFC 2347 §2: a server that refuses options answers error 8; ask again without them.
          this.request = {};
          this.fellBack = true;
          this.rrq = encodeRequest(Opcode.RRQ, this.filename, this.mode);
          this.retries = 0;
          return [
            { type: 'send', bytes: this.rrq, port: this.serverPort },
            { type: 'timer', at: now + this.rtoMs },
          ];
        }
        return this.fail(`server error ${packet.errorCode}: ${packet.message.slice(0, 200)}`, packet.errorCode);
      case Opcode.OACK:
        if (this.state === 'requested') return this.onOack(packet.options, port, now);
        // Our ACK 0 was lost and the server sent its OACK again.
        if (this.expected === 1 && this.lastAck)
          return [
            { type: 'send', bytes: this.lastAck, port },
            { type: 'timer', at: now + this.rtoMs },
          ];
        return [];
      case Opcode.DATA:
        if (this.state === 'requested') {
          // No OACK: the server ignored every option (RFC 2347 §2), so RFC 1350 defaults apply.
          this.serverTid = port;
          this.state = 'data';
        }
        return this.onData(packet.block, packet.data, port, now);
      default:
        return this.abort(new TftpError('ERR_TFTP_ILLEGAL', `unexpected opcode ${packet.opcode} from the server`), port);
    }
  }

  timeout(now: number): TransferAction[] {
    if (this.state === 'done' || this.state === 'idle' || this.state === 'complete') return [];
    if (this.retries >= this.maxRetries) return this.fail(`timed out after ${this.retries} retransmissions`, TftpErrorCode.notDefined);
    this.retries++;
    this.retransmissions++;
    this.nakSent = false;
    if (this.state === 'requested')
      return [
        { type: 'send', bytes: this.rrq, port: this.serverPort },
        { type: 'timer', at: now + this.rtoMs },
      ];
    // RFC 7440 §4: on timeout the receiver acknowledges the last block it has in order.
    const ack = encodeAck(this.expected - 1);
    this.lastAck = ack;
    this.inWindow = 0;
    return [
      { type: 'send', bytes: ack, port: this.serverTid },
      { type: 'timer', at: now + this.rtoMs },
    ];
  }

  private onOack(options: Parameters<typeof acceptOack>[1], port: number, now: number): TransferAction[] {
    this.serverTid = port;
    let accepted;
    try {
      accepted = acceptOack(this.request, options);
    } catch (err) {
      return this.abort(err as TftpError, port);
    }
    if (accepted.tsize !== undefined && accepted.tsize > this.maxBytes) {
      return this.abort(new TftpError('ERR_TFTP_TOO_BIG', `file of ${accepted.tsize} bytes is larger than ${this.maxBytes}`), port);
    }
    this.params = accepted.params;
    this.tsize = accepted.tsize;
    this.state = 'data';
    this.retries = 0;
    this.lastAck = encodeAck(0);
    return [
      { type: 'send', bytes: this.lastAck, port },
      { type: 'timer', at: now + this.rtoMs },
    ];
  }

  private onData(wire: number, data: Buffer, port: number, now: number): TransferAction[] {
    const { blksize, windowsize } = this.params;
    if (wire !== (this.expected & 0xffff)) {
      const behind = (this.expected - wire) & 0xffff; // 1 = the block just before the expected one
      const isOld = behind >= 1 && behind <= Math.max(windowsize, 1) * 2;
      if ((isOld && windowsize === 1) || !this.nakSent) {
        this.nakSent = true;
        this.inWindow = 0; // the server's next window starts after the block we acknowledge
        this.lastAck = encodeAck(this.expected - 1);
        return [{ type: 'send', bytes: this.lastAck, port }];
      }
      return [];
    }
    if (data.length > blksize) {
      return this.abort(new TftpError('ERR_TFTP_MALFORMED', `DATA block of ${data.length} bytes is larger than blksize ${blksize}`), port);
    }
    this.received += data.length;
    if (this.received > this.maxBytes) {
      return this.abort(new TftpError('ERR_TFTP_TOO_BIG', `file is larger than ${this.maxBytes} bytes`), port);
    }
    if (data.length > 0) this.chunks.push(data);
    this.retries = 0;
    this.nakSent = false;
    this.inWindow++;
    const last = data.length < blksize;
    const block = this.expected;
    this.expected++;
    if (last) {
      this.lastAck = encodeAck(block);
      const whole = Buffer.concat(this.chunks, this.received);
      this.chunks = [];
      if (this.mode === 'octet' && this.tsize !== undefined && whole.length !== this.tsize) {
        return [
          { type: 'send', bytes: this.lastAck, port },
          ...this.fail(`received ${whole.length} bytes, the server announced tsize ${this.tsize}`, TftpErrorCode.notDefined),
        ];
      }
      this.result = this.mode === 'netascii' ? fromNetascii(whole) : whole;
      this.state = 'complete';
      return [
        { type: 'send', bytes: this.lastAck, port },
        { type: 'done', ok: true, reason: 'complete' },
      ];
    }
    const actions: TransferAction[] = [];
    if (this.inWindow >= windowsize) {
      this.inWindow = 0;
      this.lastAck = encodeAck(block);
      actions.push({ type: 'send', bytes: this.lastAck, port });
    }
    actions.push({ type: 'timer', at: now + this.rtoMs });
    return actions;
  }

  private fail(reason: string, tftpCode: number): TransferAction[] {
    this.state = 'done';
    this.chunks = [];
    return [{ type: 'done', ok: false, reason, tftpCode }];
  }

  private abort(err: TftpError, port: number): TransferAction[] {
    return [{ type: 'send', bytes: encodeError(err.tftpCode, err.message), port }, ...this.fail(err.message, err.tftpCode)];
  }
}

/** Whether `bytes` is the DATA block that `finalAck` acknowledged, sent again (our ACK was lost or is late). */
export function isLastDataAgain(bytes: Buffer, finalAck: Buffer): boolean {
  return bytes.length >= 4 && bytes.readUInt16BE(0) === Opcode.DATA && bytes.readUInt16BE(2) === finalAck.readUInt16BE(2);
}
