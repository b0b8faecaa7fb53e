#!/usr/bin/env node
// Writes the appliance's built-in music-on-hold source: a short generated tone loop, so sbd-mediad has a WAV to
// play without any downloaded or recorded file. `node image/moh-tone.mjs OUT.wav [SECONDS]` (default 4 s).
// Format: RIFF/WAVE, PCM 16-bit, 8000 Hz, mono — what sbd-mediad reads and encodes to G.711 (docs/media.md).
// The loop is four notes (A4, C#5, E5, C#5), each with a raised-cosine attack and release so that neither the note
// changes nor the wrap-around of the loop click; the last sample leads back into the first.
import { writeFileSync, renameSync } from 'node:fs';

const [out, secondsArg] = process.argv.slice(2);
if (!out) {
  process.stderr.write('usage: moh-tone.mjs OUT.wav [SECONDS]\n');
  process.exit(2);
}
const seconds = Number(secondsArg ?? 4);
if (!Number.isInteger(seconds) || seconds < 1 || seconds > 60) {
  process.stderr.write(`moh-tone.mjs: SECONDS must be an integer 1..60, got "${secondsArg}"\n`);
  process.exit(2);
}
const rate = 8000;
const n = rate * seconds;
const notes = [440, 554.37, 659.25, 554.37];
const perNote = Math.floor(n / notes.length);
const ramp = Math.floor(rate * 0.03); // 30 ms attack and release
const amplitude = 0.3 * 32767; // -10 dBFS: comfortable after G.711 companding
const pcm = Buffer.alloc(2 * n);
for (let i = 0; i < n; i++) {
  const k = Math.min(notes.length - 1, Math.floor(i / perNote));
  const t = i - k * perNote;
  const len = k === notes.length - 1 ? n - k * perNote : perNote;
  const env =
    t < ramp ? 0.5 - 0.5 * Math.cos((Math.PI * t) / ramp) : t > len - ramp ? 0.5 - 0.5 * Math.cos((Math.PI * (len - t)) / ramp) : 1;
  pcm.writeInt16LE(Math.round(amplitude * env * Math.sin((2 * Math.PI * notes[k] * t) / rate)), 2 * i);
}
const h = Buffer.alloc(44);
h.write('RIFF', 0, 'latin1');
h.writeUInt32LE(36 + pcm.length, 4);
h.write('WAVEfmt ', 8, 'latin1');
h.writeUInt32LE(16, 16); // fmt chunk size
h.writeUInt16LE(1, 20); // PCM
h.writeUInt16LE(1, 22); // mono
h.writeUInt32LE(rate, 24);
h.writeUInt32LE(rate * 2, 28); // byte rate
h.writeUInt16LE(2, 32); // block align
h.writeUInt16LE(16, 34); // bits per sample
h.write('data', 36, 'latin1');
h.writeUInt32LE(pcm.length, 40);
writeFileSync(`${out}.tmp`, Buffer.concat([h, pcm]));
renameSync(`${out}.tmp`, out);
