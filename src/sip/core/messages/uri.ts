/**
 * SIP and SIPS URIs (RFC 3261 §19.1, grammar §25.1) and, for every other scheme, an opaque absoluteURI.
 * Components are kept unescaped; `formatUri` escapes what each component's grammar does not allow. Comparison
 * follows §19.1.4.
 */
import { bad, SipParseError } from './errors.js';
import { isAlnum, scanWork, type Params } from './syntax.js';

export interface SipUri {
  scheme: 'sip' | 'sips';
  /** Unescaped user part (may contain any byte, e.g. an escaped NUL: RFC 4475 §3.1.1.4). */
  user: string | undefined;
  password: string | undefined;
  /** hostname, IPv4 address, or IPv6 reference with its brackets. */
  host: string;
  port: number | undefined;
  /** uri-parameters, names lower-cased and unescaped, values unescaped (null: no value). */
  params: Params;
  /** headers (`?a=b&c=d`), unescaped, in order. */
  headers: Array<[string, string]>;
}

export interface AbsoluteUri {
  scheme: string;
  /** Everything after "scheme:", as written. */
  opaque: string;
}

export type Uri = SipUri | AbsoluteUri;

export function isSipUri(uri: Uri): uri is SipUri {
  return uri.scheme === 'sip' || uri.scheme === 'sips';
}

export interface UriOptions {
  /** Longest URI accepted, in characters (default 4096); longer → 414 Request-URI Too Long. */
  maxUriLength?: number;
}

export const defaultMaxUriLength = 4096;

const MARK = new Set("-_.!~*'()");
const USER_UNRESERVED = new Set('&=+$,;?/');
const PASSWORD_EXTRA = new Set('&=+$,');
const PARAM_UNRESERVED = new Set('[]/:&+$');
const HNV_UNRESERVED = new Set('[]/?:+$');

function isUnreserved(c: string): boolean {
  return isAlnum(c) || MARK.has(c);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Unescape %HH sequences, checking each character against the component's allowed set. The bytes are read as
 * UTF-8 when they are valid UTF-8 (what `escape` writes), else one character per byte (an escaped NUL or a lone
 * %E9 survive, RFC 4475 §3.1.1.4): so parse → format → parse is stable.
 */
function unescapeComponent(s: string, allowed: (c: string) => boolean, what: string): string {
  scanWork.chars += s.length;
  if (s.indexOf('%') < 0) {
    for (let i = 0; i < s.length; i++) if (!allowed(s[i]!)) throw bad(`character '${s[i]}' not allowed in ${what}`);
    return s;
  }
  const bytes = Buffer.allocUnsafe(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (hex.length !== 2 || !isHex(hex.charCodeAt(0)) || !isHex(hex.charCodeAt(1))) throw bad(`bad %-escape in ${what}`);
      bytes[n++] = parseInt(hex, 16);
      i += 2;
    } else if (allowed(c))
      bytes[n++] = c.charCodeAt(0); // every allowed character is ASCII
    else throw bad(`character '${c}' not allowed in ${what}`);
  }
  const b = bytes.subarray(0, n);
  try {
    return utf8.decode(b);
  } catch {
    return b.toString('latin1');
  }
}

