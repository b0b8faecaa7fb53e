/**
 * `sbd srtp decrypt|encrypt`: SRTP captures (Ethernet/IPv4, IPv6, Linux SLL) turned into RTP and back, with per
 * stream counts of authentication failures and replays; bad captures rejected with typed errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPcap, writePcap, parseUdpFrame, rebuildUdpFrame, transformPcap, type PcapRecord } from '../../src/media/pcap/index.js';
import { SrtpContext } from '../../src/media/srtp/index.js';
import { rtpPacket, rtcpSenderReport, keyFor } from './rtp-fixtures.js';

function ethIpv4Udp(payload: Buffer): Buffer {
  const eth = Buffer.from('0200000000010200000000020800', 'hex');
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from([127, 0, 0, 1, 127, 0, 0, 2]).copy(ip, 12);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(20000, 0), udp.writeUInt16BE(30000, 2);
  const frame = Buffer.concat([eth, ip, udp, Buffer.alloc(0)]);
  return rebuildUdpFrame(frame, { ipAt: 14, ipVersion: 4, udpAt: 34, payload: Buffer.alloc(0), srcPort: 20000, dstPort: 30000 }, payload);
}

function ipv6Udp(payload: Buffer): Buffer {
  const ip = Buffer.alloc(40);
  ip[0] = 0x60;
  ip[6] = 17;
  ip[7] = 64;
  (ip[23] = 1), (ip[39] = 1); // ::1 → ::1
  const frame = Buffer.concat([ip, Buffer.alloc(8)]);
  return rebuildUdpFrame(frame, { ipAt: 0, ipVersion: 6, udpAt: 40, payload: Buffer.alloc(0), srcPort: 1, dstPort: 2 }, payload);
}

function checksumOk(f: Buffer, ipAt: number, v: 4 | 6, udpAt: number): boolean {
  const sum = (b: Buffer, s: number, e: number, acc = 0) => {
    for (let i = s; i + 1 < e; i += 2) acc += b.readUInt16BE(i);
    if ((e - s) & 1) acc += b[e - 1]! << 8;
    while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
    return acc;
  };
  const len = f.readUInt16BE(udpAt + 4);
  const pseudo = v === 4 ? sum(f, ipAt + 12, ipAt + 20) + 17 + len : sum(f, ipAt + 8, ipAt + 40) + 17 + len;
  const udpOk = sum(f, udpAt, udpAt + len, pseudo) === 0xffff;
  return v === 6 ? udpOk : udpOk && sum(f, ipAt, udpAt) === 0xffff;
}

const rec = (data: Buffer, i: number): PcapRecord => ({ tsSec: 1700000000 + i, tsFrac: i * 20000, origLen: data.length, data });

test('encrypt then decrypt a capture gives back the RTP, with valid lengths and checksums', () => {
  const k = keyFor(16, 14);
  const plain = [
    ...Array.from({ length: 20 }, (_, i) => ethIpv4Udp(rtpPacket(65530 + i, 0xabc))),
    ethIpv4Udp(rtcpSenderReport(0xabc)),
    ethIpv4Udp(Buffer.from('not rtp')),
  ];
  const input = writePcap(
    { littleEndian: true, nanoseconds: false, versionMajor: 2, versionMinor: 4, snaplen: 65535, linkType: 1 },
    plain.map(rec),
  );
  const enc = transformPcap(input, { direction: 'encrypt', suite: 'AES_CM_128_HMAC_SHA1_32', ...k });
  assert.deepEqual(
    enc.streams.map((s) => [s.kind, s.ok]),
    [
      ['rtp', 20],
      ['rtcp', 1],
    ],
  );
  assert.equal(enc.skipped, 1);
  const encRecords = readPcap(enc.output).records;
  for (const r of encRecords) {
    const u = parseUdpFrame(1, r.data)!;
    assert.ok(checksumOk(r.data, u.ipAt, 4, u.udpAt));
  }
  const dec = transformPcap(enc.output, { direction: 'decrypt', suite: 'AES_CM_128_HMAC_SHA1_32', ...k });
  assert.deepEqual(
    readPcap(dec.output).records.map((r) => r.data),
    plain,
  );
});

test('decrypt reports per stream: authentication failures, replays; --ssrc filters; IPv6 and SLL frames', () => {
  const k = keyFor(16, 12);
  const tx = new SrtpContext({ suite: 'AEAD_AES_128_GCM', ...k });
  const a = Array.from({ length: 5 }, (_, i) => tx.protect(rtpPacket(i, 1)));
  const b = Array.from({ length: 3 }, (_, i) => tx.protect(rtpPacket(100 + i, 2)));
  const bad = Buffer.from(a[2]!);
  bad[30]! ^= 1;
  const frames = [a[0]!, a[1]!, bad, a[3]!, a[3]!, a[4]!, ...b].map(ipv6Udp);
  const input = writePcap(
    { littleEndian: false, nanoseconds: true, versionMajor: 2, versionMinor: 4, snaplen: 65535, linkType: 101 },
    frames.map(rec),
  );
  const out = transformPcap(input, { direction: 'decrypt', suite: 'AEAD_AES_128_GCM', ...k });
  const s1 = out.streams.find((s) => s.ssrc === 1)!;
  assert.deepEqual([s1.packets, s1.ok, s1.authFailures, s1.replays], [6, 4, 1, 1]);
  const recs = readPcap(out.output).records;
  const u = parseUdpFrame(101, recs[0]!.data)!;
  assert.deepEqual(u.payload, rtpPacket(0, 1));
  assert.ok(checksumOk(recs[0]!.data, u.ipAt, 6, u.udpAt));
  assert.deepEqual(recs[2]!.data, frames[2], 'a packet that fails stays as captured');
  const only2 = transformPcap(input, { direction: 'decrypt', suite: 'AEAD_AES_128_GCM', ...k, ssrc: 2 });
  assert.deepEqual(
    only2.streams.map((s) => s.ssrc),
    [2],
  );
  // Linux cooked capture (SLL): 16-byte pseudo header before IP
  const sll = frames
    .slice(0, 2)
    .map((f) => Buffer.concat([Buffer.from('00000001000600000000000000000000', 'hex').fill(0x86, 14, 15).fill(0xdd, 15, 16), f]));
  const sllOut = transformPcap(
    writePcap({ littleEndian: true, nanoseconds: false, versionMajor: 2, versionMinor: 4, snaplen: 65535, linkType: 113 }, sll.map(rec)),
    { direction: 'decrypt', suite: 'AEAD_AES_128_GCM', ...k },
  );
  assert.equal(sllOut.streams[0]!.ok, 2);
});

test('bad captures are typed errors', () => {
  const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;
  const k = keyFor(16, 14);
  const o = { direction: 'decrypt', suite: 'AES_CM_128_HMAC_SHA1_80', ...k } as const;
  assert.throws(() => transformPcap(Buffer.from('0a0d0d0a000000000000000000000000000000000000000000', 'hex'), o), code('ERR_PCAP_PCAPNG'));
  assert.throws(() => transformPcap(Buffer.alloc(30), o), code('ERR_PCAP_FORMAT'));
  const good = writePcap({ littleEndian: true, nanoseconds: false, versionMajor: 2, versionMinor: 4, snaplen: 65535, linkType: 1 }, [
    rec(ethIpv4Udp(rtpPacket(1, 1)), 0),
  ]);
  assert.throws(() => transformPcap(good.subarray(0, good.length - 3), o), code('ERR_PCAP_TRUNCATED'));
});

test('sbd srtp decrypt (CLI): writes OUT.pcap and prints the per-stream report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-srtp-pcap-'));
  const k = keyFor(16, 14);
  const tx = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', ...k });
  const frames = Array.from({ length: 4 }, (_, i) => ethIpv4Udp(tx.protect(rtpPacket(i, 0x1234))));
  writeFileSync(
    join(dir, 'in.pcap'),
    writePcap({ littleEndian: true, nanoseconds: false, versionMajor: 2, versionMinor: 4, snaplen: 65535, linkType: 1 }, frames.map(rec)),
  );
  const key = Buffer.concat([k.masterKey, k.masterSalt]).toString('base64');
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'srtp',
      'decrypt',
      '--suite',
      'AES_CM_128_HMAC_SHA1_80',
      '--key',
      key,
      join(dir, 'in.pcap'),
      join(dir, 'out.pcap'),
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /rtp ssrc=0x00001234\s+4\s+4\s+0\s+0\s+0/);
  const out = readPcap(readFileSync(join(dir, 'out.pcap'))).records;
  assert.deepEqual(parseUdpFrame(1, out[3]!.data)!.payload, rtpPacket(3, 0x1234));
  const bad = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'srtp',
      'decrypt',
      '--suite',
      'AEAD_AES_128_GCM',
      '--key',
      key,
      join(dir, 'in.pcap'),
      join(dir, 'x.pcap'),
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /must be 28 bytes/);
});
