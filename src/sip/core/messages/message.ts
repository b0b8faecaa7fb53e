/**
 * A SIP message: start line, header fields in wire order, body bytes (RFC 3261 §7). Header fields are the
 * source of truth; typed accessors (`via()`, `from()`, `cseq()`, …) parse them on first use and cache the
 * result until a header changes. Every accessor throws `SipParseError` on a malformed value, so the parser
 * validates a message simply by calling them once.
 */
import { bad } from './errors.js';
import { canonicalName, displayName, listHeaders } from './header-names.js';
import { parseNameAddr, type NameAddr } from './name-addr.js';
import { indexOfWs, isDigits, isWord, readDigits, scanWork, splitComma, stripLeadingZeros, trimWsStart } from './syntax.js';
import type { Uri, UriOptions } from './uri.js';
import { parseVia, type Via } from './via.js';

export interface HeaderField {
  /** As written on the wire (or as set): `v`, `VIA`, `Via` are all the same header. */
  name: string;
  /** Unfolded (each fold became one SP), leading and trailing whitespace removed. */
  value: string;
}

export interface CSeq {
  seq: number;
  method: string;
}

/** Contact is either `*` (REGISTER removal of all bindings, §10.2.2) or a list of name-addrs. */
export type Contacts = { star: true } | { star: false; list: NameAddr[] };

/** RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31. */
export const maxCSeq = 2 ** 31 - 1;

export abstract class SipMessageBase {
  headers: HeaderField[];
  body: Buffer;
  uriOptions: UriOptions;
  private cache = new Map<string, unknown>();

  constructor(headers: HeaderField[], body: Buffer, uriOptions: UriOptions = {}) {
    this.headers = headers;
    this.body = body;
    this.uriOptions = uriOptions;
  }

  abstract readonly kind: 'request' | 'response';

  has(name: string): boolean {
    const l = canonicalName(name);
    return this.headers.some((h) => canonicalName(h.name) === l);
  }

  /** The first header field of that name, as one string (not comma-split). */
  get(name: string): string | undefined {
    const l = canonicalName(name);
    return this.headers.find((h) => canonicalName(h.name) === l)?.value;
  }

  /** Every value of that header: all its lines, each split at top-level commas when it is a list header. */
  getAll(name: string): string[] {
    const l = canonicalName(name);
    const lines = this.headers.filter((h) => canonicalName(h.name) === l).map((h) => h.value);
    if (!listHeaders.has(l)) return lines;
    return lines.flatMap((v) => splitComma(v, displayName(l)));
  }

  set(name: string, value: string): void {
    this.remove(name);
    this.headers.push({ name, value });
  }

  append(name: string, value: string): void {
    this.headers.push({ name, value });
    this.cache.clear();
  }

  /** Insert before every other header (a proxy's own Via goes on top, §16.6 step 8). */
  prepend(name: string, value: string): void {
    this.headers.unshift({ name, value });
    this.cache.clear();
  }

  remove(name: string): void {
    const l = canonicalName(name);
    this.headers = this.headers.filter((h) => canonicalName(h.name) !== l);
    this.cache.clear();
  }

  /** Call after editing `headers` in place, so typed accessors parse again. */
  invalidate(): void {
    this.cache.clear();
  }

  protected cached<T>(key: string, make: () => T): T {
    if (this.cache.has(key)) return this.cache.get(key) as T;
    const v = make();
    this.cache.set(key, v);
    return v;
  }

  private required(name: string): string {
    const v = this.get(name);
    if (v === undefined) throw bad(`missing ${name} header`);
    return v;
  }

  via(): Via[] {
    return this.cached('via', () => this.getAll('via').map(parseVia));
  }

  topVia(): Via {
    const v = this.via()[0];
    if (v === undefined) throw bad('missing Via header');
    return v;
  }

  from(): NameAddr {
    return this.cached('from', () => parseNameAddr(this.required('From'), 'From', this.uriOptions));
  }

  to(): NameAddr {
    return this.cached('to', () => parseNameAddr(this.required('To'), 'To', this.uriOptions));
  }

  callId(): string {
    return this.cached('call-id', () => {
      const v = this.required('Call-ID');
      // callid = word [ "@" word ]
      const at = v.indexOf('@');
      const ok = at < 0 ? isWord(v) : isWord(v.slice(0, at)) && isWord(v.slice(at + 1));
      if (!ok) throw bad('Call-ID is not valid');
      return v;
    });
  }

