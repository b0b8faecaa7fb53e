/**
 * RFC 3261 §25.1 character classes and the small scanners every header grammar shares: LWS, tokens,
 * quoted strings (with quoted-pair), generic parameters and comma splitting that respects quotes and angle
 * brackets. Pure string functions; positions are indices into the (already unfolded) header value.
 */
import { bad } from './errors.js';

const TOKEN_EXTRA = new Set("-.!%*_+`'~");
const WORD_EXTRA = new Set('-.!%*_+`\'~()<>:\\"/[]?{}');

export function isAlnum(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
export function isTokenChar(c: string): boolean {
  return isAlnum(c) || TOKEN_EXTRA.has(c);
}

export function isToken(s: string): boolean {
  scanWork.chars += s.length;
  if (s.length === 0) return false;
  for (const c of s) if (!isTokenChar(c)) return false;
  return true;
}

/** word (Call-ID): token characters plus ( ) < > : \ " / [ ] ? { } */
export function isWord(s: string): boolean {
  scanWork.chars += s.length;
  if (s.length === 0) return false;
  for (const c of s) if (!isAlnum(c) && !TOKEN_EXTRA.has(c) && !WORD_EXTRA.has(c)) return false;
  return true;
}

/**
 * Characters the codec's scanners examined: exposed so tests can check that parsing stays linear in the input
 * (issue 16 row 4: a regex like `/[ \t]+$/` is quadratic in a run of spaces that is not at the end). Every
 * scanner over message bytes is a plain loop that adds what it looked at; no regex runs on attacker bytes.
 */
export const scanWork = { chars: 0 };

function isWspCode(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Strip SP and HT only: String.prototype.trim would also eat U+FEFF and other Unicode spaces. */
export function trimWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWspCode(s.charCodeAt(a))) a++;
  while (b > a && isWspCode(s.charCodeAt(b - 1))) b--;
  scanWork.chars += a + (s.length - b) + 2;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Strip trailing SP and HT (a linear scan from the end: `/[ \t]+$/` backtracks quadratically). */
export function trimWsEnd(s: string): string {
  let b = s.length;
  while (b > 0 && isWspCode(s.charCodeAt(b - 1))) b--;
  scanWork.chars += s.length - b + 1;
  return b === s.length ? s : s.slice(0, b);
}

/** Strip leading SP and HT. */
export function trimWsStart(s: string): string {
  let a = 0;
  while (a < s.length && isWspCode(s.charCodeAt(a))) a++;
  scanWork.chars += a + 1;
  return a === 0 ? s : s.slice(a);
}

/** True when every character is an ASCII digit (and there is at least one). */
export function isDigits(s: string): boolean {
  scanWork.chars += s.length;
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Index of the first SP or HT at or after `from`, or -1. */
export function indexOfWs(s: string, from = 0): number {
  for (let i = from; i < s.length; i++) {
    if (isWspCode(s.charCodeAt(i))) {
      scanWork.chars += i - from + 1;
      return i;
    }
  }
  scanWork.chars += s.length - from;
  return -1;
}

/** Leading zeros dropped, one digit kept (`007` → `7`, `000` → `0`). */
export function stripLeadingZeros(digits: string): string {
  let a = 0;
  while (a < digits.length - 1 && digits.charCodeAt(a) === 0x30) a++;
  scanWork.chars += a + 1;
  return a === 0 ? digits : digits.slice(a);
}

export function isWsp(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

export function skipWs(s: string, i: number): number {
  const from = i;
  while (i < s.length && isWspCode(s.charCodeAt(i))) i++;
  scanWork.chars += i - from + 1;
  return i;
}

export function readToken(s: string, i: number): { value: string; end: number } {
  let j = i;
  while (j < s.length && isTokenChar(s[j]!)) j++;
  scanWork.chars += j - i + 1;
  return { value: s.slice(i, j), end: j };
}

/**
 * quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE (RFC 3261 §25.1). `i` points at the opening quote.
 * Returns the unescaped text and the index after the closing quote. qdtext excludes control characters;
 * quoted-pair may escape anything but CR and LF.
 */
export function readQuoted(s: string, i: number): { value: string; raw: string; end: number } {
  if (s[i] !== '"') throw bad('expected a quoted string');
  let out = '';
  let j = i + 1;
  while (j < s.length) {
    const c = s[j]!;
    if (c === '"') {
      scanWork.chars += j - i + 1;
      return { value: out, raw: s.slice(i, j + 1), end: j + 1 };
    }
    if (c === '\\') {
      const n = s[j + 1];
      if (n === undefined) break;
      if (n === '\r' || n === '\n') throw bad('quoted-pair escapes CR or LF');
      out += n;
      j += 2;
      continue;
    }
    const code = c.charCodeAt(0);
    if (code < 0x20 && c !== '\t') throw bad('control character inside a quoted string');
    if (code === 0x7f) throw bad('DEL inside a quoted string');
    out += c;
    j++;
  }
  throw bad('unterminated quoted string');
}

/** Quote a string for the wire, escaping " and \ (RFC 3261 §25.1 quoted-pair). */
export function quote(s: string): string {
  return '"' + s.replace(/[\\"]/g, (m) => '\\' + m) + '"';
}

/**
 * Split a header value at top-level commas: commas inside quoted strings or <...> do not split
 * (RFC 3261 §7.3.1). Empty elements are an error: `a,,b` is not a list of three.
 */
export function splitComma(value: string, what = 'header'): string[] {
  const parts: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  scanWork.chars += value.length;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === '<') inAngle = true;
    else if (c === '>') inAngle = false;
    else if (c === ',' && !inAngle) {
      parts.push(trimWs(value.slice(start, i)));
      start = i + 1;
    }
  }
  if (inQuote) throw bad(`unterminated quoted string in ${what}`);
  parts.push(trimWs(value.slice(start)));
  if (parts.some((p) => p.length === 0)) throw bad(`empty element in the ${what} list`);
  return parts;
}

export type Params = Map<string, string | null>;

/**
 * *( SEMI generic-param ), generic-param = token [ EQUAL gen-value ], gen-value = token / host / quoted-string.
 * `i` points at the first ';' (or end). Names are lower-cased (parameter names are case-insensitive); values
 * keep their case, quoted values are unescaped. Stops at `stop` characters (e.g. ',' for lists).
 */
export function readParams(s: string, i: number, what: string): { params: Params; end: number } {
  const params: Params = new Map();
  i = skipWs(s, i);
  while (i < s.length && s[i] === ';') {
    i = skipWs(s, i + 1);
    const name = readToken(s, i);
    if (name.value.length === 0) throw bad(`empty parameter in ${what}`);
    i = skipWs(s, name.end);
    let value: string | null = null;
    if (s[i] === '=') {
      i = skipWs(s, i + 1);
      if (s[i] === '"') {
        const q = readQuoted(s, i);
        value = q.value;
        i = q.end;
      } else {
        const start = i;
        // host values may carry ':' and '[...]' (IPv6 in received/maddr).
        while (i < s.length && (isTokenChar(s[i]!) || s[i] === ':' || s[i] === '[' || s[i] === ']')) i++;
        scanWork.chars += i - start;
        value = s.slice(start, i);
        if (value.length === 0) throw bad(`parameter ${name.value} in ${what} has an empty value`);
      }
    }
    const key = name.value.toLowerCase();
    if (params.has(key)) throw bad(`parameter ${key} repeated in ${what}`);
    params.set(key, value);
    i = skipWs(s, i);
  }
  if (i < s.length) throw bad(`unexpected character '${printable(s[i]!)}' in ${what}`);
  return { params, end: i };
}

export function formatParams(params: Params): string {
  let out = '';
  for (const [k, v] of params) {
    out += ';' + k;
    if (v !== null) out += '=' + (isParamSafe(v) ? v : quote(v));
  }
  return out;
}

function isParamSafe(v: string): boolean {
  if (v.length === 0) return false;
  for (const c of v) if (!isTokenChar(c) && c !== ':' && c !== '[' && c !== ']') return false;
  return true;
}

/** Render a character for an error message without putting control bytes into a reason phrase. */
export function printable(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : c;
}

/** 1*DIGIT as a safe integer, or an error naming the field. Leading zeros are allowed (RFC 4475 §3.1.1.1). */
export function readDigits(s: string, what: string, max: number): number {
  if (!isDigits(s)) throw bad(`${what} is not a decimal number`);
  const trimmed = stripLeadingZeros(s);
  if (trimmed.length > 16) throw bad(`${what} is out of range`);
  const n = Number(trimmed);
  if (n > max) throw bad(`${what} is out of range`);
  return n;
}
