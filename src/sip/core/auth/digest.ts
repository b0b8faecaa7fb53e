/**
 * HTTP Digest authentication as SIP uses it (RFC 3261 §22.4 on RFC 2617; RFC 7616 adds SHA-256, RFC 8760 brings
 * it to SIP). Sans-I/O: time comes in as an argument, credentials come from a lookup the caller supplies.
 * Server side (`DigestServer`): stateless HMAC'd nonces bound to realm and age, qop=auth, stale=true for an
 * expired nonce with a right digest, nonce-count replay refused, a failed answer spends its nonce, no algorithm
 * downgrade. Client side: `answerChallenge`. The design, point by point: docs/sip.md "Digest".
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { hashBytes, hashString, hasOneShotHash } from '../../../lib/one-shot-hash.js';
import { SipError } from '../messages/errors.js';
import { quote, readQuoted, readToken, skipWs } from '../messages/syntax.js';

export const digestAlgorithms = ['MD5', 'SHA-256'] as const;
export type DigestAlgorithm = (typeof digestAlgorithms)[number];

export const DigestCode = {
  /** An Authorization/WWW-Authenticate header that does not parse (RFC 7235 §2.1 syntax). */
  header: 'ERR_SIP_AUTH_HEADER',
  /** The nonce secret is shorter than 16 bytes. */
  secret: 'ERR_SIP_DIGEST_SECRET',
  /** A challenge in a scheme other than Digest. */
  scheme: 'ERR_SIP_AUTH_SCHEME',
  /** A challenge without realm or nonce. */
  challenge: 'ERR_SIP_AUTH_CHALLENGE',
  /** A challenge with an algorithm sbd does not answer. */
  algorithm: 'ERR_SIP_AUTH_ALGORITHM',
} as const;
export type DigestCode = (typeof DigestCode)[keyof typeof DigestCode];

export class DigestError extends SipError {
  declare readonly code: DigestCode;

  constructor(code: DigestCode, message: string) {
    super(code, message);
  }
}

/** The nonce-count a nonce gets once an answer with it failed: every later count is "not higher". */
const SPENT = Number.MAX_SAFE_INTEGER;

function hash(algorithm: DigestAlgorithm, s: string): string {
  return hashString(algorithm === 'MD5' ? 'md5' : 'sha256', s, 'hex');
}

/**
 * HMAC-SHA-256 (RFC 2104) with the padded keys computed once: H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)) as two one-shot
 * hashes. A createHmac object per nonce costs several times more (OpenSSL 3 fetches the digest on every init), and
 * every challenge and every answer computes one. The same bytes as createHmac (test/sip/digest.test.ts).
 */
export function hmacSha256(key: Buffer): (message: Buffer) => Buffer {
  if (!hasOneShotHash) return (m) => createHmac('sha256', key).update(m).digest();
  const block = Buffer.alloc(64);
  (key.length > 64 ? createHash('sha256').update(key).digest() : key).copy(block);
  const ipad = Buffer.from(block.map((b) => b ^ 0x36));
  const opad = Buffer.from(block.map((b) => b ^ 0x5c));
  return (m) => hashBytes('sha256', Buffer.concat([opad, hashBytes('sha256', Buffer.concat([ipad, m]))]));
}

/** Random bytes for nonces drawn from a 4 KiB pool refilled from the CSPRNG (one RAND_bytes call per 512 nonces). */
function pooledRandom(): (n: number) => Buffer {
  let pool = Buffer.alloc(0);
  let offset = 0;
  return (n) => {
    if (offset + n > pool.length) {
      pool = randomBytes(Math.max(4096, n));
      offset = 0;
    }
    const out = Buffer.from(pool.subarray(offset, offset + n));
    offset += n;
    return out;
  };
}

export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return hash(algorithm, `${username}:${realm}:${password}`);
}

export interface ResponseInput {
  algorithm: DigestAlgorithm;
  ha1: string;
  nonce: string;
  method: string;
  uri: string;
  /** qop=auth with nc and cnonce; absent for the RFC 2069 form. */
  qop?: { nc: string; cnonce: string };
}

/** request-digest (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1), qop=auth or none. */
export function computeResponse(r: ResponseInput): string {
  const ha2 = hash(r.algorithm, `${r.method}:${r.uri}`);
  return r.qop
    ? hash(r.algorithm, `${r.ha1}:${r.nonce}:${r.qop.nc}:${r.qop.cnonce}:auth:${ha2}`)
    : hash(r.algorithm, `${r.ha1}:${r.nonce}:${ha2}`);
}

