/**
 * WAV (RIFF) reader for media sources: 8 kHz mono G.711 μ-law (format 7) or A-law (format 6) as recorded for
 * music on hold, IVR prompts and announcements, or 8 kHz mono 16-bit PCM (format 1) which is encoded to the
 * requested G.711 law. Anything else is a MediaError with a stable code. Sans-I/O: bytes in, samples out.
 */
import { MediaError, MediaErrorCode } from '../errors.js';
import { linearToAlaw, linearToUlaw } from './g711.js';

export type G711Codec = 'PCMU' | 'PCMA';
export const PAYLOAD_TYPE: Record<G711Codec, number> = { PCMU: 0, PCMA: 8 }; // RFC 3551 Table 4

export interface WavAudio {
  codec: G711Codec;
  /** One byte per 8 kHz sample. */
  samples: Buffer;
}

export interface WavOptions {
  /** Largest file accepted, bytes. Default 64 MiB (over an hour of G.711). */
  maxBytes?: number;
  /** Law for PCM input. Default 'PCMU'. */
  pcmCodec?: G711Codec;
}

export function parseWav(buf: Buffer, options: WavOptions = {}): WavAudio {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  if (buf.length > maxBytes) throw new MediaError(MediaErrorCode.wavTooLarge, `WAV file larger than ${maxBytes} bytes`);
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new MediaError(MediaErrorCode.wavFormat, 'not a RIFF/WAVE file');
  }
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let data: Buffer | undefined;
  for (let at = 12; at + 8 <= buf.length; ) {
    const id = buf.toString('latin1', at, at + 4),
      size = buf.readUInt32LE(at + 4);
    const body = at + 8;
    if (body + size > buf.length) throw new MediaError(MediaErrorCode.wavTruncated, `chunk "${id}" runs past the end of the file`);
    if (id === 'fmt ') {
      if (size < 16) throw new MediaError(MediaErrorCode.wavFormat, 'fmt chunk too short');
      fmt = {
        format: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        rate: buf.readUInt32LE(body + 4),
        bits: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      data = buf.subarray(body, body + size);
    }
    at = body + size + (size & 1); // RIFF chunks are word aligned
  }
  if (!fmt || !data) throw new MediaError(MediaErrorCode.wavFormat, 'WAV needs a fmt and a data chunk');
  if (fmt.channels !== 1 || fmt.rate !== 8000) {
    throw new MediaError(MediaErrorCode.wavUnsupported, `need 8000 Hz mono, got ${fmt.rate} Hz × ${fmt.channels} channels`);
  }
  if ((fmt.format === 7 || fmt.format === 6) && fmt.bits === 8) {
    if (data.length === 0) throw new MediaError(MediaErrorCode.wavEmpty, 'WAV has no samples');
    return { codec: fmt.format === 7 ? 'PCMU' : 'PCMA', samples: Buffer.from(data) };
  }
  if (fmt.format === 1 && fmt.bits === 16) {
    const n = Math.floor(data.length / 2);
    if (n === 0) throw new MediaError(MediaErrorCode.wavEmpty, 'WAV has no samples');
    const codec = options.pcmCodec ?? 'PCMU';
    const enc = codec === 'PCMU' ? linearToUlaw : linearToAlaw;
    const samples = Buffer.alloc(n);
    for (let i = 0; i < n; i++) samples[i] = enc(data.readInt16LE(2 * i));
    return { codec, samples };
  }
  throw new MediaError(
    MediaErrorCode.wavUnsupported,
    `unsupported WAV encoding (format ${fmt.format}, ${fmt.bits} bits); use G.711 μ-law/A-law or 16-bit PCM`,
  );
}

/** A WAV file of G.711 samples (used by tests and to convert prompts). */
export function buildWav(codec: G711Codec, samples: Buffer): Buffer {
  const h = Buffer.alloc(46);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(38 + samples.length, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(18, 16);
  h.writeUInt16LE(codec === 'PCMU' ? 7 : 6, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(8000, 28);
  h.writeUInt16LE(1, 32);
  h.writeUInt16LE(8, 34);
  h.writeUInt16LE(0, 36);
  h.write('data', 38, 'latin1');
  h.writeUInt32LE(samples.length, 42);
  return Buffer.concat([h, samples, samples.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}
