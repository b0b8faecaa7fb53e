/**
 * The body of a Cisco alarm REFER (`Content-Type: application/x-cisco-alarm+xml`, ../shared/spec/cisco-sip-phone.md
 * §1), pure: bytes in, `{ ok: true, alarm }` or `{ ok: false, error }` out. The body is hostile input, so this is
 * not a general XML parser but a one-pass reader of the small subset the phones send, linear in the body's size
 * (no regular expression runs on it), with every bound a named option; DOCTYPE, CDATA and unknown entities are
 * refused. Theory of operation: docs/sip-theory.md "Cisco alarm bodies".
 */
import { AlarmError, AlarmErrorCode } from './errors.js';

export interface AlarmLimits {
  /** Largest body accepted, in bytes; default 16384 (the spec's example is about 600). */
  maxBodyBytes?: number;
  /** Deepest element nesting; default 8 (the alarm needs 4). */
  maxDepth?: number;
  /** Elements in the whole body; default 256. */
  maxElements?: number;
  /** Attributes on one element; default 8. */
  maxAttributes?: number;
  /** `String` parameters in the alarm; default 64. */
  maxParameters?: number;
  /** Longest element, attribute or parameter name; default 64 characters. */
  maxNameChars?: number;
  /** Longest attribute value or parameter text (after entity decoding); default 1024 characters. */
  maxValueChars?: number;
}

export const alarmLimitDefaults: Required<AlarmLimits> = {
  maxBodyBytes: 16384,
  maxDepth: 8,
  maxElements: 256,
  maxAttributes: 8,
  maxParameters: 64,
  maxNameChars: 64,
  maxValueChars: 1024,
};

export interface CiscoAlarm {
  /** The `Name` attribute of `<Alarm>` (e.g. "DeviceTLInfo"). */
  name: string;
  /** `String` parameters by their `name` attribute, in body order. */
  parameters: ReadonlyMap<string, string>;
}

export type AlarmResult<T> = { ok: true; value: T } | { ok: false; error: AlarmError };

/**
 * Counts the characters the reader looks at (every search and every character loop), for tests that hold the
 * reader to linear work on hostile bodies without measuring time.
 */
export interface AlarmMeter {
  scanned: number;
}

let meter: AlarmMeter | undefined;

/** `s.indexOf(token, from)`, metered. */
function find(s: string, token: string, from: number): number {
  const i = s.indexOf(token, from);
  if (meter) meter.scanned += (i < 0 ? s.length : i + token.length) - from;
  return i;
}

function count(n: number): void {
  if (meter) meter.scanned += n;
}

const ROOT = 'x-cisco-alarm';

export function parseCiscoAlarm(body: Uint8Array, limits: AlarmLimits = {}, work?: AlarmMeter): AlarmResult<CiscoAlarm> {
  meter = work;
  try {
    return { ok: true, value: read(body, { ...alarmLimitDefaults, ...limits }) };
  } catch (err) {
    if (err instanceof AlarmError) return { ok: false, error: err };
    throw err;
  } finally {
    meter = undefined;
  }
}

interface Element {
  name: string;
  attributes: Map<string, string>;
}

