/**
 * SDP Security Descriptions (RFC 4568): the `a=crypto` attribute, parsed and generated with strict validation.
 *
 *   a=crypto:<tag> <crypto-suite> <key-params> [<session-param> ...]          (RFC 4568 §9.1)
 *   key-params = "inline:" <base64 key||salt> ["|" lifetime] ["|" mki-value ":" mki-length] (";" more keys)
 *
 * Strict means: the tag is 1–9 digits; the suite is one we know; the base64 decodes to exactly key + salt for
 * that suite (RFC 4568 §6.2, RFC 6188 §7, RFC 7714 §14.2); the lifetime is a number or 2^n not above the
 * suite's maximum (2^48 SRTP packets, §6.2.1); the MKI length is 1–128 and the value fits in it (§9.2); every
 * MKI length is the same across keys (§6.1). Session parameters are kept as given; `negotiate` decides which
 * it can honour. Anything else is an SdesError with a stable code; nothing is silently fixed up.
 */
import { randomBytes } from 'node:crypto';
import { SbdError } from '../lib/errors.js';
import { SUITES, isSuite, type Suite } from './suites.js';

/** Every way SDES is refused (RFC 4568), once; `SdesError.code` and the negotiation's refusal are typed by it. */
export const SdesErrorCode = {
  /** An a=crypto value longer than `maxLength`. */
  tooLong: 'ERR_SDES_TOO_LONG',
  /** Fewer than three fields (tag, crypto-suite, key parameters). */
  syntax: 'ERR_SDES_SYNTAX',
  /** A tag that is not 1-9 digits. */
  tag: 'ERR_SDES_TAG',
  /** A crypto-suite sbd does not know (the answerer skips the line and tries the next). */
  suite: 'ERR_SDES_SUITE',
  /** A key method other than "inline" (RFC 4568 §6.1). */
  keyMethod: 'ERR_SDES_KEY_METHOD',
  /** Too many "|" fields in a key, or more than `maxKeys` keys. */
  keyParams: 'ERR_SDES_KEY_PARAMS',
  /** Key||salt that is not base64. */
  keyEncoding: 'ERR_SDES_KEY_ENCODING',
  /** Key||salt of the wrong length for the suite. */
  keyLength: 'ERR_SDES_KEY_LENGTH',
  /** A lifetime that does not parse, is outside 1..2^48, repeated or after the MKI. */
  lifetime: 'ERR_SDES_LIFETIME',
  /** An MKI that does not parse, does not fit, or differs in length between keys. */
  mki: 'ERR_SDES_MKI',
  /** A session parameter with characters outside RFC 4568 §9.1. */
  sessionParam: 'ERR_SDES_SESSION_PARAM',
  /** No offered line usable under Block Unencrypted Calls (negotiate.ts, 488). */
  noCommonSuite: 'ERR_SDES_NO_COMMON_SUITE',
} as const;
export type SdesErrorCode = (typeof SdesErrorCode)[keyof typeof SdesErrorCode];

export class SdesError extends SbdError {
  declare readonly code: SdesErrorCode;

  constructor(code: SdesErrorCode, message: string) {
    super(code, message);
  }
}

export interface SdesKey {
  /** The master key. */
  key: Buffer;
  /** The master salt. */
  salt: Buffer;
  /** Packets the key may protect (RFC 4568 §6.1 "lifetime"), if given. */
  lifetime?: bigint;
  /** MKI value and its length in bytes, if given. */
  mki?: { value: bigint; length: number };
}

export interface CryptoAttribute {
  tag: number;
  suite: Suite;
  keys: SdesKey[];
  /** Session parameters in order, e.g. ['KDR=0', 'WSH=128', 'UNENCRYPTED_SRTCP']. */
  sessionParams: string[];
}

/** Bounds of the parser, each a named option. */
export interface CryptoParseOptions {
  /** Longest `a=crypto` value accepted, in characters. Default 1024. */
  maxLength?: number;
  /** Most keys in one attribute. Default 16. */
  maxKeys?: number;
}

const MAX_LIFETIME = 1n << 48n; // RFC 4568 §6.2.1: at most 2^48 SRTP packets (2^31 SRTCP, enforced by the engine)

function fail(code: SdesErrorCode, message: string): never {
  throw new SdesError(code, message);
}

function parseLifetime(text: string): bigint {
  const m = /^(?:2\^(\d{1,2})|(\d{1,15}))$/.exec(text);
  if (!m) fail(SdesErrorCode.lifetime, `invalid key lifetime "${text}"`);
  const v = m[1] !== undefined ? 1n << BigInt(m[1]) : BigInt(m[2]!);
  if (v < 1n || v > MAX_LIFETIME) fail(SdesErrorCode.lifetime, `key lifetime ${text} outside 1..2^48`);
  return v;
}

