/**
 * The troubleshooting transform behind `sbd srtp decrypt|encrypt`: every RTP/RTCP packet of a capture (UDP,
 * version 2; RTCP told apart by payload type 192-223, RFC 5761 §4) is unprotected (or protected) with one
 * master key, per SSRC, and written back with fixed lengths and checksums. Packets that fail stay as they were
 * in the output and are counted per stream: authentication failures, replays, other errors.
 */
import { MediaErrorCode } from '../errors.js';
import { SrtpContext, srtpCodeOf, type Suite } from '../srtp/index.js';
import { readPcap, writePcap, type PcapRecord } from './pcap-file.js';
import { parseUdpFrame, rebuildUdpFrame } from './udp-frame.js';

export interface StreamReport {
  ssrc: number;
  kind: 'rtp' | 'rtcp';
  packets: number;
  ok: number;
  authFailures: number;
  replays: number;
  otherErrors: number;
}

export interface SrtpPcapOptions {
  direction: 'decrypt' | 'encrypt';
  suite: Suite;
  masterKey: Buffer;
  masterSalt: Buffer;
  /** Only this SSRC; other packets are copied as they are. */
  ssrc?: number;
  /** Most SSRCs tracked. Default 4096. */
  maxSsrcs?: number;
}

export function transformPcap(input: Buffer, o: SrtpPcapOptions): { output: Buffer; streams: StreamReport[]; skipped: number } {
  const { header, records } = readPcap(input);
  const maxSsrcs = o.maxSsrcs ?? 4096;
  const ctx = new SrtpContext({ suite: o.suite, masterKey: o.masterKey, masterSalt: o.masterSalt, maxSsrcs, replayWindow: 1024 });
  const streams = new Map<string, StreamReport>();
  let skipped = 0;
  const out: PcapRecord[] = records.map((r) => {
    const u = parseUdpFrame(header.linkType, r.data);
    const p = u?.payload;
    if (!u || !p || p.length < 8 || p[0]! >> 6 !== 2) {
      skipped++;
      return r;
    }
    const rtcp = p[1]! >= 192 && p[1]! <= 223;
    if (!rtcp && p.length < 12) {
      skipped++;
      return r;
    }
    const ssrc = rtcp ? p.readUInt32BE(4) : p.readUInt32BE(8);
    if (o.ssrc !== undefined && ssrc !== o.ssrc) return r;
    const key = `${rtcp ? 'rtcp' : 'rtp'}:${ssrc}`;
    const s = streams.get(key) ?? { ssrc, kind: rtcp ? 'rtcp' : 'rtp', packets: 0, ok: 0, authFailures: 0, replays: 0, otherErrors: 0 };
    streams.set(key, s);
    s.packets++;
    const room = Buffer.alloc(p.length + 4 + 16 + 128);
    p.copy(room);
    const n =
      o.direction === 'decrypt'
        ? rtcp
          ? ctx.unprotectRtcpInPlace(room, p.length)
          : ctx.unprotectInPlace(room, p.length)
        : rtcp
          ? ctx.protectRtcpInPlace(room, p.length)
          : ctx.protectInPlace(room, p.length);
    if (n < 0) {
      const c = srtpCodeOf(n);
      if (c === MediaErrorCode.srtpAuth) s.authFailures++;
      else if (c === MediaErrorCode.srtpReplay || c === MediaErrorCode.srtpReplayOld) s.replays++;
      else s.otherErrors++;
      return r;
    }
    s.ok++;
    const data = rebuildUdpFrame(r.data, u, room.subarray(0, n));
    return { ...r, data, origLen: data.length };
  });
  ctx.close();
  return { output: writePcap(header, out), streams: [...streams.values()], skipped };
}
