/**
 * Answering a request that did not parse (RFC 3261 §8.2.6 / §21.4.1): the response copies Via, From, To,
 * Call-ID and CSeq as they were received. When the request is too broken to find those, or was a response
 * (never answered, §18.1.2), there is no answer: `undefined`.
 *
 * The scan is deliberately lenient (raw header lines, no grammar): it only copies bytes back.
 */
import { type SipParseError } from './errors.js';

const copied = new Map([
  ['via', 'Via'], ['v', 'Via'], ['from', 'From'], ['f', 'From'], ['to', 'To'], ['t', 'To'],
  ['call-id', 'Call-ID'], ['i', 'Call-ID'], ['cseq', 'CSeq'],
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
  if (/^ACK /.test(start)) return undefined;
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const m = /^([A-Za-z-]+)[ \t]*:(.*)$/.exec(lines[i]!);
    if (!m) continue;
    const name = copied.get(m[1]!.toLowerCase());
    if (name === undefined) continue;
    let value = m[2]!;
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1]!)) value += ' ' + lines[++i]!.trim();
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) continue;
    out.push(`${name}: ${value.trim()}`);
    seen.add(name);
  }
  for (const n of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) if (!seen.has(n)) return undefined;
  const reason = err.reason.replace(/[\r\n]/g, ' ');
  return Buffer.concat([
    Buffer.from(`SIP/2.0 ${err.status} ${reason}\r\n`, 'utf8'),
    Buffer.from(`${out.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, 'latin1'),
  ]);
}
