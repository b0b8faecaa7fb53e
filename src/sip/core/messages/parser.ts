/**
 * RFC 3261 §7 message parser: bytes in, a validated `SipRequest`/`SipResponse` out, or a `SipParseError`
 * carrying the status to answer with. Pure: no sockets, no clock. Checks run in a fixed order (size, start line
 * and Request-URI, header lines, single and mandatory headers, each known header, the body by Content-Length),
 * so the most specific fault is the one reported. The order, with RFC sections: docs/sip.md "Parser".
 */
import { bad, SipParseError } from './errors.js';
import { canonicalName, displayName, singleHeaders } from './header-names.js';
import { SipRequest, SipResponse, type HeaderField, type SipMessage } from './message.js';
import { isDigits, isToken, scanWork, trimWs, trimWsEnd, trimWsStart } from './syntax.js';
import { defaultMaxUriLength, isSipUri, parseUri } from './uri.js';

export interface ParseOptions {
  /** Largest message (start line + headers + body) in bytes; default 65535. Larger → 513 Message Too Large. */
  maxMessageBytes?: number;
  /** Most header fields (after unfolding); default 256. More → 513. */
  maxHeaders?: number;
  /** Longest header field, name and unfolded value; default 8192 bytes. Longer → 513. */
  maxHeaderLength?: number;
  /** Longest URI; default 4096 characters. A longer Request-URI → 414, any other → 414 too. */
  maxUriLength?: number;
  /** Largest body; default 65535 bytes. A larger Content-Length → 413. */
  maxBodyBytes?: number;
}

export const parseDefaults = {
  maxMessageBytes: 65535,
  maxHeaders: 256,
  maxHeaderLength: 8192,
  maxUriLength: defaultMaxUriLength,
  maxBodyBytes: 65535,
} as const;

/** How the bytes arrived: a datagram (UDP) or one message already framed from a stream (TCP/TLS). */
export type Framing = 'datagram' | 'stream';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const CRLFCRLF = Buffer.from('\r\n\r\n');

export function parseMessage(input: Uint8Array, options: ParseOptions = {}, framing: Framing = 'datagram'): SipMessage {
  const o = { ...parseDefaults, ...options };
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length > o.maxMessageBytes) {
    throw new SipParseError(513, `message is larger than ${o.maxMessageBytes} bytes`);
  }
  // §7.5: CRLFs before the start line are ignored.
  let start = 0;
  while (buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
  let headEnd = buf.indexOf(CRLFCRLF, start);
  let bodyStart: number;
  if (headEnd >= 0) {
    bodyStart = headEnd + 4;
  } else if (framing === 'datagram' && buf.length >= start + 2 && buf[buf.length - 2] === 0x0d && buf[buf.length - 1] === 0x0a) {
    // A datagram that ends right after a header line: the datagram's end closes the header section.
    headEnd = buf.length - 2;
    bodyStart = buf.length;
  } else {
    throw bad('header section is not terminated by an empty line');
  }
  let head: string;
  try {
    head = utf8.decode(buf.subarray(start, headEnd));
  } catch (cause) {
    throw new SipParseError(400, 'header section is not valid UTF-8', { cause });
  }
  const lines = head.split('\r\n');
  scanWork.chars += head.length;
  const startLine = lines[0]!;
  const isResponse = startLine.startsWith('SIP/');
  try {
    return parseRest(startLine, lines, buf, bodyStart, o, framing, isResponse);
  } catch (err) {
    if (err instanceof SipParseError && isResponse) err.respond = false;
    throw err;
  }
}

