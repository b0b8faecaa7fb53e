/**
 * Finding the UDP payload in a captured frame and rebuilding the frame around a new payload. Link types:
 * 0 BSD loopback, 1 Ethernet (802.1Q tags skipped), 101 raw IP, 113 Linux cooked (SLL), 276 SLL2. IPv4 without
 * fragments and IPv6 with UDP as the next header. Rebuilding fixes the IP lengths, the IPv4 header checksum,
 * and the UDP checksum (RFC 768; IPv6 needs one, RFC 8200 §8.1).
 */
export interface UdpFrame {
  /** Offset of the IP header in the frame. */
  ipAt: number;
  ipVersion: 4 | 6;
  /** Offset of the UDP header. */
  udpAt: number;
  payload: Buffer;
  srcPort: number;
  dstPort: number;
}

function ipOffset(linkType: number, f: Buffer): number | undefined {
  switch (linkType) {
    case 0:
      return f.length >= 4 ? 4 : undefined;
    case 101:
      return 0;
    case 113:
      return f.length >= 16 && [0x0800, 0x86dd].includes(f.readUInt16BE(14)) ? 16 : undefined;
    case 276:
      return f.length >= 20 && [0x0800, 0x86dd].includes(f.readUInt16BE(0)) ? 20 : undefined;
    case 1: {
      let at = 12;
      while (f.length >= at + 2 && [0x8100, 0x88a8].includes(f.readUInt16BE(at))) at += 4;
      if (f.length < at + 2 || ![0x0800, 0x86dd].includes(f.readUInt16BE(at))) return undefined;
      return at + 2;
    }
    default:
      return undefined;
  }
}

export function parseUdpFrame(linkType: number, f: Buffer): UdpFrame | undefined {
  const ipAt = ipOffset(linkType, f);
  if (ipAt === undefined || f.length < ipAt + 20) return undefined;
  const v = f[ipAt]! >> 4;
  let udpAt: number;
  if (v === 4) {
    const ihl = (f[ipAt]! & 0x0f) * 4;
    if (ihl < 20 || f[ipAt + 9] !== 17) return undefined;
    if ((f.readUInt16BE(ipAt + 6) & 0x3fff) !== 0) return undefined; // a fragment
    udpAt = ipAt + ihl;
  } else if (v === 6) {
    if (f.length < ipAt + 40 || f[ipAt + 6] !== 17) return undefined;
    udpAt = ipAt + 40;
  } else return undefined;
  if (f.length < udpAt + 8) return undefined;
  const udpLen = f.readUInt16BE(udpAt + 4);
  if (udpLen < 8 || udpAt + udpLen > f.length) return undefined;
  return {
    ipAt,
    ipVersion: v as 4 | 6,
    udpAt,
    payload: f.subarray(udpAt + 8, udpAt + udpLen),
    srcPort: f.readUInt16BE(udpAt),
    dstPort: f.readUInt16BE(udpAt + 2),
  };
}

function sum16(b: Buffer, start: number, end: number, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += b.readUInt16BE(i);
  if ((end - start) & 1) acc += b[end - 1]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

/** The frame with the UDP payload replaced; anything after the UDP datagram (Ethernet padding) is dropped. */
export function rebuildUdpFrame(f: Buffer, u: UdpFrame, payload: Buffer): Buffer {
  const out = Buffer.concat([f.subarray(0, u.udpAt + 8), payload]);
  const udpLen = 8 + payload.length;
  out.writeUInt16BE(udpLen, u.udpAt + 4);
  out.writeUInt16BE(0, u.udpAt + 6);
  let pseudo: number;
  if (u.ipVersion === 4) {
    out.writeUInt16BE(u.udpAt - u.ipAt + udpLen, u.ipAt + 2);
    out.writeUInt16BE(0, u.ipAt + 10);
    out.writeUInt16BE(fold(sum16(out, u.ipAt, u.udpAt)), u.ipAt + 10);
    pseudo = sum16(out, u.ipAt + 12, u.ipAt + 20) + 17 + udpLen;
  } else {
    out.writeUInt16BE(udpLen, u.ipAt + 4);
    pseudo = sum16(out, u.ipAt + 8, u.ipAt + 40) + 17 + udpLen;
  }
  const c = fold(sum16(out, u.udpAt, u.udpAt + udpLen, pseudo));
  out.writeUInt16BE(c === 0 ? 0xffff : c, u.udpAt + 6);
  return out;
}
