/**
 * Classic libpcap capture files (the format `tcpdump -w` writes): global header, then per packet a 16-byte
 * record header and the captured bytes. Both byte orders, microsecond and nanosecond magic. pcapng is refused
 * with a clear error (convert with `editcap -F pcap`). Sans-I/O: bytes in, records out, and back.
 */
import { MediaErrorCode, PcapError } from '../errors.js';

export interface PcapHeader {
  littleEndian: boolean;
  nanoseconds: boolean;
  versionMajor: number;
  versionMinor: number;
  snaplen: number;
  linkType: number;
}

export interface PcapRecord {
  tsSec: number;
  tsFrac: number;
  /** Original length on the wire. */
  origLen: number;
  data: Buffer;
}

export interface PcapReadOptions {
  /** Largest single record accepted, bytes. Default 262144 (tcpdump's snaplen). */
  maxRecordBytes?: number;
}

export function readPcap(buf: Buffer, options: PcapReadOptions = {}): { header: PcapHeader; records: PcapRecord[] } {
  const maxRecord = options.maxRecordBytes ?? 262144;
  if (buf.length < 24) throw new PcapError(MediaErrorCode.pcapFormat, 'file too short for a pcap header');
  const magicBE = buf.readUInt32BE(0);
  if (magicBE === 0x0a0d0d0a) throw new PcapError(MediaErrorCode.pcapng, 'pcapng is not supported; convert with "editcap -F pcap IN OUT"');
  const magics: Record<number, [boolean, boolean]> = {
    2712847316: [false, false],
    3569595041: [true, false],
    2712812621: [false, true],
    1295823521: [true, true],
  };
  const m = magics[magicBE];
  if (!m) throw new PcapError(MediaErrorCode.pcapFormat, `not a pcap file (magic 0x${magicBE.toString(16)})`);
  const [le, ns] = m;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const header: PcapHeader = {
    littleEndian: le,
    nanoseconds: ns,
    versionMajor: u16(4),
    versionMinor: u16(6),
    snaplen: u32(16),
    linkType: u32(20) & 0x0fffffff,
  };
  const records: PcapRecord[] = [];
  for (let at = 24; at < buf.length; ) {
    if (at + 16 > buf.length) throw new PcapError(MediaErrorCode.pcapTruncated, `record header at byte ${at} is cut off`);
    const incl = u32(at + 8);
    if (incl > maxRecord)
      throw new PcapError(MediaErrorCode.pcapRecordTooLarge, `record at byte ${at} claims ${incl} bytes (limit ${maxRecord})`);
    if (at + 16 + incl > buf.length) throw new PcapError(MediaErrorCode.pcapTruncated, `record at byte ${at} is cut off`);
    records.push({ tsSec: u32(at), tsFrac: u32(at + 4), origLen: u32(at + 12), data: buf.subarray(at + 16, at + 16 + incl) });
    at += 16 + incl;
  }
  return { header, records };
}

export function writePcap(header: PcapHeader, records: PcapRecord[]): Buffer {
  const le = header.littleEndian;
  const out = Buffer.alloc(24 + records.reduce((n, r) => n + 16 + r.data.length, 0));
  const w16 = (v: number, o: number) => (le ? out.writeUInt16LE(v, o) : out.writeUInt16BE(v, o));
  const w32 = (v: number, o: number) => (le ? out.writeUInt32LE(v >>> 0, o) : out.writeUInt32BE(v >>> 0, o));
  w32(header.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(header.versionMajor, 4);
  w16(header.versionMinor, 6);
  w32(0, 8);
  w32(0, 12);
  w32(header.snaplen, 16);
  w32(header.linkType, 20);
  let at = 24;
  for (const r of records) {
    w32(r.tsSec, at);
    w32(r.tsFrac, at + 4);
    w32(r.data.length, at + 8);
    w32(r.origLen, at + 12);
    r.data.copy(out, at + 16);
    at += 16 + r.data.length;
  }
  return out;
}
