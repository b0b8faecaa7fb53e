/**
 * Human-readable dump of a trust file, in the spirit of CUCM's `show itl` / `show ctl`: every header field with its
 * byte position, tag name and length, then each record, then `signature: valid|invalid`.
 */
import type { VerifyResult } from './verify.js';
import { headerTagNames, recordTagNames, roleLongName, roleName, HeaderTag, RecordTag } from './tags.js';
import { decodeString, type TlvElement } from './tlv.js';

const stringHeaderTags = new Set<number>([HeaderTag.signerName, HeaderTag.issuerName, HeaderTag.filename]);
const stringRecordTags = new Set<number>([RecordTag.dnsName, RecordTag.subjectName, RecordTag.issuerName]);

function row(pos: number, name: string, len: number, value: string): string {
  return `${String(pos).padEnd(8)}${name.padEnd(22)}${String(len).padEnd(8)}${value}`;
}

function short(b: Buffer): string {
  return b.length <= 24 ? b.toString('hex') : `${b.subarray(0, 16).toString('hex')}… (${b.length} bytes)`;
}

function headerValue(e: TlvElement): string {
  if (e.children) return String(e.value.length);
  if (stringHeaderTags.has(e.tag)) return decodeString(e.value);
  if (e.tag === HeaderTag.timestamp) return `${e.value.readUInt32BE(0)} (${new Date(e.value.readUInt32BE(0) * 1000).toISOString()})`;
  if (e.tag === HeaderTag.version || e.tag === HeaderTag.signerVersion) return `${e.value[0]}.${e.value[1]}`;
  if (e.value.length === 1) return String(e.value[0]);
  if (e.value.length === 2 && e.tag !== HeaderTag.serialNumber) return String(e.value.readUInt16BE(0));
  return short(e.value);
}

function headerRows(elements: readonly TlvElement[], out: string[]): void {
  for (const e of elements) {
    if (e.tag === HeaderTag.padding) {
      out.push(row(e.offset, 'PADDING', 1, ''));
      continue;
    }
    out.push(row(e.offset, headerTagNames[e.tag] ?? `TAG${e.tag}`, e.children ? e.value.length : e.value.length, headerValue(e)));
    if (e.children) headerRows(e.children, out);
  }
}

function recordValue(e: TlvElement): string {
  if (stringRecordTags.has(e.tag)) return decodeString(e.value);
  if (e.tag === RecordTag.role) return `${e.value.readUInt16BE(0)} ${roleLongName(e.value.readUInt16BE(0))}`;
  if (e.tag === RecordTag.recordLength) return String(e.value.readUInt16BE(0));
  if (e.tag === RecordTag.ipAddress && e.value.length === 4) return Array.from(e.value).join('.');
  if (e.tag === RecordTag.hashAlgorithm && e.value.length === 1) return String(e.value[0]);
  return short(e.value);
}

export function formatTrustFile(result: VerifyResult, displayName: string): string {
  const { file, header, records } = result;
  const out: string[] = [];
  out.push(`File: ${displayName}`);
  out.push(`Length: ${file.headerLength + file.records.reduce((n, r) => n + r.length, 0) + file.body.length} bytes`);
  out.push(`Kind: ${file.kind}`);
  out.push(`Version: ${header.version.join('.')}`);
  out.push(`HeaderLength: ${header.headerLength} (BYTES)`);
  out.push('');
  out.push(`BYTEPOS TAG                   LENGTH  VALUE`);
  out.push(`------- ---                   ------  -----`);
  headerRows(
    file.header.filter((e) => e.tag !== HeaderTag.version && e.tag !== HeaderTag.headerLength),
    out,
  );
  file.records.forEach((r, i) => {
    const f = records[i]!;
    out.push('');
    out.push(`Record #${i + 1}: role ${roleName(f.role)}, subject ${f.subjectName}`);
    out.push('----');
    out.push(`BYTEPOS TAG                   LENGTH  VALUE`);
    out.push(`------- ---                   ------  -----`);
    for (const e of r.elements) out.push(row(e.offset, recordTagNames[e.tag] ?? `TAG${e.tag}`, e.value.length, recordValue(e)));
  });
  if (file.kind !== 'tlv') out.push('', `Body: ${file.body.length} bytes`);
  out.push('');
  if (file.kind === 'tlv') out.push(`records: ${records.length} (${records.map((r) => roleName(r.role)).join(', ')})`);
  out.push(`signature: ${result.valid ? 'valid' : 'invalid'}${result.signer ? ` (signer: ${result.signer})` : ''}`);
  return out.join('\n');
}
