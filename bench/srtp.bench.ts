/**
 * bench/srtp — SRTP packets per CPU-second, protect and unprotect, 172-byte (G.711 20 ms) and 1200-byte RTP,
 * for each suite: sbd per packet, sbd batch (64 packets a call), Debian's libsrtp2 (NSS), libsrtp2 built with
 * --enable-openssl from Debian's source, node:crypto used the naive way, and `openssl speed` as the ceiling.
 * Median of interleaved rounds after one uncounted warm-up round (this machine is noisy); ratios are to
 * libsrtp2+OpenSSL.
 * Env: SBD_BENCH_ROUNDS (default 5), SBD_BENCH_SCRATCH (scratch folder for the libsrtp2 build),
 * SBD_BENCH_SUITES / SBD_BENCH_SIZES (comma-separated subsets, default all four suites and 172,1200).
 */
import { execFileSync } from 'node:child_process';
import { cpuUsage } from 'node:process';
import { PacketBatch, PacketBuffer, SrtpContext, SUITES, type Suite } from '../src/media/srtp/index.js';
import { buildNssPeer, buildOpensslPeer, runPeer } from './srtp-libsrtp.js';
import { naiveSrtp } from './srtp-naive.js';

const ROUNDS = Number(process.env.SBD_BENCH_ROUNDS ?? 5);
const ALL_SUITES: Suite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'];
const BENCH_SUITES = process.env.SBD_BENCH_SUITES
  ? process.env.SBD_BENCH_SUITES.split(',').map((s) => {
      if (!ALL_SUITES.includes(s as Suite)) throw new Error(`SBD_BENCH_SUITES: unknown suite ${s}`);
      return s as Suite;
    })
  : ALL_SUITES;
const SIZES = (process.env.SBD_BENCH_SIZES ?? '172,1200').split(',').map((s) => {
  if (s !== '172' && s !== '1200') throw new Error(`SBD_BENCH_SIZES: ${s} is not 172 or 1200`);
  return Number(s);
});
const COUNT: Record<number, number> = { 172: 50_000, 1200: 20_000 };
const BATCH = 64;

const cpu = (): number => {
  const u = cpuUsage();
  return (u.user + u.system) / 1e6;
};

function keysOf(suite: Suite): { masterKey: Buffer; masterSalt: Buffer } {
  const p = SUITES[suite];
  return { masterKey: Buffer.alloc(p.keyLength, 0x5a), masterSalt: Buffer.alloc(p.saltLength, 0xa5) };
}

function rtpInto(b: Buffer, at: number, seq: number, size: number): void {
  b.fill(0xab, at, at + size);
  b[at] = 0x80;
  b[at + 1] = 0;
  b.writeUInt16BE(seq & 0xffff, at + 2);
  b.writeUInt32BE(0xcafebabe, at + 8);
}

type Result = { protect: number; unprotect: number };

function must(r: number): void {
  if (r < 0) throw new Error(`engine error ${r}`);
}

function sbdPerPacket(suite: Suite, size: number, count: number): Result {
  const tx = new SrtpContext({ suite, ...keysOf(suite) });
  const pb = new PacketBuffer(size + 64);
  rtpInto(pb.bytes, 0, 0, size);
  const b = pb.bytes;
  let t = cpu();
  for (let i = 0; i < count; i++) {
    b[2] = (i >> 8) & 0xff;
    b[3] = i & 0xff;
    must(tx.protectPacket(pb, 0, size));
  }
  const protect = count / (cpu() - t);
  // unprotect: distinct valid packets made beforehand
  const stride = size + 64,
    big = new PacketBuffer(stride * count),
    lens = new Int32Array(count);
  const maker = new SrtpContext({ suite, ...keysOf(suite) });
  for (let i = 0; i < count; i++) {
    rtpInto(big.bytes, i * stride, i, size);
    lens[i] = maker.protectInPlace(big.bytes.subarray(i * stride, (i + 1) * stride), size);
  }
  const rx = new SrtpContext({ suite, ...keysOf(suite) });
  t = cpu();
  for (let i = 0; i < count; i++) must(rx.unprotectPacket(big, i * stride, lens[i]!));
  const unprotect = count / (cpu() - t);
  tx.close(), maker.close(), rx.close();
  return { protect, unprotect };
}

