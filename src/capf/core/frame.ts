/**
 * CAPF frames (spec cisco-trust-formats §3.2): an 8-byte big-endian header, then elements `tag u8, len u16, value`.
 *
 *   offset 0  u8   protocol id = 85
 *          1  u8   command
 *          2  u32  session id: the server picks it per connection, the phone echoes it
 *          6  u16  body length
 */
import { CapfError, CapfErrorCode, localError } from './errors.js';

export const CAPF_PROTOCOL_ID = 85;
/** VERSION element value of the protocol generation phones speak today (SHA-2, EC keys). */
export const CAPF_PROTOCOL_VERSION = 3;
export const CAPF_HEADER_BYTES = 8;
export const CAPF_MAX_BODY_BYTES = 0xffff;

export const CapfCommand = {
  authRequest: 1,
  authResponse: 2,
  keyGenerateRequest: 3,
  keyGenerateResponse: 4,
  encryptResponse: 5,
  encryptRequest: 6,
  decryptRequest: 7,
  decryptResponse: 8,
  storeCertificateRequest: 9,
  storeCertificateResponse: 10,
  fetchCertificateRequest: 11,
  fetchCertificateResponse: 12,
  deleteCertificateRequest: 13,
  deleteCertificateResponse: 14,
  endSession: 15,
  retryLater: 16,
  requestInProgress: 17,
  statusRequest: 18,
  statusResponse: 19,
  abortRequest: 20,
  abortResponse: 21,
  signCertificateRequest: 22,
  signCertificateResponse: 23,
} as const;

export const capfCommandNames: Record<number, string> = Object.fromEntries(
  Object.entries(CapfCommand).map(([k, v]) => [v, k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()]),
);
export function commandName(command: number): string {
  return capfCommandNames[command] ?? `UNKNOWN(${command})`;
}

export const CapfElementTag = {
  reason: 1,
  reasonInfo: 2,
  certificateType: 3,
  certificate: 4,
  certificateId: 5,
  signedData: 6,
  version: 7,
  authType: 8,
  publicKey: 9,
  keySize: 10,
  password: 11,
  retryDelay: 12,
  deviceName: 13,
  sudiData: 16,
  keyType: 17,
  curve: 18,
  digestType: 19,
  sha2SignedData: 20,
} as const;

/** REASON codes (spec §3.2). */
export const CapfReason = { noAction: 0, updateCertificate: 1, invalidElement: 7, unknownDevice: 9 } as const;
/** AUTH_TYPE codes. */
export const CapfAuthType = { none: 0, password: 1, noPassword: 2, lsc: 3, mic: 4 } as const;
export const CapfCertificateType = { lsc: 1, mic: 2 } as const;
export const CapfKeyType = { rsa: 0, ec: 1 } as const;
/** CURVE codes and the node:crypto / OpenSSL names. */
export const CapfCurve = { 'P-256': 0, 'P-384': 1, 'P-521': 2 } as const;
/** SHA2_SIGNED_DATA hash codes (same table as the trust files' tag 8). */
export const CapfHash = { sha1: 1, sha256: 2, sha512: 3 } as const;

export interface CapfHeader {
  command: number;
  sessionId: number;
  bodyLength: number;
}
export interface CapfElement {
  tag: number;
  value: Buffer;
}
export interface CapfFrame {
  header: CapfHeader;
  body: Buffer;
}

export function checkHeaderPrefix(bytes: Buffer): void {
  if (bytes.length > 0 && bytes[0] !== CAPF_PROTOCOL_ID)
    throw new CapfError(CapfErrorCode.protocolId, `protocol id ${bytes[0]} is not CAPF (${CAPF_PROTOCOL_ID})`);
}

export function decodeHeader(bytes: Buffer): CapfHeader {
  checkHeaderPrefix(bytes);
  if (bytes.length < CAPF_HEADER_BYTES)
    throw new CapfError(CapfErrorCode.truncated, `a CAPF header is ${CAPF_HEADER_BYTES} bytes, got ${bytes.length}`);
  return { command: bytes[1]!, sessionId: bytes.readUInt32BE(2), bodyLength: bytes.readUInt16BE(6) };
}

export function decodeElements(body: Buffer): CapfElement[] {
  const out: CapfElement[] = [];
  let i = 0;
  while (i < body.length) {
    if (body.length - i < 3) throw new CapfError(CapfErrorCode.truncated, `element header at body offset ${i} is cut short`);
    const tag = body[i]!;
    const len = body.readUInt16BE(i + 1);
    i += 3;
    if (body.length - i < len)
      throw new CapfError(
        CapfErrorCode.truncated,
        `element ${tag} at body offset ${i - 3} announces ${len} bytes, ${body.length - i} left`,
      );
    out.push({ tag, value: body.subarray(i, i + len) });
    i += len;
  }
  return out;
}

/** Header and body as one buffer: the phone stalls when they arrive in separate writes (spec §3.2). */
export function encodeFrame(command: number, sessionId: number, elements: readonly CapfElement[]): Buffer {
  if (!Number.isInteger(command) || command < 0 || command > 0xff)
    throw localError(CapfErrorCode.argument, `command ${command} is not a byte`);
  if (!Number.isInteger(sessionId) || sessionId < 0 || sessionId > 0xffffffff)
    throw localError(CapfErrorCode.argument, `session id ${sessionId} is not a u32`);
  const bodyLength = elements.reduce((n, e) => n + 3 + e.value.length, 0);
  if (bodyLength > CAPF_MAX_BODY_BYTES)
    throw localError(CapfErrorCode.argument, `body of ${bodyLength} bytes exceeds ${CAPF_MAX_BODY_BYTES}`);
  const out = Buffer.allocUnsafe(CAPF_HEADER_BYTES + bodyLength);
  out[0] = CAPF_PROTOCOL_ID;
  out[1] = command;
  out.writeUInt32BE(sessionId, 2);
  out.writeUInt16BE(bodyLength, 6);
  let i = CAPF_HEADER_BYTES;
  for (const e of elements) {
    if (e.value.length > CAPF_MAX_BODY_BYTES) throw localError(CapfErrorCode.argument, `element ${e.tag} is too long`);
    out[i] = e.tag;
    out.writeUInt16BE(e.value.length, i + 1);
    e.value.copy(out, i + 3);
    i += 3 + e.value.length;
  }
  return out;
}
