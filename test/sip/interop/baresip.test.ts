/**
 * A call between a real SIP client, baresip (Debian), and the simulated phone, through sbd-sipd on loopback,
 * with SRTP negotiated by SDES on both sides.
 *
 * baresip runs from a temporary config folder: SIP over TLS to sbd (`sip_cafile`: sbd's CallManager certificate;
 * SDES keys travel only over TLS legs, issue 16 row 10, so both sides are on TLS), media on 127.0.0.1
 * (`net_interface 127.0.0.1`), account `;mediaenc=srtp-mand;answermode=auto`, audio from a WAV file made here
 * (`aufile`: a 1 kHz tone), no sound card (`aubridge` as player), `sndfile` dumping what it decodes. Checked:
 * the call connects; both sides use the same SRTP suite (baresip's log, the phone's negotiation); the phone
 * decrypts baresip's SRTP (its engine authenticates every packet, and the payload is baresip's 1 kHz tone);
 * baresip decrypts the phone's SRTP (the audio it decoded holds the phone's 400 Hz tone); BYE ends it.
 * Digest is MD5 only here: baresip 1.0's libre gives up ("Function not implemented") on a SHA-256 challenge
 * instead of skipping it (RFC 8760 §2.4), so the daemon offers MD5 alone, as `--digest-algorithms MD5` would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SipPhone } from '../../../src/sim/sip-ua/user-agent.js';
import { addLineUser, have, makeState, startDaemon } from './harness.js';

const RATE = 8000;

/** 16-bit mono PCM WAV of a sine tone. */
function toneWav(hz: number, seconds: number): Buffer {
  const n = RATE * seconds;
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) data.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / RATE)), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(RATE, 24);
  h.writeUInt32LE(RATE * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** Power of one frequency in 16-bit samples (Goertzel), per sample. */
function power(samples: Int16Array, hz: number, rate: number): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  for (const v of samples) {
    const s = v + k * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return (s1 * s1 + s2 * s2 - k * s1 * s2) / Math.max(1, samples.length);
}

const ulawToLinear = (u: number): number => {
  const x = ~u & 0xff;
  const t = (((x & 0x0f) << 3) + 0x84) << ((x & 0x70) >> 4);
  return x & 0x80 ? 0x84 - t : t - 0x84;
};

test('baresip ↔ simulated phone: a call through sbd with SRTP negotiated and media decrypted on both sides', {
  skip: have('baresip') ? false : 'baresip is not installed',
  timeout: 180_000,
}, async () => {
  const made = makeState();
  addLineUser(made.state, 'u5000', 'pw-5000');
  addLineUser(made.state, 'u6000', 'pw-6000');
  const h = await startDaemon({ digestAlgorithms: ['MD5'] }, made);
  const dir = join(h.dir, 'baresip');
  mkdirSync(dir);
  writeFileSync(join(dir, 'tone.wav'), toneWav(1000, 5));
  writeFileSync(
    join(dir, 'config'),
    [
      'poll_method epoll',
      'sip_listen 127.0.0.1:0',
      'net_interface 127.0.0.1',
      `audio_source aufile,${join(dir, 'tone.wav')}`,
      'audio_player aubridge,nil',
      'audio_alert aubridge,nil',
      'module_path /usr/lib/baresip/modules',
      'module stdio.so',
      'module g711.so',
      'module aufile.so',
      'module aubridge.so',
      'module srtp.so',
      'module sndfile.so',
      `snd_path ${dir}`,
      'module_app account.so',
      'module_app menu.so',
      `sip_cafile ${join(dir, 'sbd-ca.pem')}`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'sbd-ca.pem'), made.state.store.currentCertificate('CallManager', 'sbd1')!.pem);
  writeFileSync(
    join(dir, 'accounts'),
    `<sip:u5000@127.0.0.1:${h.ports.tls};transport=tls>;auth_pass=pw-5000;mediaenc=srtp-mand;answermode=auto;regint=600\n`,
  );
  const bs = spawn('baresip', ['-f', dir, '-v', '-t', '120'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const onData = (d: Buffer): void => {
    log += d.toString('utf8');
    for (const w of waiters.splice(0))
      if (w.re.test(log)) w.resolve();
      else waiters.push(w);
  };
  bs.stdout.on('data', onData);
  bs.stderr.on('data', onData);
  const exited = new Promise<void>((resolve) => bs.on('close', () => resolve()));
  const waitLog = (re: RegExp, what: string) =>
    Promise.race([
      new Promise<void>((resolve) => {
        if (re.test(log)) resolve();
        else waiters.push({ re, resolve });
      }),
      exited.then(() => {
        throw new Error(`baresip exited before ${what}:\n${log.slice(-3000)}`);
      }),
    ]);
  let phone: SipPhone | undefined;
  try {
    await waitLog(/registered successfully/, 'registering');
    phone = await SipPhone.connect({
      flow: {
        transport: 'tls',
        host: '127.0.0.1',
        port: h.ports.tls!,
        ca: made.state.store.currentCertificate('CallManager', 'sbd1')!.pem,
      },
      line: 'u6000',
      credentials: { username: 'u6000', password: 'pw-6000' },
    });
    assert.equal((await phone.register()).status, 200);

    const call = await phone.call('u5000');
    await waitLog(/Call established/, 'the call was established');
    assert.ok(call.suite, 'SRTP negotiated on the phone side');
    const m = /SRTP is Enabled \(cryptosuite=([A-Z0-9_]+)\)/.exec(log);
    assert.ok(m, 'baresip reports SRTP enabled');
    assert.equal(m[1], call.suite, 'both sides use the same suite');
    assert.equal(call.securityIndication, 'Encrypted', 'sbd marked the call secure to the phone');

    // 1.5 s of the phone's tone out; at least 1 s of baresip's tone in, every packet authenticated by the engine.
    await Promise.all([call.media.sendTone(75), call.media.waitForPackets(50)]);
    assert.deepEqual(call.media.stats.refused, {}, 'no SRTP packet from baresip failed authentication');
    const pcm = Int16Array.from(call.media.stats.lastPayload!, ulawToLinear);
    assert.ok(power(pcm, 1000, RATE) > 100 * power(pcm, 400, RATE), "decrypted payload is baresip's 1 kHz tone");

    assert.equal((await call.hangup()).status, 200);
    await waitLog(/terminated \(duration/, 'the BYE ended the call');
    bs.kill('SIGTERM');
    await exited;
    // What baresip decoded from the phone's SRTP: the phone's 400 Hz tone (silence if it had failed to decrypt).
    const dec = readdirSync(dir).find((f) => f.endsWith('-dec.wav'));
    assert.ok(dec, 'baresip dumped its decoded audio');
    const wav = readFileSync(join(dir, dec));
    const samples = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length - (wav.length % 2)));
    assert.ok(samples.length >= RATE / 2, `at least 0.5 s decoded (got ${samples.length} samples)`);
    assert.ok(power(samples, 400, RATE) > 100 * power(samples, 1000, RATE), "baresip decoded the phone's 400 Hz tone");
  } finally {
    phone?.close();
    if (bs.exitCode === null) bs.kill('SIGKILL');
    await exited;
    await h.close();
  }
});