function read(body: Uint8Array, l: Required<AlarmLimits>): CiscoAlarm {
  if (body.length > l.maxBodyBytes)
    throw new AlarmError(AlarmErrorCode.tooLarge, `alarm body is ${body.length} bytes; the limit is ${l.maxBodyBytes}`);
  let s: string;
  try {
    s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body);
  } catch {
    throw new AlarmError(AlarmErrorCode.encoding, 'alarm body is not valid UTF-8');
  }
  const stack: string[] = [];
  let elements = 0;
  let rootDone = false;
  let alarmName: string | undefined;
  const parameters = new Map<string, string>();
  /** Inside `<String name=…>` directly under ParameterList under Alarm: the parameter being read. */
  let param: { name: string; text: string } | undefined;
  let pos = 0;
  while (pos < s.length) {
    const lt = find(s, '<', pos);
    const end = lt < 0 ? s.length : lt;
    // Text is copied only where it is read: a parameter's value, or what lies outside the root (must be blank).
    if (end > pos && param) {
      param.text += decodeText(s.slice(pos, end), pos, l.maxValueChars - param.text.length);
    } else if (end > pos && stack.length === 0 && !isSpace(s.slice(pos, end))) {
      throw new AlarmError(AlarmErrorCode.syntax, 'text outside the root element', pos);
    }
    if (lt < 0) break;
    if (s.startsWith('<?', lt)) {
      if (stack.length > 0 || rootDone) throw new AlarmError(AlarmErrorCode.syntax, 'processing instruction after the prolog', lt);
      pos = after(s, '?>', lt + 2, 'unterminated processing instruction');
      continue;
    }
    if (s.startsWith('<!--', lt)) {
      pos = after(s, '-->', lt + 4, 'unterminated comment');
      continue;
    }
    if (s.startsWith('<!DOCTYPE', lt) || s.startsWith('<!doctype', lt))
      throw new AlarmError(AlarmErrorCode.doctype, 'a DOCTYPE is not accepted (no entity declarations)', lt);
    if (s.startsWith('<!', lt)) throw new AlarmError(AlarmErrorCode.syntax, 'CDATA and declarations are not accepted', lt);
    if (s.startsWith('</', lt)) {
      const n = readName(s, lt + 2, l.maxNameChars);
      const i = skipSpace(s, n.end);
      if (s[i] !== '>') throw new AlarmError(AlarmErrorCode.syntax, 'malformed end tag', i);
      if (stack[stack.length - 1] !== n.name)
        throw new AlarmError(AlarmErrorCode.syntax, `end tag </${n.name}> does not close <${stack[stack.length - 1] ?? ''}>`, lt);
      stack.pop();
      if (param && stack.length === 3) {
        parameters.set(param.name, param.text);
        param = undefined;
      }
      if (stack.length === 0) rootDone = true;
      pos = i + 1;
      continue;
    }
    // A start tag.
    if (rootDone) throw new AlarmError(AlarmErrorCode.syntax, 'a second root element', lt);
    if (param) throw new AlarmError(AlarmErrorCode.syntax, 'an element inside a String parameter', lt);
    if (++elements > l.maxElements) throw new AlarmError(AlarmErrorCode.tooMany, `more than ${l.maxElements} elements`, lt);
    const { element, end: tagEnd, selfClosing } = readStartTag(s, lt + 1, l);
    const depth = stack.length + 1;
    if (depth > l.maxDepth) throw new AlarmError(AlarmErrorCode.depth, `elements nested deeper than ${l.maxDepth}`, lt);
    const path = stack.join('/');
    if (depth === 1 && element.name !== ROOT)
      throw new AlarmError(AlarmErrorCode.notAlarm, `the root element is <${element.name}>, not <${ROOT}>`, lt);
    if (path === ROOT && element.name === 'Alarm') {
      if (alarmName !== undefined) throw new AlarmError(AlarmErrorCode.duplicate, 'more than one Alarm', lt);
      const name = element.attributes.get('Name');
      if (name === undefined || name === '') throw new AlarmError(AlarmErrorCode.notAlarm, 'Alarm without a Name', lt);
      alarmName = name;
    }
    if (path === `${ROOT}/Alarm/ParameterList` && element.name === 'String') {
      const name = element.attributes.get('name');
      if (name === undefined || name === '') throw new AlarmError(AlarmErrorCode.syntax, 'String parameter without a name', lt);
      if (parameters.has(name)) throw new AlarmError(AlarmErrorCode.duplicate, `parameter ${name} given twice`, lt);
      if (parameters.size >= l.maxParameters) throw new AlarmError(AlarmErrorCode.tooMany, `more than ${l.maxParameters} parameters`, lt);
      if (selfClosing) parameters.set(name, '');
      else param = { name, text: '' };
    }
    if (!selfClosing) stack.push(element.name);
    else if (depth === 1) rootDone = true;
    pos = tagEnd;
  }
  if (stack.length > 0) throw new AlarmError(AlarmErrorCode.syntax, `<${stack[stack.length - 1]}> is not closed`, s.length);
  if (!rootDone) throw new AlarmError(AlarmErrorCode.notAlarm, `no <${ROOT}> element`, s.length);
  if (alarmName === undefined) throw new AlarmError(AlarmErrorCode.notAlarm, 'no Alarm element', s.length);
  return { name: alarmName, parameters };
}

function after(s: string, token: string, from: number, what: string): number {
  const i = find(s, token, from);
  if (i < 0) throw new AlarmError(AlarmErrorCode.syntax, what, from);
  return i + token.length;
}

function isSpace(t: string): boolean {
  count(t.length);
  for (let i = 0; i < t.length; i++) if (!isSpaceChar(t.charCodeAt(i))) return false;
  return true;
}

function isSpaceChar(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function skipSpace(s: string, i: number): number {
  const from = i;
  while (i < s.length && isSpaceChar(s.charCodeAt(i))) i++;
  count(i - from + 1);
  return i;
}

function isNameChar(c: number, first: boolean): boolean {
  if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x3a) return true;
  return !first && ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e);
}

