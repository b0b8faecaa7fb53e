/**
 * VERIFY_REQUEST and VERIFY_RESPONSE (spec cisco-trust-formats §3.1).
 *
 * Request (phone → TVS): DEVICE_NAME (1) = one lead byte 0x01 (meaning unknown; tvsd skips it) + ASCII
 * `CP-<model>-SEP<MAC12>`, no NUL; CERTIFICATE (2) = the DER certificate to verify.
 * Response (TVS → phone), in this order: STATUS (7) u8 0 valid / 1 invalid; ROLES (8) one role code per byte;
 * TTL (9) u32 seconds. An invalid answer carries STATUS only.
 */
import { TvsError, TvsErrorCode } from './errors.js';
import { decodeElements, encodeFrame, TvsCommand, TvsElementTag, type TvsElement, type TvsFrame } from './frame.js';

export const TvsStatus = { valid: 0, invalid: 1 } as const;
export type TvsStatus = (typeof TvsStatus)[keyof typeof TvsStatus];

/** DEVICE_NAME's lead byte as phones and tvsc send it. */
export const DEVICE_NAME_LEAD_BYTE = 0x01;
/** TTL range tvsctl accepts (spec §3.1). */
export const TTL_MIN_SECONDS = 1;
export const TTL_MAX_SECONDS = 2592000;

/** `CP-<model>-SEP<MAC>`; models are digits on most phones, letters appear on a few (e.g. CP-7975G). */
const deviceNamePattern = /^CP-[0-9A-Za-z]{1,16}-SEP[0-9A-Fa-f]{12}$/;
const maxDeviceNameChars = 40;

export interface VerifyRequest {
  sessionId: number;
  /** `CP-8845-SEP001122334455`, without the lead byte. */
  deviceName: string;
  /** The lead byte as received (0x01 from every known sender). */
  deviceNameLeadByte: number;
  certificate: Buffer;
}

export type VerifyResponse =
  | { sessionId: number; status: typeof TvsStatus.valid; roles: number[]; ttl: number }
  | { sessionId: number; status: typeof TvsStatus.invalid };

export function isDeviceName(name: string): boolean {
  return deviceNamePattern.test(name);
}

function single(elements: readonly TvsElement[], tag: number, what: string): TvsElement | undefined {
  const hits = elements.filter((e) => e.tag === tag);
  if (hits.length > 1) throw new TvsError(TvsErrorCode.element, `${what} (element ${tag}) appears ${hits.length} times`);
  return hits[0];
}

/** Parses a VERIFY_REQUEST frame. Unknown element tags are skipped (later phones may add some). */
export function parseVerifyRequest(frame: TvsFrame): VerifyRequest {
  if (frame.header.command !== TvsCommand.verifyRequest) {
    throw new TvsError(TvsErrorCode.command, `command ${frame.header.command} is not VERIFY_REQUEST (${TvsCommand.verifyRequest})`);
  }
  const elements = decodeElements(frame.body);
  const dn = single(elements, TvsElementTag.deviceName, 'DEVICE_NAME');
  if (!dn || dn.value.length < 2) throw new TvsError(TvsErrorCode.deviceName, 'VERIFY_REQUEST has no DEVICE_NAME');
  const text = dn.value.subarray(1).toString('latin1');
  if (text.length > maxDeviceNameChars || !isDeviceName(text)) {
    throw new TvsError(
      TvsErrorCode.deviceName,
      `DEVICE_NAME ${JSON.stringify(text.slice(0, maxDeviceNameChars))} is not CP-<model>-SEP<MAC>`,
    );
  }
  const cert = single(elements, TvsElementTag.certificate, 'CERTIFICATE');
  if (!cert || cert.value.length === 0) throw new TvsError(TvsErrorCode.certificate, 'VERIFY_REQUEST has no CERTIFICATE');
  return { sessionId: frame.header.sessionId, deviceName: text, deviceNameLeadByte: dn.value[0]!, certificate: Buffer.from(cert.value) };
}