function sbdBatch(suite: Suite, size: number, count: number): Result {
  const tx = new SrtpContext({ suite, ...keysOf(suite) });
  const batch = new PacketBatch({ maxPackets: BATCH, slotSize: size + 64 });
  for (let j = 0; j < BATCH; j++) rtpInto(batch.arena, batch.offsets[j]!, j, size);
  batch.count = BATCH;
  const rounds = Math.floor(count / BATCH);
  let seq = 0;
  let t = cpu();
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < BATCH; j++) {
      const o = batch.offsets[j]!;
      batch.arena[o + 2] = (seq >> 8) & 0xff;
      batch.arena[o + 3] = seq++ & 0xff;
      batch.lengths[j] = size;
    }
    if (tx.protectBatch(batch) !== BATCH) throw new Error('batch protect failed');
  }
  const protect = (rounds * BATCH) / (cpu() - t);
  const maker = new SrtpContext({ suite, ...keysOf(suite) });
  const batches = Array.from({ length: rounds }, (_, r) => {
    const b = new PacketBatch({ maxPackets: BATCH, slotSize: size + 64 });
    for (let j = 0; j < BATCH; j++) b.push(Buffer.alloc(0)), rtpInto(b.arena, b.offsets[j]!, r * BATCH + j, size), (b.lengths[j] = size);
    maker.protectBatch(b);
    return b;
  });
  const rx = new SrtpContext({ suite, ...keysOf(suite) });
  t = cpu();
  for (const b of batches) if (rx.unprotectBatch(b) !== BATCH) throw new Error('batch unprotect failed');
  const unprotect = (rounds * BATCH) / (cpu() - t);
  tx.close(), maker.close(), rx.close();
  return { protect, unprotect };
}

function nodeNaive(suite: Suite, size: number, count: number): Result {
  const k = keysOf(suite);
  const naive = naiveSrtp(suite, k.masterKey, k.masterSalt);
  const rtp = Buffer.alloc(size);
  rtpInto(rtp, 0, 0, size);
  // same bytes as the engine, or the comparison means nothing
  const check = new SrtpContext({ suite, ...k });
  if (!naive.protect(rtp).equals(check.protect(rtp))) throw new Error(`naive ${suite} disagrees with the engine`);
  let t = cpu();
  const out: Buffer[] = new Array(count);
  for (let i = 0; i < count; i++) {
    rtp.writeUInt16BE(i & 0xffff, 2);
    out[i] = naive.protect(rtp);
  }
  const protect = count / (cpu() - t);
  t = cpu();
  for (let i = 0; i < count; i++) naive.unprotect(out[i]!);
  const unprotect = count / (cpu() - t);
  return { protect, unprotect };
}

/**
 * The ceiling: `openssl speed` bulk throughput (16 KiB buffers, no per-call cost) divided into packets — the
 * payload's encryption, plus for AES-CM the SHA-1 of the authenticated bytes.
 */
