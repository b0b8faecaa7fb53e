/**
 * Header field names: case-insensitive (RFC 3261 §7.3.1), with compact forms (§7.3.3 and the extensions that
 * registered one). Everything inside the codec looks headers up by their lower-case long name.
 */
const compact: Record<string, string> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

/** Lower-case long form of a header name: `V` → `via`, `Call-ID` → `call-id`. */
export function canonicalName(name: string): string {
  let c = memo.get(name);
  if (c !== undefined) return c;
  const lower = name.toLowerCase();
  // Compact forms are single letters; an own-property check keeps "constructor" & co. from reaching Object.prototype.
  c = lower.length === 1 && Object.hasOwn(compact, lower) ? compact[lower]! : lower;
  if (memo.size < maxMemoNames) memo.set(name, c);
  return c;
}

/** Every message looks up the same few dozen spellings many times; names from the wire beyond this are not kept. */
const maxMemoNames = 512;
const memo = new Map<string, string>();

const display: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
};

/** The conventional spelling for output: `call-id` → `Call-ID`, `max-forwards` → `Max-Forwards`. */
export function displayName(lname: string): string {
  return display[lname] ?? lname.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
}

/**
 * Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1 allows several values on one line only for
 * these). Unknown headers are never split: their grammar is not known (RFC 4475 §3.1.1.1).
 */
export const listHeaders: ReadonlySet<string> = new Set([
  'via',
  'contact',
  'route',
  'record-route',
  'accept',
  'accept-encoding',
  'accept-language',
  'allow',
  'supported',
  'require',
  'proxy-require',
  'unsupported',
  'content-encoding',
  'content-language',
  'in-reply-to',
  'alert-info',
  'call-info',
  'error-info',
  'warning',
  'allow-events',
  'path',
  'service-route',
]);

/** Headers that may appear at most once (RFC 3261 §20: their grammar has a single value). */
export const singleHeaders: ReadonlySet<string> = new Set([
  'to',
  'from',
  'call-id',
  'cseq',
  'max-forwards',
  'content-length',
  'content-type',
  'expires',
]);