  cseq(): CSeq {
    return this.cached('cseq', () => {
      // CSeq = 1*DIGIT LWS Method (§20.16); a linear scan, no regex on the value.
      const v = this.required('CSeq');
      const sp = indexOfWs(v);
      const method = sp < 0 ? '' : trimWsStart(v.slice(sp));
      if (sp <= 0 || !isDigits(v.slice(0, sp)) || method.length === 0 || indexOfWs(method) >= 0 || hasNonGraphic(method)) {
        throw bad('CSeq is not "number method"');
      }
      return { seq: readDigits(v.slice(0, sp), 'CSeq number', maxCSeq), method };
    });
  }

  /** Max-Forwards, 0–255 (§20.22); undefined when absent (RFC 2543 peers, RFC 4475 §3.4.1). */
  maxForwards(): number | undefined {
    return this.cached('max-forwards', () => {
      const v = this.get('Max-Forwards');
      return v === undefined ? undefined : readDigits(v, 'Max-Forwards', 255);
    });
  }

  contentLength(): number | undefined {
    return this.cached('content-length', () => {
      const v = this.get('Content-Length');
      return v === undefined ? undefined : readDigits(v, 'Content-Length', Number.MAX_SAFE_INTEGER);
    });
  }

  contentType(): string | undefined {
    return this.get('Content-Type');
  }

  contacts(): Contacts {
    return this.cached('contact', () => {
      const values = this.getAll('Contact');
      if (values.length === 1 && values[0] === '*') return { star: true } as const;
      if (values.includes('*')) throw bad('Contact: * mixed with other contacts');
      return { star: false, list: values.map((v) => parseNameAddr(v, 'Contact', this.uriOptions)) } as const;
    });
  }

  route(): NameAddr[] {
    return this.cached('route', () => this.getAll('Route').map((v) => parseNameAddr(v, 'Route', this.uriOptions)));
  }

  recordRoute(): NameAddr[] {
    return this.cached('record-route', () => this.getAll('Record-Route').map((v) => parseNameAddr(v, 'Record-Route', this.uriOptions)));
  }

  /**
   * Expires in seconds. Values past 2**32-1 are clamped to it (§20.19 bounds the field; RFC 4475 §3.1.2.3 lets
   * an element treat an overlarge expiry as a default rather than reject the request).
   */
  expires(): number | undefined {
    return this.cached('expires', () => {
      const v = this.get('Expires');
      if (v === undefined) return undefined;
      if (!isDigits(v)) throw bad('Expires is not a number of seconds');
      const digits = stripLeadingZeros(v);
      const n = Number(digits.slice(0, 11));
      return digits.length > 10 || n > 2 ** 32 - 1 ? 2 ** 32 - 1 : n;
    });
  }
}

/** Any character JavaScript's `\s` matches (what the old `\S+` pattern excluded from the CSeq method). */
function hasNonGraphic(s: string): boolean {
  scanWork.chars += s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (
      (c >= 0x09 && c <= 0x0d) ||
      c === 0x20 ||
      c === 0xa0 ||
      c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x202f ||
      c === 0x205f ||
      c === 0x3000 ||
      c === 0xfeff
    )
      return true;
  }
  return false;
}

export class SipRequest extends SipMessageBase {
  readonly kind = 'request' as const;
  /** Case-sensitive (RFC 3261 §7.1): `invite` is not INVITE. */
  method: string;
  uri: Uri;

  constructor(method: string, uri: Uri, headers: HeaderField[] = [], body: Buffer = Buffer.alloc(0), uriOptions?: UriOptions) {
    super(headers, body, uriOptions);
    this.method = method;
    this.uri = uri;
  }
}

export class SipResponse extends SipMessageBase {
  readonly kind = 'response' as const;
  status: number;
  reason: string;

  constructor(status: number, reason: string, headers: HeaderField[] = [], body: Buffer = Buffer.alloc(0), uriOptions?: UriOptions) {
    super(headers, body, uriOptions);
    this.status = status;
    this.reason = reason;
  }
}

export type SipMessage = SipRequest | SipResponse;
