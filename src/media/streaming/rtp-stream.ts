/**
 * One outgoing RTP stream (RFC 3550 §5.1): SSRC, sequence number and timestamp, random at the start (§5.1:
 * "SHOULD be random") and advancing by one packet / 160 samples per 20 ms of G.711. Sans-I/O: writes the
 * 12-byte header into a buffer; randomness comes in from outside.
 */
export interface RtpStreamInit {
  ssrc: number;
  sequence: number;
  timestamp: number;
  payloadType: number;
}

export class RtpStream {
  readonly ssrc: number;
  readonly payloadType: number;
  sequence: number;
  timestamp: number;
  #first = true;

  constructor(init: RtpStreamInit) {
    this.ssrc = init.ssrc >>> 0;
    this.payloadType = init.payloadType & 0x7f;
    this.sequence = init.sequence & 0xffff;
    this.timestamp = init.timestamp >>> 0;
  }

  /** Writes the header of the next packet at `at` and advances; returns the header length (12). */
  writeHeader(buf: Buffer, at: number, samples: number): number {
    buf[at] = 0x80;
    // RFC 3551 §4.1: the marker bit flags the first packet of a talkspurt — here the stream's start
    buf[at + 1] = (this.#first ? 0x80 : 0) | this.payloadType;
    buf.writeUInt16BE(this.sequence, at + 2);
    buf.writeUInt32BE(this.timestamp, at + 4);
    buf.writeUInt32BE(this.ssrc, at + 8);
    this.#first = false;
    this.sequence = (this.sequence + 1) & 0xffff;
    this.timestamp = (this.timestamp + samples) >>> 0;
    return 12;
  }
}