export function buildVerifyRequest(req: { sessionId: number; deviceName: string; certificate: Uint8Array }): Buffer {
  if (!isDeviceName(req.deviceName))
    throw new TvsError(TvsErrorCode.deviceName, `device name ${JSON.stringify(req.deviceName)} is not CP-<model>-SEP<MAC>`, {
      remote: false,
    });
  if (req.certificate.length === 0) throw new TvsError(TvsErrorCode.certificate, 'the certificate to verify is empty', { remote: false });
  return encodeFrame(TvsCommand.verifyRequest, req.sessionId, [
    { tag: TvsElementTag.deviceName, value: Buffer.concat([Buffer.of(DEVICE_NAME_LEAD_BYTE), Buffer.from(req.deviceName, 'latin1')]) },
    { tag: TvsElementTag.certificate, value: Buffer.from(req.certificate) },
  ]);
}

export function assertTtl(ttl: number): void {
  if (!Number.isInteger(ttl) || ttl < TTL_MIN_SECONDS || ttl > TTL_MAX_SECONDS) {
    throw new TvsError(TvsErrorCode.argument, `TTL must be ${TTL_MIN_SECONDS}..${TTL_MAX_SECONDS} seconds, got ${ttl}`, { remote: false });
  }
}

export function buildVerifyResponse(res: VerifyResponse): Buffer {
  if (res.status === TvsStatus.invalid) {
    return encodeFrame(TvsCommand.verifyResponse, res.sessionId, [{ tag: TvsElementTag.status, value: Buffer.of(TvsStatus.invalid) }]);
  }
  assertTtl(res.ttl);
  if (res.roles.length === 0 || res.roles.some((r) => !Number.isInteger(r) || r < 0 || r > 0xff)) {
    throw new TvsError(TvsErrorCode.argument, `a valid answer needs one or more role codes 0..255, got [${res.roles.join(', ')}]`, {
      remote: false,
    });
  }
  const ttl = Buffer.alloc(4);
  ttl.writeUInt32BE(res.ttl);
  return encodeFrame(TvsCommand.verifyResponse, res.sessionId, [
    { tag: TvsElementTag.status, value: Buffer.of(TvsStatus.valid) },
    { tag: TvsElementTag.roles, value: Buffer.from(res.roles) },
    { tag: TvsElementTag.ttl, value: ttl },
  ]);
}

/** Parses a VERIFY_RESPONSE (client side). A valid answer without ROLES or TTL is malformed. */
export function parseVerifyResponse(frame: TvsFrame): VerifyResponse {
  if (frame.header.command !== TvsCommand.verifyResponse) {
    throw new TvsError(TvsErrorCode.command, `command ${frame.header.command} is not VERIFY_RESPONSE (${TvsCommand.verifyResponse})`);
  }
  const elements = decodeElements(frame.body);
  const status = single(elements, TvsElementTag.status, 'STATUS');
  if (status?.value.length !== 1) throw new TvsError(TvsErrorCode.element, 'VERIFY_RESPONSE needs a 1-byte STATUS');
  const sessionId = frame.header.sessionId;
  if (status.value[0] === TvsStatus.invalid) return { sessionId, status: TvsStatus.invalid };
  if (status.value[0] !== TvsStatus.valid)
    throw new TvsError(TvsErrorCode.element, `STATUS ${status.value[0]} is neither valid (0) nor invalid (1)`);
  const roles = single(elements, TvsElementTag.roles, 'ROLES');
  const ttl = single(elements, TvsElementTag.ttl, 'TTL');
  if (!roles || roles.value.length === 0) throw new TvsError(TvsErrorCode.element, 'a valid VERIFY_RESPONSE has no ROLES');
  if (ttl?.value.length !== 4) throw new TvsError(TvsErrorCode.element, 'a valid VERIFY_RESPONSE needs a 4-byte TTL');
  return { sessionId, status: TvsStatus.valid, roles: Array.from(roles.value), ttl: ttl.value.readUInt32BE(0) };
}
