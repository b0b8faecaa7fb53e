/**
 * G.711 (ITU-T G.711 §A, §B) encoders from 16-bit linear PCM, for WAV sources recorded as PCM. RTP payload
 * types 0 (PCMU, μ-law) and 8 (PCMA, A-law), RFC 3551 §4.5.14.
 */
export function linearToUlaw(sample: number): number {
  const BIAS = 0x84,
    CLIP = 32635;
  let s = Math.max(-32768, Math.min(32767, sample | 0));
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function linearToAlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, sample | 0));
  const sign = s >= 0 ? 0x80 : 0;
  if (!sign) s = -s - 1;
  s >>= 3; // 13-bit magnitude
  let out: number;
  if (s < 32) out = s >> 1;
  else {
    let exponent = 1;
    while (s >= 64 && exponent < 7) (s >>= 1), exponent++;
    out = (exponent << 4) | ((s >> 1) & 0x0f);
  }
  return (sign | out) ^ 0x55;
}
