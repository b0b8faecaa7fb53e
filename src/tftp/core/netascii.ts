/**
 * netascii (RFC 1350 §5 via RFC 764): end of line is CR LF, a bare CR is sent as CR NUL. The server converts a
 * whole file before a transfer starts (so tsize and block boundaries describe the bytes on the wire); the client
 * converts back once the transfer is complete.
 */
const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

/** Local text (LF line ends) → netascii. */
export function toNetascii(data: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === LF || data[i] === CR) extra++;
  if (extra === 0) return data;
  const out = Buffer.allocUnsafe(data.length + extra);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (b === CR) {
      out[o++] = CR;
      out[o++] = NUL;
    } else out[o++] = b;
  }
  return out;
}

/** netascii → local text. CR LF → LF, CR NUL → CR; any other CR (not allowed by RFC 764) is kept as is. */
export function fromNetascii(data: Buffer): Buffer {
  if (data.indexOf(CR) === -1) return data;
  const out = Buffer.allocUnsafe(data.length);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === CR && i + 1 < data.length && (data[i + 1] === LF || data[i + 1] === NUL)) {
      out[o++] = data[i + 1] === LF ? LF : CR;
      i++;
    } else out[o++] = b;
  }
  return out.subarray(0, o);
}