export interface AuthHeader {
  /** As written, e.g. "Digest". Compare case-insensitively. */
  scheme: string;
  /** Parameter names lower-cased; quoted values unescaped. */
  params: Map<string, string>;
}

/**
 * challenge / credentials = auth-scheme LWS auth-param *(COMMA auth-param). Other schemes parse too (their
 * params may not be name=value lists: RFC 4475 §3.3.7), with whatever params could be read.
 */
export function parseAuthHeader(value: string, maxParams = 32): AuthHeader {
  const s = value;
  const scheme = readToken(s, skipWs(s, 0));
  if (scheme.value.length === 0) throw new DigestError(DigestCode.header, 'authentication header has no scheme');
  const params = new Map<string, string>();
  let i = skipWs(s, scheme.end);
  while (i < s.length) {
    const name = readToken(s, i);
    if (name.value.length === 0) throw new DigestError(DigestCode.header, 'authentication parameter has no name');
    i = skipWs(s, name.end);
    if (s[i] !== '=') throw new DigestError(DigestCode.header, `authentication parameter ${name.value} has no value`);
    i = skipWs(s, i + 1);
    let v: string;
    if (s[i] === '"') {
      const q = readQuoted(s, i);
      v = q.value;
      i = q.end;
    } else {
      const start = i;
      while (i < s.length && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') i++;
      v = s.slice(start, i);
    }
    const key = name.value.toLowerCase();
    if (params.has(key)) throw new DigestError(DigestCode.header, `authentication parameter ${key} repeated`);
    params.set(key, v);
    if (params.size > maxParams) throw new DigestError(DigestCode.header, 'too many authentication parameters');
    i = skipWs(s, i);
    if (s[i] === ',') i = skipWs(s, i + 1);
    else if (i < s.length) throw new DigestError(DigestCode.header, 'authentication parameters not separated by commas');
  }
  return { scheme: scheme.value, params };
}

function algorithmOf(v: string | undefined): DigestAlgorithm | undefined {
  if (v === undefined) return 'MD5'; // RFC 2617 §3.2.1: absent means MD5
  const u = v.toUpperCase();
  return u === 'MD5' ? 'MD5' : u === 'SHA-256' ? 'SHA-256' : undefined;
}

export interface DigestServerOptions {
  realm: string;
  /** Server secret binding nonces (at least 16 bytes). */
  secret: Buffer;
  /** Seconds a nonce is accepted; default 300. Older → stale=true. */
  nonceLifetime?: number;
  /**
   * Algorithms to offer, most preferred first, when the caller names none; default MD5 only: sipp 3.6 refuses
   * anything else, and Cisco phones answer only MD5 (one challenge each, RFC 8760 §2.4).
   */
  algorithms?: readonly DigestAlgorithm[];
  /** Nonces whose nonce-count is tracked at once; default 100000 (oldest forgotten first). */
  maxTrackedNonces?: number;
  /** Source of the per-challenge random part of a nonce; default the CSPRNG through a pool (tests pass a fixed one). */
  random?: (n: number) => Buffer;
}

export const digestServerDefaults = {
  nonceLifetime: 300,
  algorithms: ['MD5'] as readonly DigestAlgorithm[],
  maxTrackedNonces: 100_000,
} as const;

/** Why an answer failed. `refused`: the caller's `admit` said no (a blocked credential); nothing was computed. */
export type VerifyFailure =
  | 'malformed'
  | 'not-digest'
  | 'wrong-realm'
  | 'bad-nonce'
  | 'unknown-user'
  | 'bad-response'
  | 'replay'
  | 'uri-mismatch'
  | 'refused';

export type VerifyResult =
  | { ok: true; username: string; algorithm: DigestAlgorithm }
  /** `username`: as the header named it, when it could be read (failure counting keys on it). */
  | { ok: false; reason: VerifyFailure; stale: false; username?: string }
  | { ok: false; reason: 'stale'; stale: true; username: string };

export interface VerifyInput {
  /** Authorization or Proxy-Authorization header value. */
  header: string;
  method: string;
  /** The Request-URI as received (compared with the digest's uri parameter). */
  requestUri: string;
  /** HA1 for user and realm under that algorithm, or undefined when the user is unknown. */
  lookupHa1: (username: string, realm: string, algorithm: DigestAlgorithm) => string | undefined;
  /** Milliseconds since the epoch. */
  now: number;
  /** Algorithms accepted for this request (those its challenge offered); default the server's set. */
  algorithms?: readonly DigestAlgorithm[];
  /** Asked with the header's username before anything is computed; false → `refused` (a blocked credential). */
  admit?: (username: string) => boolean;
  /** The address the request came from, when its challenge was bound to it (`challenges(…, boundTo)`). */
  boundTo?: string;
}

export class DigestServer {
  readonly realm: string;
  private readonly secret: Buffer;
  private readonly lifetime: number;
  private readonly algorithms: readonly DigestAlgorithm[];
  private readonly maxTracked: number;
  private readonly random: (n: number) => Buffer;
  private readonly realmBytes: Buffer;
  private readonly hmac: (message: Buffer) => Buffer;
  /** nonce → highest nonce-count seen. */
  private readonly counts = new Map<string, number>();

  constructor(o: DigestServerOptions) {
    if (o.secret.length < 16) throw new DigestError(DigestCode.secret, 'digest secret must be at least 16 bytes');
    this.realm = o.realm;
    this.secret = o.secret;
    this.lifetime = o.nonceLifetime ?? digestServerDefaults.nonceLifetime;
    this.algorithms = o.algorithms ?? digestServerDefaults.algorithms;
    this.maxTracked = o.maxTrackedNonces ?? digestServerDefaults.maxTrackedNonces;
    this.random = o.random ?? pooledRandom();
    this.realmBytes = Buffer.from(o.realm, 'utf8');
    this.hmac = hmacSha256(o.secret);
  }

  /**
   * A nonce unique per challenge: issued-at seconds (8) ‖ random (8) ‖ HMAC(secret, both ‖ realm)[0..16). The random
   * part matters: without it every challenge of one second carries the same nonce, and the nonce-count replay check
   * then refuses the second phone that answers with nc=00000001 in that second.
   */
  makeNonce(now: number, boundTo = ''): string {
    const head = Buffer.alloc(16);
    head.writeBigUInt64BE(BigInt(Math.floor(now / 1000)));
    this.random(8).copy(head, 8);
    return Buffer.concat([head, this.mac(head, boundTo)]).toString('base64url');
  }

  /**
   * `boundTo`: the address the challenge went to (empty: unbound). A nonce then verifies only from that address, so
   * a guess counted against an address really came from it: a stranger who spoofs a phone's UDP source cannot
   * receive the nonce sent there, and a nonce fetched from the stranger's own address is refused from the phone's
   * (Kamailio's auth_checks_register src_ip flag does the same).
   */
  private mac(head: Buffer, boundTo: string): Buffer {
    const bound = boundTo === '' ? this.realmBytes : Buffer.concat([this.realmBytes, Buffer.from(`\u0000${boundTo}`, 'utf8')]);
    return this.hmac(Buffer.concat([head, bound])).subarray(0, 16);
  }

  /** Age check of a nonce: 'ok', 'stale' or 'bad' (not ours, or tampered). */
  checkNonce(nonce: string, now: number, boundTo = ''): 'ok' | 'stale' | 'bad' {
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== 32 || raw.toString('base64url') !== nonce) return 'bad';
    const head = raw.subarray(0, 16);
    if (!timingSafeEqual(raw.subarray(16), this.mac(head, boundTo))) return 'bad';
    const age = Math.floor(now / 1000) - Number(head.readBigUInt64BE(0));
    if (age < -5) return 'bad'; // from the future beyond clock jitter
    return age > this.lifetime ? 'stale' : 'ok';
  }

  /**
   * WWW-Authenticate / Proxy-Authenticate values, one per algorithm offered (`algorithms`: default the server's);
   * `boundTo`: the address the challenge goes to (see `mac`).
   */
  challenges(now: number, stale = false, algorithms: readonly DigestAlgorithm[] = this.algorithms, boundTo = ''): string[] {
    const nonce = this.makeNonce(now, boundTo);
    return algorithms.map(
      (a) => `Digest realm=${quote(this.realm)}, nonce=${quote(nonce)}, algorithm=${a}, qop="auth"${stale ? ', stale=true' : ''}`,
    );
  }

  verify(input: VerifyInput): VerifyResult {
    const scheme = readToken(input.header, skipWs(input.header, 0)).value;
    if (scheme.toLowerCase() !== 'digest') return { ok: false, reason: 'not-digest', stale: false };
    let h: AuthHeader;
    try {
      h = parseAuthHeader(input.header);
    } catch {
      return { ok: false, reason: 'malformed', stale: false };
    }
    const p = h.params;
    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    const algorithm = algorithmOf(p.get('algorithm'));
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    if (
      username === undefined ||
      nonce === undefined ||
      uri === undefined ||
      response === undefined ||
      algorithm === undefined ||
      !(input.algorithms ?? this.algorithms).includes(algorithm) ||
      p.get('qop') !== 'auth' ||
      nc === undefined ||
      !/^[0-9a-fA-F]{8}$/.test(nc) ||
      cnonce === undefined ||
      !/^[0-9a-fA-F]+$/.test(response)
    ) {
      return { ok: false, reason: 'malformed', stale: false, ...(username === undefined ? {} : { username }) };
    }
    if (p.get('realm') !== this.realm) return { ok: false, reason: 'wrong-realm', stale: false, username };
    if (uri !== input.requestUri) return { ok: false, reason: 'uri-mismatch', stale: false, username };
    const age = this.checkNonce(nonce, input.now, input.boundTo);
    if (age === 'bad') return { ok: false, reason: 'bad-nonce', stale: false, username };
    if (input.admit && !input.admit(username)) return { ok: false, reason: 'refused', stale: false, username };
    // Replay protection (RFC 2617 §3.2.2): the nonce-count must grow. Checked before the digest, so a spent nonce
    // answers the same whether the guess was right or wrong.
    const count = parseInt(nc, 16);
    const last = this.counts.get(nonce);
    if (last !== undefined && count <= last) return { ok: false, reason: 'replay', stale: false, username };
    const ha1 = input.lookupHa1(username, this.realm, algorithm);
    if (ha1 === undefined) {
      this.track(nonce, SPENT);
      return { ok: false, reason: 'unknown-user', stale: false, username };
    }
    const expected = computeResponse({ algorithm, ha1, nonce, method: input.method, uri, qop: { nc, cnonce } });
    const a = Buffer.from(expected);
    const b = Buffer.from(response.toLowerCase());
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      this.track(nonce, SPENT);
      return { ok: false, reason: 'bad-response', stale: false, username };
    }
    if (age === 'stale') return { ok: false, reason: 'stale', stale: true, username };
    this.track(nonce, count);
    return { ok: true, username, algorithm };
  }

  /** Remembers a nonce's highest nonce-count (SPENT: no count is higher). Bounded: the oldest nonce is forgotten. */
  private track(nonce: string, count: number): void {
    this.counts.delete(nonce);
    this.counts.set(nonce, count);
    if (this.counts.size > this.maxTracked) this.counts.delete(this.counts.keys().next().value as string);
  }
}