function parseRest(
  startLine: string,
  lines: string[],
  buf: Buffer,
  bodyStart: number,
  o: Required<ParseOptions>,
  framing: Framing,
  isResponse: boolean,
): SipMessage {
  const headers = parseHeaderLines(lines, o);
  const uriOptions = { maxUriLength: o.maxUriLength };
  let msg: SipMessage;
  if (isResponse) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (§7.2); a bare "SIP/2.0 200" is tolerated.
    const code = startLine.slice(8, 11);
    if (!startLine.startsWith('SIP/2.0 ') || code.length !== 3 || !isDigits(code) || (startLine.length > 11 && startLine[11] !== ' ')) {
      throw bad('status line is not "SIP/2.0 code reason"');
    }
    const status = Number(code);
    if (status < 100 || status > 699) throw bad('status code out of range');
    if (hasControl(startLine)) throw bad('control character in the reason phrase');
    msg = new SipResponse(status, startLine.slice(12), headers, Buffer.alloc(0), uriOptions);
  } else {
    const parts = startLine.split(' ');
    if (parts.length !== 3 || parts.some((p) => p.length === 0)) {
      throw bad('request line is not "Method SP Request-URI SP SIP-Version"');
    }
    const [method, uriText, version] = parts as [string, string, string];
    if (!isToken(method)) throw bad('method is not a token');
    if (version !== 'SIP/2.0') {
      if (isSipVersion(version) && version.toUpperCase() !== 'SIP/2.0') {
        throw new SipParseError(505, `${version} is not supported`);
      }
      if (version.toUpperCase() !== 'SIP/2.0') throw bad('SIP-Version is not valid');
    }
    if (uriText.startsWith('<')) throw bad('Request-URI must not be enclosed in <>');
    const uri = parseUri(uriText, uriOptions);
    if (isSipUri(uri) && uri.headers.length > 0) throw bad('Request-URI must not contain URI headers');
    msg = new SipRequest(method, uri, headers, Buffer.alloc(0), uriOptions);
  }
  validateHeaders(msg);
  const available = buf.length - bodyStart;
  const cl = msg.contentLength();
  let bodyLength: number;
  if (cl === undefined) {
    if (framing === 'stream') throw bad('Content-Length is required on a stream transport');
    bodyLength = available;
  } else {
    if (cl > o.maxBodyBytes) throw new SipParseError(413, `body is larger than ${o.maxBodyBytes} bytes`);
    if (cl > available) throw bad(`Content-Length ${cl} is larger than the ${available} bytes of body received`);
    bodyLength = cl;
  }
  if (bodyLength > o.maxBodyBytes) throw new SipParseError(413, `body is larger than ${o.maxBodyBytes} bytes`);
  msg.body = Buffer.from(buf.subarray(bodyStart, bodyStart + bodyLength));
  return msg;
}

function parseHeaderLines(lines: string[], o: Required<ParseOptions>): HeaderField[] {
  const fields: HeaderField[] = [];
  let current: string | undefined;
  const flush = (): void => {
    if (current === undefined) return;
    const colon = current.indexOf(':');
    if (colon < 0) throw bad('header line without a colon');
    const name = trimWsEnd(current.slice(0, colon));
    if (!isToken(name)) throw bad('header name is not a token');
    fields.push({ name, value: trimWs(current.slice(colon + 1)) });
    if (fields.length > o.maxHeaders) throw new SipParseError(513, `more than ${o.maxHeaders} header fields`);
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0) throw bad('bare CR or LF in the header section');
    if (line.length > o.maxHeaderLength) throw new SipParseError(513, `header line longer than ${o.maxHeaderLength} bytes`);
    if (line[0] === ' ' || line[0] === '\t') {
      // §7.3.1: a line starting with whitespace continues the previous field; the fold is one SP.
      if (current === undefined) throw bad('continuation line before the first header');
      current += ' ' + trimWsStart(line);
      if (current.length > o.maxHeaderLength) {
        throw new SipParseError(513, `header field longer than ${o.maxHeaderLength} bytes`);
      }
      continue;
    }
    flush();
    current = line;
  }
  flush();
  return fields;
}

/** CR, LF or another control byte but HT (Reason-Phrase, §25.1): it would split a relayed status line. */
function hasControl(s: string): boolean {
  scanWork.chars += s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/** `SIP/` 1*DIGIT `.` 1*DIGIT, case-insensitive (a version we may answer 505 to). */
function isSipVersion(v: string): boolean {
  if (v.length < 7 || v.slice(0, 4).toUpperCase() !== 'SIP/') return false;
  const dot = v.indexOf('.', 4);
  return dot > 4 && isDigits(v.slice(4, dot)) && isDigits(v.slice(dot + 1));
}

const requiredHeaders = ['via', 'from', 'to', 'call-id', 'cseq'];

function validateHeaders(msg: SipMessage): void {
  const counts = new Map<string, number>();
  for (const h of msg.headers) {
    const l = canonicalName(h.name);
    counts.set(l, (counts.get(l) ?? 0) + 1);
  }
  for (const [l, n] of counts) {
    if (n > 1 && singleHeaders.has(l)) throw bad(`more than one ${displayName(l)} header`);
  }
  for (const l of requiredHeaders) if (!counts.has(l)) throw bad(`missing ${displayName(l)} header`);
  // Parse every header the stack interprets, so a bad value is rejected here and not mid-transaction.
  msg.via();
  msg.from();
  msg.to();
  msg.callId();
  const cseq = msg.cseq();
  msg.maxForwards();
  msg.contentLength();
  msg.expires();
  if (counts.has('contact')) msg.contacts();
  if (counts.has('route')) msg.route();
  if (counts.has('record-route')) msg.recordRoute();
  if (msg.kind === 'request' && cseq.method !== msg.method) {
    throw bad('CSeq method does not match the request method');
  }
}
