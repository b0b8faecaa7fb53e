/**
 * Via (RFC 3261 §20.42, grammar §25.1):
 *   via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
 *   sent-protocol = protocol-name SLASH protocol-version SLASH transport     (SLASH = SWS "/" SWS)
 *   sent-by       = host [ COLON port ]
 * LWS is allowed around every separator (RFC 4475 §3.1.1.1 folds a Via across three lines).
 */
import { bad } from './errors.js';
import { formatParams, isAlnum, isWsp, readParams, readToken, skipWs, type Params } from './syntax.js';

export interface Via {
  protocol: string;
  version: string;
  /** Upper-cased: UDP, TCP, TLS, SCTP, WS, WSS or an extension token. */
  transport: string;
  host: string;
  port: number | undefined;
  /** branch, received, rport, maddr, ttl and extensions; names lower-cased, `rport` may be null. */
  params: Params;
}

/** RFC 3261 §8.1.1.7: branches that begin with the magic cookie identify transactions by themselves. */
export const magicCookie = 'z9hG4bK';

export function parseVia(value: string): Via {
  const s = value;
  let i = skipWs(s, 0);
  const parts: string[] = [];
  for (let k = 0; k < 3; k++) {
    const t = readToken(s, i);
    if (t.value.length === 0) throw bad('Via sent-protocol is not valid');
    parts.push(t.value);
    i = skipWs(s, t.end);
    if (k < 2) {
      if (s[i] !== '/') throw bad('Via sent-protocol is not valid');
      i = skipWs(s, i + 1);
    }
  }
  const [protocol, version, transport] = parts as [string, string, string];
  if (protocol.toUpperCase() !== 'SIP' || version !== '2.0') throw bad('Via protocol is not SIP/2.0');
  if (!isWsp(s[i - 1])) throw bad('Via has no space before sent-by');
  let host: string;
  if (s[i] === '[') {
    const close = s.indexOf(']', i);
    if (close < 0) throw bad('Via IPv6 reference without ]');
    host = s.slice(i, close + 1);
    if (!/^\[[0-9A-Fa-f:.]+\]$/.test(host)) throw bad('Via IPv6 reference is not valid');
    i = close + 1;
  } else {
    const start = i;
    while (i < s.length && (isAlnum(s[i]!) || s[i] === '-' || s[i] === '.')) i++;
    host = s.slice(start, i);
    if (host.length === 0) throw bad('Via has no sent-by host');
  }
  i = skipWs(s, i);
  let port: number | undefined;
  if (s[i] === ':') {
    i = skipWs(s, i + 1);
    const start = i;
    while (i < s.length && s[i]! >= '0' && s[i]! <= '9') i++;
    const digits = s.slice(start, i);
    if (digits.length === 0 || digits.length > 5 || Number(digits) > 65535) throw bad('Via port is not valid');
    port = Number(digits);
  }
  const { params } = readParams(s, i, 'Via');
  return { protocol: 'SIP', version, transport: transport.toUpperCase(), host, port, params };
}

export function formatVia(via: Via): string {
  return `SIP/2.0/${via.transport} ${via.host}${via.port === undefined ? '' : ':' + via.port}${formatParams(via.params)}`;
}

export function branchOf(via: Via): string | undefined {
  return via.params.get('branch') ?? undefined;
}

/** An RFC 3261 branch: the magic cookie followed by at least one character (RFC 4475 §3.2.1). */
export function isRfc3261Branch(branch: string | undefined): branch is string {
  return branch?.startsWith(magicCookie) === true && branch.length > magicCookie.length;
}
