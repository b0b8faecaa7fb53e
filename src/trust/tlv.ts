/**
 * The TLV layer of Cisco trust files: tag u8, length u16 big-endian, value. Tag 13 in a header is a one-byte pad
 * with no length. Header containers (3, 7, 9, 16, 17, 21) hold nested TLVs and are entered, never skipped.
 * Pure functions over bytes; every element remembers its offset so errors and `show` can point at bytes.
 */
import { TrustError, TrustErrorCode } from './errors.js';
import { HeaderTag, headerContainers, knownHeaderTags, knownRecordTags } from './tags.js';

export interface TlvElement {
  tag: number;
  /** Offset of the tag byte in the file (for diagnostics; ignored when encoding). */
  offset: number;
  /** Value bytes; for containers, the encoded children (recomputed on encode). Empty for padding. */
  value: Buffer;
  children?: TlvElement[];
}

export function element(tag: number, value: Buffer): TlvElement {
  return { tag, offset: -1, value };
}
export function container(tag: number, children: TlvElement[]): TlvElement {
  return { tag, offset: -1, value: Buffer.alloc(0), children };
}
export function u8(tag: number, n: number): TlvElement {
  return element(tag, Buffer.from([n]));
}
export function u16(tag: number, n: number): TlvElement {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return element(tag, b);
}
export function u32(tag: number, n: number): TlvElement {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return element(tag, b);
}
/** Strings carry a trailing NUL that counts in the length (spec §1.1). */
export function str(tag: number, s: string): TlvElement {
  return element(tag, Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]));
}
export function padding(): TlvElement {
  return { tag: HeaderTag.padding, offset: -1, value: Buffer.alloc(0) };
}

export function decodeString(value: Buffer): string {
  const end = value.length > 0 && value[value.length - 1] === 0 ? value.length - 1 : value.length;
  return value.subarray(0, end).toString('utf8');
}

/** Walks header TLVs in [pos, end), entering containers. */
export function readHeaderElements(buf: Buffer, pos: number, end: number): TlvElement[] {
  const out: TlvElement[] = [];
  while (pos < end) {
    const tag = buf[pos]!;
    if (tag === HeaderTag.padding) {
      out.push({ tag, offset: pos, value: Buffer.alloc(0) });
      pos += 1;
      continue;
    }
    if (!knownHeaderTags.has(tag)) {
      throw new TrustError(TrustErrorCode.unknownTag, `unknown header tag ${tag}`, pos);
    }
    const value = readValue(buf, pos, end, 'header');
    const el: TlvElement = { tag, offset: pos, value };
    if (headerContainers.has(tag)) el.children = readHeaderElements(buf, pos + 3, pos + 3 + value.length);
    out.push(el);
    pos += 3 + value.length;
  }
  return out;
}

/** Walks the TLVs of one record in [pos, end); records have no containers and no padding. */
export function readRecordElements(buf: Buffer, pos: number, end: number): TlvElement[] {
  const out: TlvElement[] = [];
  while (pos < end) {
    const tag = buf[pos]!;
    if (!knownRecordTags.has(tag)) {
      throw new TrustError(TrustErrorCode.unknownTag, `unknown record tag ${tag}`, pos);
    }
    const value = readValue(buf, pos, end, 'record');
    out.push({ tag, offset: pos, value });
    pos += 3 + value.length;
  }
  return out;
}

function readValue(buf: Buffer, pos: number, end: number, where: string): Buffer {
  if (pos + 3 > end) {
    throw new TrustError(TrustErrorCode.truncated, `truncated ${where} TLV: tag ${buf[pos]} has no room for its length`, pos);
  }
  const length = buf.readUInt16BE(pos + 1);
  if (pos + 3 + length > end) {
    throw new TrustError(
      TrustErrorCode.length,
      `${where} tag ${buf[pos]}: length ${length} runs past the end of its ${where === 'header' ? 'container or header' : 'record'} (${end})`,
      pos,
    );
  }
  return buf.subarray(pos + 3, pos + 3 + length);
}

/** Encoded size of an element list. */
export function encodedLength(elements: readonly TlvElement[]): number {
  let n = 0;
  for (const e of elements) n += e.tag === HeaderTag.padding && !e.children ? 1 : 3 + valueLength(e);
  return n;
}

function valueLength(e: TlvElement): number {
  return e.children ? encodedLength(e.children) : e.value.length;
}

/** Writes elements into `out` at `pos`; container lengths come from their children. Returns the new position. */
export function writeElements(
  out: Buffer,
  pos: number,
  elements: readonly TlvElement[],
  onWrite?: (e: TlvElement, at: number) => void,
): number {
  for (const e of elements) {
    onWrite?.(e, pos);
    if (e.tag === HeaderTag.padding && !e.children) {
      out[pos++] = HeaderTag.padding;
      continue;
    }
    const len = valueLength(e);
    if (len > 0xffff) throw new TrustError(TrustErrorCode.tooLarge, `tag ${e.tag} value of ${len} bytes does not fit a u16 length`);
    out[pos] = e.tag;
    out.writeUInt16BE(len, pos + 1);
    pos += 3;
    if (e.children) pos = writeElements(out, pos, e.children, onWrite);
    else {
      e.value.copy(out, pos);
      pos += e.value.length;
    }
  }
  return pos;
}

/** Depth-first search for the first element with a tag. */
export function findElement(elements: readonly TlvElement[], tag: number): TlvElement | undefined {
  for (const e of elements) {
    if (e.tag === tag) return e;
    if (e.children) {
      const hit = findElement(e.children, tag);
      if (hit) return hit;
    }
  }
  return undefined;
}
