/**
 * sbd-mediad: WAV sources streamed as SRTP to several loopback listeners, each with its own negotiated suite
 * (80-bit, 32-bit, plain RTP), through the control port and through the CLI daemon; WAV validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { MediaControlServer, MediaServer, buildWav, parseWav } from '../../src/media/streaming/index.js';
import { SrtpContext } from '../../src/media/srtp/index.js';
import { acceptCryptoAnswer, createCryptoOffer, formatCryptoAttribute, parseCryptoAttribute } from '../../src/sdp/index.js';

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;
const samples = Buffer.from(Array.from({ length: 8000 }, (_, i) => (i * 7) & 0xff)); // 1 s

async function udpListener(): Promise<{ socket: Socket; port: number; packets: Buffer[]; wait: (n: number) => Promise<void> }> {
  const socket = createSocket('udp4');
  const packets: Buffer[] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  socket.on('message', (m) => {
    packets.push(m);
    if (waiter && packets.length >= waiter.n) waiter.resolve();
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return {
    socket,
    port: socket.address().port,
    packets,
    wait: (n) => (packets.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve }))),
  };
}

/** The 160-sample frames the packets carry, checked against the source loop from the first frame's offset. */
function checkFrames(rtps: Buffer[], pt: number): void {
  const first = rtps[0]!;
  const start = samples.indexOf(first.subarray(12, 12 + 16));
  assert.ok(start >= 0, 'first frame comes from the source');
  rtps.forEach((p, i) => {
    assert.equal(p.length, 172);
    assert.equal(p[1]! & 0x7f, pt);
    assert.equal(p.readUInt16BE(2), (first.readUInt16BE(2) + i) & 0xffff, 'sequence numbers follow');
    assert.equal(p.readUInt32BE(4), (first.readUInt32BE(4) + 160 * i) >>> 0, 'timestamps advance 160 a packet');
    const at = (start + 160 * i) % samples.length;
    const expected = Buffer.concat([samples, samples]).subarray(at, at + 160);
    assert.deepEqual(p.subarray(12), expected, `frame ${i}`);
  });
}

