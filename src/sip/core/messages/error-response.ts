/**
 * Answering a request that did not parse (RFC 3261 §8.2.6 / §21.4.1): the response copies Via, From, To,
 * Call-ID and CSeq as they were received. When the request is too broken to find those, or was a response
 * (never answered, §18.1.2), there is no answer: `undefined`.
 *
 * The scan is deliberately lenient (raw header lines, no grammar): it only copies bytes back.
 */
import type { SipParseError } from './errors.js';
import { trimWs } from './syntax.js';

function isNameChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d;
}

/** C0 controls but HT, and DEL: such a value is not copied into the answer. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

const copied = new Map([
  ['via', 'Via'],
  ['v', 'Via'],
  ['from', 'From'],
  ['f', 'From'],
  ['to', 'To'],
  ['t', 'To'],
  ['call-id', 'Call-ID'],
  ['i', 'Call-ID'],
  ['cseq', 'CSeq'],
]);

export function errorResponseFor(raw: Uint8Array, err: SipParseError, options: { maxScanBytes?: number } = {}): Buffer | undefined {
  if (!err.respond) return undefined;
  const limit = options.maxScanBytes ?? 16384;
  const text = Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.byteLength, limit)).toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const lines = (headEnd >= 0 ? text.slice(0, headEnd) : text).split('\r\n');
  const start = lines[0] ?? '';
  if (start.startsWith('SIP/')) return undefined;
  // ACK is never answered (§17.2.1 / §17.2.2).
  if (start.startsWith('ACK ')) return undefined;
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    // name = 1*(ALPHA / "-"), then SP/HT, then ':' — a linear scan (no regex on the request's bytes).
    let n = 0;
    while (n < line.length && isNameChar(line.charCodeAt(n))) n++;
    let c = n;
    while (c < line.length && (line[c] === ' ' || line[c] === '\t')) c++;
    if (n === 0 || line[c] !== ':') continue;
    const name = copied.get(line.slice(0, n).toLowerCase());
    if (name === undefined) continue;
    let value = line.slice(c + 1);
    while (i + 1 < lines.length && (lines[i + 1]![0] === ' ' || lines[i + 1]![0] === '\t')) value += ' ' + trimWs(lines[++i]!);
    if (hasControl(value)) continue;
    out.push(`${name}: ${trimWs(value)}`);
    seen.add(name);
  }
  for (const n of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) if (!seen.has(n)) return undefined;
  const reason = err.reason.replaceAll('\r', ' ').replaceAll('\n', ' ');
  return Buffer.concat([
    Buffer.from(`SIP/2.0 ${err.status} ${reason}\r\n`, 'utf8'),
    Buffer.from(`${out.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, 'latin1'),
  ]);
}
