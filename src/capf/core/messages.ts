/**
 * CAPF messages as typed objects (spec §3.2 element table) and back. One decoder and one encoder serve both sides;
 * which elements a command must carry is the session state machines' business.
 *
 * Encodings: REASON, VERSION, AUTH_TYPE, CERTIFICATE_TYPE, KEY_TYPE, CURVE u8; KEY_SIZE u16; DEVICE_NAME and
 * PASSWORD NUL-terminated text; CERTIFICATE = `u8 1, u16 (len+2), u8 0, u8 cert_type` + DER (receivers skip the
 * 5 wrapper bytes); SHA2_SIGNED_DATA = `u8 hash, u16 len, signature`; PUBLIC_KEY DER SubjectPublicKeyInfo.
 */
import { CapfError, CapfErrorCode, localError } from './errors.js';
import { CapfElementTag as T, decodeElements, encodeFrame, type CapfElement, type CapfFrame } from './frame.js';

export interface CapfMessage {
  command: number;
  sessionId: number;
  reason?: number;
  certificateType?: number;
  version?: number;
  authType?: number;
  keyType?: number;
  keySize?: number;
  curve?: number;
  deviceName?: string;
  password?: string;
  certificate?: { type: number; der: Buffer };
  signedData?: Buffer;
  sha2SignedData?: { hash: number; signature: Buffer };
  sudiData?: Buffer;
  publicKey?: Buffer;
}

/** Bounds on text elements: device names are SEP + 12 hex digits, CUCM auth strings 4 to 10 digits. */
export const CAPF_TEXT_LIMITS = { maxDeviceNameBytes: 64, maxPasswordBytes: 64 } as const;

const u8 = (v: number) => Buffer.of(v & 0xff);
const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const nul = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.of(0)]);

export function wrapCertificate(der: Buffer, type: number): Buffer {
  const head = Buffer.alloc(5);
  head[0] = 1;
  head.writeUInt16BE(der.length + 2, 1);
  head[3] = 0;
  head[4] = type;
  return Buffer.concat([head, der]);
}

export function encodeSha2SignedData(hash: number, signature: Buffer): Buffer {
  return Buffer.concat([u8(hash), u16(signature.length), signature]);
}

function checkByte(name: string, v: number, max = 0xff): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw localError(CapfErrorCode.argument, `${name} ${v} is out of range 0..${max}`);
}

export function encodeMessage(m: CapfMessage): Buffer {
  const e: CapfElement[] = [];
  const add = (tag: number, value: Buffer) => e.push({ tag, value });
  for (const [name, v] of [
    ['reason', m.reason],
    ['certificateType', m.certificateType],
    ['version', m.version],
    ['authType', m.authType],
    ['keyType', m.keyType],
    ['curve', m.curve],
  ] as const) {
    if (v !== undefined) checkByte(name, v);
  }
  if (m.keySize !== undefined) checkByte('keySize', m.keySize, 0xffff);
  if (m.reason !== undefined) add(T.reason, u8(m.reason));
  if (m.certificateType !== undefined) add(T.certificateType, u8(m.certificateType));
  if (m.version !== undefined) add(T.version, u8(m.version));
  if (m.authType !== undefined) add(T.authType, u8(m.authType));
  if (m.keyType !== undefined) add(T.keyType, u8(m.keyType));
  if (m.keySize !== undefined) add(T.keySize, u16(m.keySize));
  if (m.curve !== undefined) add(T.curve, u8(m.curve));
  if (m.deviceName !== undefined) add(T.deviceName, nul(m.deviceName));
  if (m.password !== undefined) add(T.password, nul(m.password));
  if (m.certificate !== undefined) add(T.certificate, wrapCertificate(m.certificate.der, m.certificate.type));
  if (m.signedData !== undefined) add(T.signedData, m.signedData);
  if (m.sha2SignedData !== undefined) add(T.sha2SignedData, encodeSha2SignedData(m.sha2SignedData.hash, m.sha2SignedData.signature));
  if (m.sudiData !== undefined) add(T.sudiData, m.sudiData);
  if (m.publicKey !== undefined) add(T.publicKey, m.publicKey);
  return encodeFrame(m.command, m.sessionId, e);
}

