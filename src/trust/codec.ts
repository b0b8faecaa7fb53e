/**
 * Parse and encode whole trust files: `[header][records…]` for CTL/ITL (.tlv), `[header][body]` for .sgn and
 * .enc.sgn (spec §1.1, §2). Encoding recomputes every length (containers, tag 2, record tag 1) and the tag-13
 * padding, so parse → encode of a well-formed file gives back its exact bytes.
 */
import { TrustError, TrustErrorCode } from './errors.js';
import { HeaderTag, RecordTag } from './tags.js';
import { encodedLength, findElement, padding, readHeaderElements, readRecordElements, writeElements, type TlvElement } from './tlv.js';

export type TrustFileKind = 'tlv' | 'sgn' | 'enc.sgn';

export interface TrustRecord {
  offset: number;
  length: number;
  /** The record's TLVs in file order, starting with tag 1 (record length). */
  elements: TlvElement[];
}

export interface TrustFile {
  kind: TrustFileKind;
  /** Top-level header TLVs in file order (containers carry children; padding included). */
  header: TlvElement[];
  headerLength: number;
  records: TrustRecord[];
  /** .sgn / .enc.sgn: everything after the header. Empty for .tlv. */
  body: Buffer;
}

export interface ParseOptions {
  /** What the caller expects; by default inferred from header FILENAME (".tlv") and tag 16 (encryption). */
  kind?: TrustFileKind;
  /** Largest file accepted (default 16 MiB; a firmware .sgn can be large, a .tlv cannot exceed 64 KiB anyway). */
  maxBytes?: number;
}

export const defaultParseOptions = { maxBytes: 16 * 1024 * 1024 } as const;

export function parseTrustFile(bytes: Buffer, options: ParseOptions = {}): TrustFile {
  const maxBytes = options.maxBytes ?? defaultParseOptions.maxBytes;
  if (bytes.length > maxBytes)
    throw new TrustError(TrustErrorCode.tooLarge, `file is ${bytes.length} bytes, more than the ${maxBytes} accepted`);
  if (bytes.length < 10 || bytes[0] !== HeaderTag.version || bytes[5] !== HeaderTag.headerLength) {
    throw new TrustError(TrustErrorCode.header, 'not a Cisco trust file: it must start with tag 1 (version) and tag 2 (header length)', 0);
  }
  if (bytes.readUInt16BE(1) !== 2 || bytes.readUInt16BE(6) !== 2) {
    throw new TrustError(TrustErrorCode.header, 'tags 1 and 2 must have length 2', 1);
  }
  const headerLength = bytes.readUInt16BE(8);
  if (headerLength < 10 || headerLength > bytes.length) {
    throw new TrustError(TrustErrorCode.header, `header length ${headerLength} is outside the file (${bytes.length} bytes)`, 8);
  }
  const header = readHeaderElements(bytes, 0, headerLength);
  const filename = findElement(header, HeaderTag.filename);
  const kind =
    options.kind ??
    (findElement(header, HeaderTag.encryptionInfo)
      ? 'enc.sgn'
      : filename?.value.toString('latin1').replace(/\0+$/, '').endsWith('.tlv')
        ? 'tlv'
        : 'sgn');
  const records: TrustRecord[] = [];
  let body: Buffer = Buffer.alloc(0);
  if (kind === 'tlv') {
    let pos = headerLength;
    while (pos < bytes.length) {
      const index = records.length;
      if (pos + 5 > bytes.length) throw new TrustError(TrustErrorCode.truncated, `record ${index} is truncated`, pos);
      if (bytes[pos] !== RecordTag.recordLength || bytes.readUInt16BE(pos + 1) !== 2) {
        throw new TrustError(TrustErrorCode.record, `record ${index} does not start with tag 1 (record length)`, pos);
      }
      const length = bytes.readUInt16BE(pos + 3);
      if (length < 5 || pos + length > bytes.length) {
        throw new TrustError(
          TrustErrorCode.record,
          `record ${index}: length ${length} runs past the end of the file (${bytes.length} bytes)`,
          pos,
        );
      }
      try {
        records.push({ offset: pos, length, elements: readRecordElements(bytes, pos, pos + length) });
      } catch (err) {
        if (err instanceof TrustError)
          throw new TrustError(
            err.code as TrustErrorCode,
            `record ${index}: ${err.message.replace(/ \(at offset \d+\)$/, '')}`,
            err.offset,
          );
        throw err;
      }
      pos += length;
    }
    if (records.length === 0)
      throw new TrustError(
        TrustErrorCode.record,
        'a CTL/ITL file must hold at least one record; this one ends after its header',
        headerLength,
      );
  } else {
    body = bytes.subarray(headerLength);
  }
  return { kind, header, headerLength, records, body };
}

export interface EncodedTrustFile {
  bytes: Buffer;
  headerLength: number;
  /** Offset of the tag-12 TLV (its tag byte), or -1 when the header has none. */
  signatureOffset: number;
  signatureLength: number;
}

/** Header elements without padding, followed by the padding that brings the header to a multiple of 4. */
export function normaliseHeader(header: readonly TlvElement[]): TlvElement[] {
  const content = header.filter((e) => e.tag !== HeaderTag.padding).map((e) => ({ ...e }));
  const length = encodedLength(content);
  const pads = (4 - (length % 4)) % 4;
  return [...content, ...Array.from({ length: pads }, padding)];
}

export function encodeTrustFile(file: Pick<TrustFile, 'header' | 'records' | 'body'>): EncodedTrustFile {
  const header = normaliseHeader(file.header);
  const headerLength = encodedLength(header);
  if (headerLength > 0xffff) throw new TrustError(TrustErrorCode.tooLarge, `header of ${headerLength} bytes does not fit tag 2's u16`);
  const lengthEl = header.find((e) => e.tag === HeaderTag.headerLength);
  if (!lengthEl || header[0]?.tag !== HeaderTag.version || header[1] !== lengthEl) {
    throw new TrustError(TrustErrorCode.header, 'a header must start with tag 1 (version) and tag 2 (header length)');
  }
  lengthEl.value = Buffer.from([headerLength >> 8, headerLength & 0xff]);
  const records = file.records.map((r) => withRecordLength(r.elements));
  const total = headerLength + records.reduce((n, r) => n + encodedLength(r), 0) + file.body.length;
  const out = Buffer.alloc(total);
  let signatureOffset = -1;
  let signatureLength = 0;
  let pos = writeElements(out, 0, header, (e, at) => {
    if (e.tag === HeaderTag.signature) {
      signatureOffset = at;
      signatureLength = e.value.length;
    }
  });
  for (const r of records) pos = writeElements(out, pos, r);
  file.body.copy(out, pos);
  return { bytes: out, headerLength, signatureOffset, signatureLength };
}

/** Sets tag 1 of a record to the record's encoded length (the length includes the 5-byte tag-1 TLV itself). */
function withRecordLength(elements: readonly TlvElement[]): TlvElement[] {
  if (elements[0]?.tag !== RecordTag.recordLength) {
    throw new TrustError(TrustErrorCode.record, 'a record must start with tag 1 (record length)');
  }
  const length = encodedLength(elements);
  if (length > 0xffff) throw new TrustError(TrustErrorCode.tooLarge, `a record of ${length} bytes does not fit its u16 length`);
  const lengthValue = Buffer.alloc(2);
  lengthValue.writeUInt16BE(length);
  return [{ ...elements[0], value: lengthValue }, ...elements.slice(1)];
}