function parseKeyParam(param: string, suite: Suite): SdesKey {
  if (!param.startsWith('inline:'))
    fail(SdesErrorCode.keyMethod, `only the "inline" key method is defined (RFC 4568 §6.1), got "${param.split(':')[0]}"`);
  const [keySalt, ...rest] = param.slice(7).split('|');
  if (rest.length > 2) fail(SdesErrorCode.keyParams, 'too many "|" fields in key parameters');
  const p = SUITES[suite];
  // RFC 4568 §6.1: base64 (RFC 3548) without line breaks; padding is optional in practice, but no other characters
  if (!keySalt || !/^[A-Za-z0-9+/]+={0,2}$/.test(keySalt)) fail(SdesErrorCode.keyEncoding, 'key||salt is not base64');
  const raw = Buffer.from(keySalt, 'base64');
  if (raw.length !== p.keyLength + p.saltLength) {
    fail(SdesErrorCode.keyLength, `${suite} needs ${p.keyLength + p.saltLength} bytes of key||salt, got ${raw.length}`);
  }
  const key: SdesKey = { key: raw.subarray(0, p.keyLength), salt: raw.subarray(p.keyLength) };
  for (const field of rest) {
    if (field.includes(':')) {
      if (key.mki) fail(SdesErrorCode.mki, 'two MKI fields');
      const m = /^(\d{1,39}):(\d{1,3})$/.exec(field);
      if (!m) fail(SdesErrorCode.mki, `invalid MKI "${field}"`);
      const value = BigInt(m[1]!),
        length = Number(m[2]);
      if (length < 1 || length > 128) fail(SdesErrorCode.mki, `MKI length ${length} outside 1..128`);
      if (length < 16 && value >= 1n << BigInt(8 * length)) fail(SdesErrorCode.mki, `MKI value ${value} does not fit in ${length} bytes`);
      key.mki = { value, length };
    } else {
      if (key.lifetime !== undefined || key.mki) fail(SdesErrorCode.lifetime, 'lifetime must come once, before the MKI');
      key.lifetime = parseLifetime(field);
    }
  }
  return key;
}

/**
 * Parses the value of an `a=crypto` attribute (with or without the leading "a=crypto:" / "crypto:").
 * Unknown suites are an error with code ERR_SDES_SUITE, so an answerer can skip that line and try the next.
 */
export function parseCryptoAttribute(line: string, options: CryptoParseOptions = {}): CryptoAttribute {
  const maxLength = options.maxLength ?? 1024;
  const maxKeys = options.maxKeys ?? 16;
  if (line.length > maxLength) fail(SdesErrorCode.tooLong, `a=crypto longer than ${maxLength} characters`);
  const value = line
    .trim()
    .replace(/^a=/, '')
    .replace(/^crypto:/, '');
  const parts = value.split(/[ \t]+/);
  if (parts.length < 3) fail(SdesErrorCode.syntax, 'a=crypto needs a tag, a crypto-suite and key parameters');
  const [tagText, suiteName, keyParams, ...sessionParams] = parts as [string, string, string, ...string[]];
  if (!/^\d{1,9}$/.test(tagText)) fail(SdesErrorCode.tag, `invalid tag "${tagText}" (1-9 digits)`);
  if (!isSuite(suiteName)) fail(SdesErrorCode.suite, `unknown crypto-suite "${suiteName}"`);
  const params = keyParams.split(';');
  if (params.length > maxKeys) fail(SdesErrorCode.keyParams, `more than ${maxKeys} keys`);
  const keys = params.map((k) => parseKeyParam(k, suiteName));
  const mkiLengths = new Set(keys.map((k) => k.mki?.length ?? 0));
  if (mkiLengths.size > 1) fail(SdesErrorCode.mki, 'all keys of one attribute must have the same MKI length');
  if (keys.length > 1 && mkiLengths.has(0)) fail(SdesErrorCode.mki, 'several keys need an MKI each');
  for (const sp of sessionParams) {
    if (!/^-?[\x21-\x7e]+$/.test(sp)) fail(SdesErrorCode.sessionParam, `invalid session parameter "${sp}"`);
  }
  return { tag: Number(tagText), suite: suiteName, keys, sessionParams };
}

function formatKey(k: SdesKey): string {
  let s = 'inline:' + Buffer.concat([k.key, k.salt]).toString('base64');
  if (k.lifetime !== undefined) {
    const exp = k.lifetime > 0n && (k.lifetime & (k.lifetime - 1n)) === 0n ? k.lifetime.toString(2).length - 1 : -1;
    s += '|' + (exp >= 0 ? `2^${exp}` : k.lifetime.toString());
  }
  if (k.mki) s += `|${k.mki.value}:${k.mki.length}`;
  return s;
}

/** The attribute value, e.g. "1 AES_CM_128_HMAC_SHA1_80 inline:...|2^31" (prefix it with "a=crypto:"). */
export function formatCryptoAttribute(a: CryptoAttribute): string {
  // validate by round trip: never emit what we would refuse to parse
  const text = [String(a.tag), a.suite, a.keys.map(formatKey).join(';'), ...a.sessionParams].join(' ');
  parseCryptoAttribute(text);
  return text;
}

/** A fresh attribute with a random key and salt from the system CSPRNG. */
export function generateCryptoAttribute(
  tag: number,
  suite: Suite,
  options: { lifetime?: bigint; mki?: { value: bigint; length: number }; sessionParams?: string[] } = {},
): CryptoAttribute {
  const p = SUITES[suite];
  const key: SdesKey = { key: randomBytes(p.keyLength), salt: randomBytes(p.saltLength) };
  if (options.lifetime !== undefined) key.lifetime = options.lifetime;
  if (options.mki) key.mki = options.mki;
  const a: CryptoAttribute = { tag, suite, keys: [key], sessionParams: options.sessionParams ?? [] };
  formatCryptoAttribute(a);
  return a;
}

/** The MKI of a key as the bytes carried in packets (big-endian, its declared length). */
export function mkiBytes(mki: { value: bigint; length: number }): Buffer {
  const b = Buffer.alloc(mki.length);
  let v = mki.value;
  for (let i = mki.length - 1; i >= 0 && v > 0n; i--, v >>= 8n) b[i] = Number(v & 0xffn);
  return b;
}
