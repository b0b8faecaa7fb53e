/**
 * bench/srtp-mediad — how many concurrent 20 ms G.711 SRTP streams (AES_CM_128_HMAC_SHA1_80) one core of
 * sbd-mediad sustains with under 1 ms pacing jitter: N listeners on one source, packets sent to a loopback
 * sink in a child process; a step passes when at most 1 % of ticks run more than 1 ms late.
 * Env: SBD_BENCH_MEDIAD_SECONDS per step (default 4).
 */
import { fork } from 'node:child_process';
import { cpuUsage } from 'node:process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { MediaServer, PACKET_MS } from '../src/media/streaming/index.js';
import { createCryptoOffer, formatCryptoAttribute } from '../src/sdp/index.js';

if (process.argv[2] === 'sink') {
  const { createSocket } = await import('node:dgram');
  const s = createSocket('udp4');
  let n = 0;
  s.on('message', () => n++);
  s.bind(0, '127.0.0.1', () => process.send!({ port: s.address().port }));
  process.on('message', () => process.send!({ received: n }));
} else {
  const seconds = Number(process.env.SBD_BENCH_MEDIAD_SECONDS ?? 4);
  const sink = fork(fileURLToPath(import.meta.url), ['sink'], { execArgv: ['--import', 'tsx'] });
  const [{ port }] = (await once(sink, 'message')) as [{ port: number }];
  const samples = Buffer.from(Array.from({ length: 8000 * 5 }, (_, i) => (i * 13) & 0xff));
  const rows: string[] = [];
  let best = 0;
  for (const n of [250, 500, 1000, 2000, 3000, 4000, 6000]) {
    const media = new MediaServer({ maxListeners: n });
    media.addSource('moh', { codec: 'PCMU', samples });
    await media.listen();
    const offer = createCryptoOffer(['AES_CM_128_HMAC_SHA1_80'], 'media-streaming').map(formatCryptoAttribute);
    for (let i = 0; i < n; i++) media.addListener({ source: 'moh', address: '127.0.0.1', port, crypto: offer });
    await new Promise((r) => setTimeout(r, 500)); // warm-up
    media.resetPacingStats();
    const s0 = media.stats(),
      c0 = cpuUsage(),
      t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const s1 = media.stats(),
      c1 = cpuUsage(),
      t1 = performance.now();
    await media.close();
    const ticks = s1.ticks - s0.ticks,
      late = s1.lateTicksOver1ms - s0.lateTicksOver1ms;
    const cpu = (c1.user - c0.user + c1.system - c0.system) / 1000 / (t1 - t0);
    const ok = late <= ticks * 0.01 && s1.ticksSkipped === s0.ticksSkipped;
    if (ok) best = n;
    const sent = s1.packetsSent - s0.packetsSent;
    const usPerPacket = (c1.user - c0.user + c1.system - c0.system) / Math.max(1, sent);
    rows.push(
      `| ${n} | ${(sent / ((t1 - t0) / 1000) / 1000).toFixed(1)} | ${(cpu * 100).toFixed(0)} % | ${usPerPacket.toFixed(2)} | ${Math.floor((PACKET_MS * 1000) / usPerPacket)} | ${ticks} | ${late} | ${s1.maxLatenessMs.toFixed(2)} | ${ok ? 'yes' : 'no'} |`,
    );
    process.stderr.write(rows[rows.length - 1] + '\n');
    if (!ok && cpu > 0.95) break;
  }
  sink.kill();
  process.stdout.write(
    `bench/srtp-mediad — ${new Date().toISOString().slice(0, 10)}, ${seconds} s per step, AES_CM_128_HMAC_SHA1_80, G.711 20 ms\n`,
  );
  process.stdout.write(
    '| streams | kpkt/s sent | CPU of one core | CPU µs per packet | streams per core at 100 % CPU | ticks | ticks > 1 ms late | max lateness ms | sustained |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|\n',
  );
  process.stdout.write(rows.join('\n') + `\nlargest sustained step: ${best} streams\n`);
}