test('MediaServer: one source to three listeners, each with its own suite (80, 32, RTP)', { timeout: 120_000 }, async (t) => {
  const media = new MediaServer();
  media.addSource('moh', { codec: 'PCMU', samples });
  await media.listen();
  const control = new MediaControlServer(media);
  const l80 = await udpListener(),
    l32 = await udpListener(),
    lrtp = await udpListener();
  // Close everything even when an assertion fails, so the test file ends instead of hanging on open handles.
  t.after(async () => {
    await media.close();
    for (const l of [l80, l32, lrtp]) {
      try {
        l.socket.close();
      } catch {
        /* already closed */
      }
    }
  });
  // a failed assertion must still stop the server's timer and close the sockets, or the file never exits
  try {
    const offers = {
      l80: createCryptoOffer(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'], 'media-streaming'),
      l32: createCryptoOffer(['AES_CM_128_HMAC_SHA1_32'], 'media-streaming'),
    };
    const a80 = control.handle({
      op: 'add',
      source: 'moh',
      address: '127.0.0.1',
      port: l80.port,
      crypto: offers.l80.map(formatCryptoAttribute),
    });
    const a32 = control.handle({
      op: 'add',
      source: 'moh',
      address: '127.0.0.1',
      port: l32.port,
      crypto: offers.l32.map(formatCryptoAttribute),
    });
    const artp = control.handle({ op: 'add', source: 'moh', address: '127.0.0.1', port: lrtp.port });
    assert.equal(a80.suite, 'AES_CM_128_HMAC_SHA1_80');
    assert.equal(a32.suite, 'AES_CM_128_HMAC_SHA1_32');
    assert.equal(artp.mode, 'rtp');
    await Promise.all([l80.wait(12), l32.wait(12), lrtp.wait(12)]);
    for (const [l, offer, ans] of [
      [l80, offers.l80, a80],
      [l32, offers.l32, a32],
    ] as const) {
      const keys = acceptCryptoAnswer(offer, parseCryptoAttribute(String(ans.crypto)));
      assert.ok(keys);
      const rx = new SrtpContext(keys.rxPolicy);
      const rtps = l.packets.slice(0, 12).map((p) => rx.unprotect(p));
      checkFrames(rtps, 0);
    }
    checkFrames(lrtp.packets.slice(0, 12), 0);
    assert.deepEqual(control.handle({ op: 'remove', id: a80.id }), { ok: true });
    const st = control.handle({ op: 'stats' }) as { stats: { listeners: number; packetsSent: number } };
    assert.equal(st.stats.listeners, 2);
    assert.ok(st.stats.packetsSent >= 36);
  } finally {
    await media.close();
    for (const l of [l80, l32, lrtp]) l.socket.close();
  }
});

test('MediaServer: refusals are typed — no common suite under Block Unencrypted (488), unknown source, bad address', async () => {
  const media = new MediaServer({ blockUnencrypted: true });
  media.addSource('ivr', { codec: 'PCMA', samples });
  const control = new MediaControlServer(media);
  const gcmOnly = createCryptoOffer(['AEAD_AES_128_GCM'], 'call').map(formatCryptoAttribute);
  assert.deepEqual(control.handle({ op: 'add', source: 'ivr', address: '127.0.0.1', port: 4000, crypto: gcmOnly }).status, 488);
  assert.throws(() => media.addListener({ source: 'ivr', address: '127.0.0.1', port: 4000 }), code('ERR_MEDIA_NO_COMMON_SUITE'));
  assert.throws(() => media.addListener({ source: 'nope', address: '127.0.0.1', port: 4000 }), code('ERR_MEDIA_SOURCE_UNKNOWN'));
  assert.throws(() => media.addListener({ source: 'ivr', address: 'example', port: 4000 }), code('ERR_MEDIA_ADDRESS'));
  assert.equal(control.handle({ op: 'dance' }).code, 'ERR_MEDIA_CONTROL');
  await media.close();
});

test('WAV: G.711 and 16-bit PCM accepted, everything else rejected with a typed error', () => {
  assert.deepEqual(parseWav(buildWav('PCMA', samples)), { codec: 'PCMA', samples });
  const pcm = Buffer.alloc(44 + 320);
  pcm.write('RIFF', 0, 'latin1'), pcm.writeUInt32LE(36 + 320, 4), pcm.write('WAVEfmt ', 8, 'latin1'), pcm.writeUInt32LE(16, 16);
  pcm.writeUInt16LE(1, 20),
    pcm.writeUInt16LE(1, 22),
    pcm.writeUInt32LE(8000, 24),
    pcm.writeUInt32LE(16000, 28),
    pcm.writeUInt16LE(2, 32),
    pcm.writeUInt16LE(16, 34);
  pcm.write('data', 36, 'latin1'), pcm.writeUInt32LE(320, 40);
  const decoded = parseWav(pcm);
  assert.equal(decoded.codec, 'PCMU');
  assert.equal(decoded.samples[0], 0xff, 'silence is 0xff in μ-law');
  const stereo = Buffer.from(pcm);
  stereo.writeUInt16LE(2, 22);
  assert.throws(() => parseWav(stereo), code('ERR_MEDIA_WAV_UNSUPPORTED'));
  assert.throws(() => parseWav(Buffer.from('RIFF....WAVX')), code('ERR_MEDIA_WAV_FORMAT'));
  assert.throws(() => parseWav(pcm.subarray(0, 60)), code('ERR_MEDIA_WAV_TRUNCATED'));
});

test('sbd daemon media: the CLI daemon streams SRTP to a listener added over the control port', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-mediad-'));
  writeFileSync(join(dir, 'moh.wav'), buildWav('PCMU', samples));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'daemon', 'media', '--source', `moh=${join(dir, 'moh.wav')}`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    let out = '';
    const ready = await new Promise<{ control: { port: number } }>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.includes('"event":"ready"'));
        if (line) resolve(JSON.parse(line));
      });
      child.once('exit', (c) => reject(new Error(`daemon exited ${c}: ${out}`)));
    });
    const l = await udpListener();
    const offer = createCryptoOffer(['AES_CM_128_HMAC_SHA1_80'], 'media-streaming');
    const sock = connect(ready.control.port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(
      JSON.stringify({ op: 'add', source: 'moh', address: '127.0.0.1', port: l.port, crypto: offer.map(formatCryptoAttribute) }) + '\n',
    );
    const [answerLine] = (await once(sock, 'data')) as [Buffer];
    const answer = JSON.parse(answerLine.toString()) as { ok: boolean; crypto: string };
    assert.equal(answer.ok, true);
    const keys = acceptCryptoAnswer(offer, parseCryptoAttribute(answer.crypto))!;
    await l.wait(5);
    const rx = new SrtpContext(keys.rxPolicy);
    checkFrames(
      l.packets.slice(0, 5).map((p) => rx.unprotect(p)),
      0,
    );
    sock.end();
    l.socket.close();
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }
});