export interface ClientAnswer {
  /** The WWW-Authenticate / Proxy-Authenticate value received. */
  challenge: string;
  method: string;
  uri: string;
  username: string;
  /** The password, or a stored HA1 for the challenge's realm and algorithm. */
  secret: { password: string } | { ha1: string };
  /** Client nonce: random per challenge (callers pass it in, keeping this function deterministic). */
  cnonce: string;
  /** How many requests this nonce has authenticated before, plus one. */
  nc: number;
}

/** Build the Authorization / Proxy-Authorization value answering a Digest challenge (RFC 2617 §3.2.2). */
export function answerChallenge(a: ClientAnswer): string {
  const c = parseAuthHeader(a.challenge);
  if (c.scheme.toLowerCase() !== 'digest') throw new DigestError(DigestCode.scheme, `cannot answer ${c.scheme} challenges`);
  const realm = c.params.get('realm');
  const nonce = c.params.get('nonce');
  if (realm === undefined || nonce === undefined) throw new DigestError(DigestCode.challenge, 'challenge lacks realm or nonce');
  const algorithm = algorithmOf(c.params.get('algorithm'));
  if (algorithm === undefined) throw new DigestError(DigestCode.algorithm, `unsupported algorithm ${c.params.get('algorithm')}`);
  const qops = (c.params.get('qop') ?? '').split(',').map((q) => q.trim());
  const useQop = qops.includes('auth');
  const ha1 = 'ha1' in a.secret ? a.secret.ha1 : computeHa1(algorithm, a.username, realm, a.secret.password);
  const nc = a.nc.toString(16).padStart(8, '0');
  const response = computeResponse({
    algorithm,
    ha1,
    nonce,
    method: a.method,
    uri: a.uri,
    qop: useQop ? { nc, cnonce: a.cnonce } : undefined,
  });
  let out =
    `Digest username=${quote(a.username)}, realm=${quote(realm)}, nonce=${quote(nonce)}, uri=${quote(a.uri)}, ` +
    `response=${quote(response)}, algorithm=${algorithm}`;
  if (useQop) out += `, qop=auth, nc=${nc}, cnonce=${quote(a.cnonce)}`;
  const opaque = c.params.get('opaque');
  if (opaque !== undefined) out += `, opaque=${quote(opaque)}`;
  return out;
}