const bulk = new Map<string, number>();
function opensslBulk(evp: string): number {
  const hit = bulk.get(evp);
  if (hit) return hit;
  const out = execFileSync('openssl', ['speed', '-seconds', '2', '-bytes', '16384', '-evp', evp], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = out.trim().split('\n').pop()!;
  const bytesPerSecond = Number(/([\d.]+)k\s*$/.exec(line)?.[1]) * 1000;
  bulk.set(evp, bytesPerSecond);
  return bytesPerSecond;
}
function opensslCeiling(suite: Suite, size: number): number {
  const p = SUITES[suite];
  const aes = opensslBulk(`aes-${p.keyLength * 8}-${p.cipher === 'gcm' ? 'gcm' : 'ctr'}`) / (size - 12);
  if (p.cipher === 'gcm') return aes;
  const sha = opensslBulk('sha1') / (size + 4);
  return 1 / (1 / aes + 1 / sha);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const log = (s: string) => process.stderr.write(s + '\n');
  const nss = buildNssPeer();
  let ossl: string | undefined;
  try {
    ossl = buildOpensslPeer(log);
  } catch (err) {
    log(`libsrtp2+OpenSSL build failed, ratios unavailable: ${(err as Error).message.split('\n')[0]}`);
  }
  const impls: [string, (s: Suite, n: number, c: number) => Result][] = [
    ['sbd per packet', sbdPerPacket],
    ['sbd batch', sbdBatch],
    ['libsrtp2 NSS (Debian)', (s, n, c) => runPeer(nss, s, n, c)],
    ...(ossl
      ? [
          ['libsrtp2 OpenSSL', (s: Suite, n: number, c: number) => runPeer(ossl!, s, n, c)] as [
            string,
            (s: Suite, n: number, c: number) => Result,
          ],
        ]
      : []),
    ['node:crypto naive', (s, n, c) => nodeNaive(s, n, Math.min(c, 20_000))],
  ];
  const samples = new Map<string, { protect: number[]; unprotect: number[] }>();
  // round 0 warms up the JIT and the caches and is not counted (otherwise the first suite measured pays it)
  for (let r = 0; r <= ROUNDS; r++) {
    log(r === 0 ? 'warm-up round' : `round ${r}/${ROUNDS}`);
    for (const [name, fn] of impls) {
      for (const suite of BENCH_SUITES) {
        for (const size of SIZES) {
          const key = `${name}|${suite}|${size}`;
          const res = fn(suite, size, COUNT[size]!);
          if (r === 0) continue;
          const e = samples.get(key) ?? { protect: [], unprotect: [] };
          e.protect.push(res.protect), e.unprotect.push(res.unprotect);
          samples.set(key, e);
        }
      }
    }
  }
  const ceiling = new Map<string, number>();
  for (const suite of BENCH_SUITES) for (const size of SIZES) ceiling.set(`${suite}|${size}`, opensslCeiling(suite, size));

  const k = (x: number) => (x / 1000).toFixed(0);
  const rows: string[] = [];
  rows.push('| suite | bytes | implementation | protect kpkt/s | × libsrtp2+OpenSSL | unprotect kpkt/s | × libsrtp2+OpenSSL |');
  rows.push('|---|---:|---|---:|---:|---:|---:|');
  for (const suite of BENCH_SUITES) {
    for (const size of SIZES) {
      const ref = samples.get(`libsrtp2 OpenSSL|${suite}|${size}`);
      const refP = ref ? median(ref.protect) : NaN,
        refU = ref ? median(ref.unprotect) : NaN;
      for (const [name] of impls) {
        const s = samples.get(`${name}|${suite}|${size}`)!;
        const p = median(s.protect),
          u = median(s.unprotect);
        rows.push(`| ${suite} | ${size} | ${name} | ${k(p)} | ${(p / refP).toFixed(2)}× | ${k(u)} | ${(u / refU).toFixed(2)}× |`);
      }
      const c = ceiling.get(`${suite}|${size}`)!;
      rows.push(`| ${suite} | ${size} | openssl speed (ceiling) | ${k(c)} | ${(c / refP).toFixed(2)}× | | |`);
    }
  }
  process.stdout.write(
    `bench/srtp — ${new Date().toISOString().slice(0, 10)}, ${ROUNDS} interleaved rounds, median, CPU time, packets per core-second\n`,
  );
  process.stdout.write(rows.join('\n') + '\n');
}

await main();