function escapeComponent(s: string, allowed: (c: string) => boolean): string {
  let out = '';
  for (const c of s) {
    if (allowed(c)) out += c;
    else for (const b of Buffer.from(c, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

const userChar = (c: string): boolean => isUnreserved(c) || USER_UNRESERVED.has(c);
const passwordChar = (c: string): boolean => isUnreserved(c) || PASSWORD_EXTRA.has(c);
const paramChar = (c: string): boolean => isUnreserved(c) || PARAM_UNRESERVED.has(c);
const headerChar = (c: string): boolean => isUnreserved(c) || HNV_UNRESERVED.has(c);

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (§25.1), a linear scan. */
function isScheme(s: string): boolean {
  scanWork.chars += s.length;
  const first = s.charCodeAt(0);
  if (!((first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a))) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s[i]!;
    if (!isAlnum(c) && c !== '+' && c !== '-' && c !== '.') return false;
  }
  return true;
}

/** `[` followed by hex digits, ':' and '.' (at least one ':'), then `]`. */
function isIpv6Reference(s: string): boolean {
  scanWork.chars += s.length;
  if (s.length < 3 || s[0] !== '[' || s[s.length - 1] !== ']') return false;
  let colon = false;
  for (let i = 1; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3a) colon = true;
    else if (c !== 0x2e && !isHex(c)) return false;
  }
  return colon;
}

/** Parse any URI: sip/sips into components, other schemes as opaque absoluteURI. */
export function parseUri(text: string, options: UriOptions = {}): Uri {
  const max = options.maxUriLength ?? defaultMaxUriLength;
  if (text.length > max) throw new SipParseError(414, `URI longer than ${max} characters`);
  const colon = text.indexOf(':');
  scanWork.chars += text.length;
  if (colon <= 0) throw bad('URI has no scheme');
  const scheme = text.slice(0, colon);
  if (!isScheme(scheme)) throw bad('URI scheme is not valid');
  const lscheme = scheme.toLowerCase();
  const rest = text.slice(colon + 1);
  if (lscheme === 'sip' || lscheme === 'sips') return parseSipUri(lscheme, rest);
  if (rest.length === 0) throw bad(`${scheme} URI is empty`);
  for (const c of rest) {
    const code = c.charCodeAt(0);
    if (code <= 0x20 || code === 0x7f || c === '<' || c === '>' || c === '"') {
      throw bad(`character not allowed in ${scheme} URI`);
    }
  }
  return { scheme: lscheme, opaque: rest };
}

function parseSipUri(scheme: 'sip' | 'sips', s: string): SipUri {
  // No component of a SIP URI may hold an unescaped '@' except the userinfo terminator (§25.1).
  let user: string | undefined;
  let password: string | undefined;
  const at = s.indexOf('@');
  let i = 0;
  if (at >= 0) {
    if (s.indexOf('@', at + 1) >= 0) throw bad('SIP URI has more than one @');
    const userinfo = s.slice(0, at);
    const pc = userinfo.indexOf(':');
    const rawUser = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    if (rawUser.length === 0) throw bad('SIP URI has an empty user part');
    user = unescapeComponent(rawUser, userChar, 'URI user');
    if (pc >= 0) password = unescapeComponent(userinfo.slice(pc + 1), passwordChar, 'URI password');
    i = at + 1;
  }
  // hostport
  let host: string;
  if (s[i] === '[') {
    const close = s.indexOf(']', i);
    if (close < 0) throw bad('IPv6 reference without ]');
    host = s.slice(i, close + 1);
    if (!isIpv6Reference(host)) throw bad('IPv6 reference is not valid');
    i = close + 1;
  } else {
    const start = i;
    while (i < s.length && (isAlnum(s[i]!) || s[i] === '-' || s[i] === '.')) i++;
    host = s.slice(start, i);
    if (host.length === 0) throw bad('SIP URI has no host');
    if (host.startsWith('.') || host.startsWith('-') || host.includes('..')) throw bad('SIP URI host is not valid');
  }
  let port: number | undefined;
  if (s[i] === ':') {
    const start = ++i;
    while (i < s.length && s[i]! >= '0' && s[i]! <= '9') i++;
    const digits = s.slice(start, i);
    if (digits.length === 0 || digits.length > 5 || Number(digits) > 65535) throw bad('SIP URI port is not valid');
    port = Number(digits);
  }
  const params: Params = new Map();
  while (s[i] === ';') {
    const start = ++i;
    while (i < s.length && s[i] !== ';' && s[i] !== '?') i++;
    const p = s.slice(start, i);
    const eq = p.indexOf('=');
    const name = unescapeComponent(eq >= 0 ? p.slice(0, eq) : p, paramChar, 'URI parameter').toLowerCase();
    if (name.length === 0) throw bad('empty URI parameter');
    if (params.has(name)) throw bad(`URI parameter ${name} repeated`);
    params.set(name, eq >= 0 ? unescapeComponent(p.slice(eq + 1), paramChar, 'URI parameter') : null);
  }
  const headers: Array<[string, string]> = [];
  if (s[i] === '?') {
    const parts = s.slice(i + 1).split('&');
    for (const h of parts) {
      const eq = h.indexOf('=');
      if (eq <= 0) throw bad('URI header without name=value');
      headers.push([
        unescapeComponent(h.slice(0, eq), headerChar, 'URI header'),
        unescapeComponent(h.slice(eq + 1), headerChar, 'URI header'),
      ]);
    }
    i = s.length;
  }
  if (i !== s.length) throw bad(`unexpected character '${s[i]}' in SIP URI`);
  return { scheme, user, password, host, port, params, headers };
}

export function formatUri(uri: Uri): string {
  if (!isSipUri(uri)) return `${uri.scheme}:${uri.opaque}`;
  let out = uri.scheme + ':';
  if (uri.user !== undefined) {
    out += escapeComponent(uri.user, userChar);
    if (uri.password !== undefined) out += ':' + escapeComponent(uri.password, passwordChar);
    out += '@';
  }
  out += uri.host;
  if (uri.port !== undefined) out += ':' + uri.port;
  for (const [k, v] of uri.params) out += ';' + escapeComponent(k, paramChar) + (v === null ? '' : '=' + escapeComponent(v, paramChar));
  if (uri.headers.length > 0) {
    out += '?' + uri.headers.map(([k, v]) => escapeComponent(k, headerChar) + '=' + escapeComponent(v, headerChar)).join('&');
  }
  return out;
}

const mustMatchParams = ['user', 'ttl', 'method', 'maddr', 'transport'];

/** URI equality per RFC 3261 §19.1.4. */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (a.scheme !== b.scheme) return false;
  if (!isSipUri(a) || !isSipUri(b)) return (a as AbsoluteUri).opaque === (b as AbsoluteUri).opaque;
  // userinfo is case-sensitive; everything else is not.
  if (a.user !== b.user || a.password !== b.password) return false;
  if (a.host.toLowerCase() !== b.host.toLowerCase()) return false;
  // A URI omitting a component with a default value does not match one that states it.
  if (a.port !== b.port) return false;
  for (const p of mustMatchParams) {
    const av = a.params.get(p);
    const bv = b.params.get(p);
    if ((av === undefined) !== (bv === undefined)) return false;
    if (av !== undefined && (av ?? '').toLowerCase() !== (bv ?? '').toLowerCase()) return false;
  }
  for (const [k, av] of a.params) {
    if (!b.params.has(k)) continue;
    if ((av ?? '').toLowerCase() !== (b.params.get(k) ?? '').toLowerCase()) return false;
  }
  if (a.headers.length !== b.headers.length) return false;
  const bh = new Map(b.headers.map(([k, v]) => [k.toLowerCase(), v]));
  for (const [k, v] of a.headers) if (bh.get(k.toLowerCase()) !== v) return false;
  return true;
}

export function sipUri(parts: Partial<SipUri> & { host: string }): SipUri {
  return {
    scheme: parts.scheme ?? 'sip',
    user: parts.user,
    password: parts.password,
    host: parts.host,
    port: parts.port,
    params: parts.params ?? new Map(),
    headers: parts.headers ?? [],
  };
}