/** An ASCII XML name (the phones use no others); at most `max` characters. */
function readName(s: string, i: number, max: number): { name: string; end: number } {
  const start = i;
  while (i < s.length && isNameChar(s.charCodeAt(i), i === start)) {
    if (i - start >= max) throw new AlarmError(AlarmErrorCode.tooMany, `a name longer than ${max} characters`, start);
    i++;
  }
  count(i - start + 1);
  if (i === start) throw new AlarmError(AlarmErrorCode.syntax, 'a name was expected', i);
  return { name: s.slice(start, i), end: i };
}

function readStartTag(s: string, i: number, l: Required<AlarmLimits>): { element: Element; end: number; selfClosing: boolean } {
  const n = readName(s, i, l.maxNameChars);
  const attributes = new Map<string, string>();
  i = n.end;
  for (;;) {
    const spaced = i < s.length && isSpaceChar(s.charCodeAt(i));
    i = skipSpace(s, i);
    if (s[i] === '>') return { element: { name: n.name, attributes }, end: i + 1, selfClosing: false };
    if (s[i] === '/' && s[i + 1] === '>') return { element: { name: n.name, attributes }, end: i + 2, selfClosing: true };
    if (!spaced) throw new AlarmError(AlarmErrorCode.syntax, `malformed tag <${n.name}>`, i);
    if (attributes.size >= l.maxAttributes)
      throw new AlarmError(AlarmErrorCode.tooMany, `more than ${l.maxAttributes} attributes on <${n.name}>`, i);
    const a = readName(s, i, l.maxNameChars);
    i = skipSpace(s, a.end);
    if (s[i] !== '=') throw new AlarmError(AlarmErrorCode.syntax, `attribute ${a.name} without a value`, i);
    i = skipSpace(s, i + 1);
    const quote = s[i];
    if (quote !== '"' && quote !== "'") throw new AlarmError(AlarmErrorCode.syntax, `attribute ${a.name} value is not quoted`, i);
    const close = find(s, quote, i + 1);
    if (close < 0) throw new AlarmError(AlarmErrorCode.syntax, `attribute ${a.name} value is not closed`, i);
    const raw = s.slice(i + 1, close);
    count(raw.length);
    if (raw.includes('<')) throw new AlarmError(AlarmErrorCode.syntax, `'<' in attribute ${a.name}`, i);
    if (attributes.has(a.name)) throw new AlarmError(AlarmErrorCode.duplicate, `attribute ${a.name} given twice`, i);
    attributes.set(a.name, decodeText(raw, i + 1, l.maxValueChars));
    i = close + 1;
  }
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
/** `&#x10FFFF;` is the longest reference accepted: 8 characters between `&` and `;`. */
const MAX_REFERENCE_CHARS = 9;

/** Text with the five predefined entities and character references decoded; at most `room` characters. */
function decodeText(raw: string, offset: number, room: number): string {
  let out = '';
  let i = 0;
  for (;;) {
    const amp = find(raw, '&', i);
    out += raw.slice(i, amp < 0 ? raw.length : amp);
    if (out.length > room) throw new AlarmError(AlarmErrorCode.tooMany, 'a value longer than the limit', offset + i);
    if (amp < 0) return out;
    // Looked for only within the longest reference: a lone '&' far from any ';' costs no long search.
    const window = raw.slice(amp + 1, amp + 1 + MAX_REFERENCE_CHARS);
    const end = find(window, ';', 0);
    const semi = end < 0 ? -1 : amp + 1 + end;
    if (semi < 0) throw new AlarmError(AlarmErrorCode.entity, "'&' that starts no entity reference", offset + amp);
    const ref = raw.slice(amp + 1, semi);
    out += reference(ref, offset + amp);
    i = semi + 1;
  }
}

function reference(ref: string, offset: number): string {
  const named = PREDEFINED[ref];
  if (named !== undefined && Object.hasOwn(PREDEFINED, ref)) return named;
  let code = -1;
  if (ref.startsWith('#x') && ref.length > 2 && ref.length <= 8 && allDigits(ref.slice(2), 16)) code = parseInt(ref.slice(2), 16);
  else if (ref.startsWith('#') && ref.length > 1 && ref.length <= 8 && allDigits(ref.slice(1), 10)) code = parseInt(ref.slice(1), 10);
  // XML 1.0 §2.2 Char: no NUL, no surrogates, no other C0 control than tab, LF, CR.
  const ok =
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff);
  if (!ok)
    throw new AlarmError(
      AlarmErrorCode.entity,
      `entity reference &${ref}; is not accepted (only &amp; &lt; &gt; &quot; &apos; and character references)`,
      offset,
    );
  return String.fromCodePoint(code);
}

function allDigits(t: string, radix: 10 | 16): boolean {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    const dec = c >= 0x30 && c <= 0x39;
    const hex = (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
    if (!(dec || (radix === 16 && hex))) return false;
  }
  return true;
}