function bad(message: string): CapfError {
  return new CapfError(CapfErrorCode.element, message);
}

function fixed(v: Buffer, n: number, name: string): Buffer {
  if (v.length !== n) throw bad(`${name} must be ${n} byte${n === 1 ? '' : 's'}, got ${v.length}`);
  return v;
}

function text(v: Buffer, name: string, max: number): string {
  // NUL-terminated on the wire; a missing NUL is tolerated, an embedded one is not.
  const body = v.length > 0 && v[v.length - 1] === 0 ? v.subarray(0, -1) : v;
  if (body.length > max) throw bad(`${name} is ${body.length} bytes; the limit is ${max}`);
  if (body.includes(0)) throw bad(`${name} has a NUL inside`);
  return body.toString('utf8');
}

export function unwrapCertificate(v: Buffer): { type: number; der: Buffer } {
  if (v.length < 6) throw bad(`CERTIFICATE of ${v.length} bytes is shorter than its 5-byte wrapper plus a certificate`);
  return { type: v[4]!, der: Buffer.from(v.subarray(5)) };
}

export function decodeSha2SignedData(v: Buffer): { hash: number; signature: Buffer } {
  if (v.length < 3) throw bad('SHA2_SIGNED_DATA is shorter than its 3-byte prefix');
  const len = v.readUInt16BE(1);
  if (len !== v.length - 3 || len === 0) throw bad(`SHA2_SIGNED_DATA announces ${len} signature bytes, carries ${v.length - 3}`);
  return { hash: v[0]!, signature: Buffer.from(v.subarray(3)) };
}

/** Decodes a frame's elements into a message. Unknown tags are skipped; a repeated known tag is an error. */
export function decodeMessage(frame: CapfFrame): CapfMessage {
  const m: CapfMessage = { command: frame.header.command, sessionId: frame.header.sessionId };
  const seen = new Set<number>();
  for (const { tag, value } of decodeElements(frame.body)) {
    if (seen.has(tag)) throw bad(`element ${tag} appears more than once`);
    seen.add(tag);
    switch (tag) {
      case T.reason:
        m.reason = fixed(value, 1, 'REASON')[0]!;
        break;
      case T.certificateType:
        m.certificateType = fixed(value, 1, 'CERTIFICATE_TYPE')[0]!;
        break;
      case T.version:
        m.version = fixed(value, 1, 'VERSION')[0]!;
        break;
      case T.authType:
        m.authType = fixed(value, 1, 'AUTH_TYPE')[0]!;
        break;
      case T.keyType:
        m.keyType = fixed(value, 1, 'KEY_TYPE')[0]!;
        break;
      case T.keySize:
        m.keySize = fixed(value, 2, 'KEY_SIZE').readUInt16BE(0);
        break;
      case T.curve:
        m.curve = fixed(value, 1, 'CURVE')[0]!;
        break;
      case T.deviceName:
        m.deviceName = text(value, 'DEVICE_NAME', CAPF_TEXT_LIMITS.maxDeviceNameBytes);
        break;
      case T.password:
        m.password = text(value, 'PASSWORD', CAPF_TEXT_LIMITS.maxPasswordBytes);
        break;
      case T.certificate:
        m.certificate = unwrapCertificate(value);
        break;
      case T.signedData:
        m.signedData = Buffer.from(value);
        break;
      case T.sha2SignedData:
        m.sha2SignedData = decodeSha2SignedData(value);
        break;
      case T.sudiData:
        m.sudiData = Buffer.from(value);
        break;
      case T.publicKey:
        m.publicKey = Buffer.from(value);
        break;
      default:
        break; // REASON_INFO, CERTIFICATE_ID, RETRY_DELAY, DIGEST_TYPE and unknown tags carry nothing we act on
    }
  }
  return m;
}
