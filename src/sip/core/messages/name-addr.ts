/**
 * name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route, Reply-To
 * (RFC 3261 §20.10, §20.20, §20.39, grammar §25.1).
 *
 *   ( name-addr / addr-spec ) *( SEMI param )
 *   name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
 *   display-name = *(token LWS) / quoted-string
 *
 * Without angle brackets every ';' starts a header parameter, and a URI holding '?' or ',' is not allowed
 * (§20.10): RFC 4475 §3.1.2.11. No whitespace may follow '<' or precede '>' (LAQUOT/RAQUOT): §3.1.2.12.
 */
import { bad } from './errors.js';
import {
  formatParams,
  indexOfWs,
  isToken,
  isWsp,
  quote,
  readParams,
  readQuoted,
  readToken,
  skipWs,
  trimWsEnd,
  type Params,
} from './syntax.js';
import { formatUri, parseUri, type Uri, type UriOptions } from './uri.js';

export interface NameAddr {
  /** Unescaped display name; undefined when absent. */
  displayName: string | undefined;
  uri: Uri;
  /** Header parameters (tag, expires, q, lr on Route...), names lower-cased. */
  params: Params;
}

export function parseNameAddr(value: string, what: string, options: UriOptions = {}): NameAddr {
  const s = value;
  let i = skipWs(s, 0);
  let displayName: string | undefined;
  let angle = false;
  if (s[i] === '"') {
    const q = readQuoted(s, i);
    displayName = q.value;
    i = skipWs(s, q.end);
    if (s[i] !== '<') throw bad(`${what}: quoted display name not followed by <URI>`);
    angle = true;
  } else {
    const lt = s.indexOf('<');
    if (lt >= 0) {
      // Everything before '<' must be tokens separated by LWS.
      const words = splitWs(s.slice(i, lt));
      for (const w of words) if (!isToken(w)) throw bad(`${what}: display name has characters that must be quoted`);
      if (words.length > 0) displayName = words.join(' ');
      i = lt;
      angle = true;
    }
  }
  let uriText: string;
  if (angle) {
    const close = s.indexOf('>', i);
    if (close < 0) throw bad(`${what}: < without >`);
    uriText = s.slice(i + 1, close);
    if (uriText.length === 0) throw bad(`${what}: empty <>`);
    if (isWsp(uriText[0]) || isWsp(uriText[uriText.length - 1])) throw bad(`${what}: whitespace inside <>`);
    i = close + 1;
  } else {
    let j = i;
    while (j < s.length && s[j] !== ';') j++;
    uriText = trimWsEnd(s.slice(i, j));
    if (uriText.indexOf('?') >= 0 || uriText.indexOf(',') >= 0) throw bad(`${what}: a URI with '?' or ',' must be enclosed in <>`);
    if (indexOfWs(uriText) >= 0) throw bad(`${what}: whitespace inside the URI`);
    if (uriText.length === 0) throw bad(`${what}: no URI`);
    i = j;
  }
  const uri = parseUri(uriText, options);
  const { params } = readParams(s, i, what);
  return { displayName, uri, params };
}

/** The words of `*(token LWS)`: split at runs of SP/HT, empty words dropped (a linear scan). */
function splitWs(s: string): string[] {
  const words: string[] = [];
  let i = skipWs(s, 0);
  while (i < s.length) {
    const end = indexOfWs(s, i);
    const stop = end < 0 ? s.length : end;
    words.push(s.slice(i, stop));
    i = skipWs(s, stop);
  }
  return words;
}

export function formatNameAddr(na: NameAddr): string {
  let out = '';
  if (na.displayName !== undefined) {
    const words = na.displayName.split(' ');
    out += (words.every(isToken) ? na.displayName : quote(na.displayName)) + ' ';
  }
  return out + '<' + formatUri(na.uri) + '>' + formatParams(na.params);
}

/** The tag parameter, if any (RFC 3261 §19.3). */
export function tagOf(na: NameAddr): string | undefined {
  return na.params.get('tag') ?? undefined;
}

export { readToken };
