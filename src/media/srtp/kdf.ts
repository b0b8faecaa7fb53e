/**
 * The SRTP key derivation function (RFC 3711 §4.3.1, key_derivation_rate 0) exposed for test vectors and
 * tools; contexts derive their keys natively at creation. Labels: RFC 3711 §4.3.2.
 */
import { srtpNative } from './native.js';
import { BACKENDS, type Backend } from './context.js';
import { MediaErrorCode } from '../errors.js';
import { SrtpError, srtpErrorFromNative } from './errors.js';

export const KDF_LABELS = {
  rtpEncryption: 0x00,
  rtpAuthentication: 0x01,
  rtpSalt: 0x02,
  rtcpEncryption: 0x03,
  rtcpAuthentication: 0x04,
  rtcpSalt: 0x05,
} as const;

export function deriveSessionKey(
  masterKey: Uint8Array,
  masterSalt: Uint8Array,
  label: number,
  length: number,
  backend: Backend = 'openssl',
): Buffer {
  if (![16, 24, 32].includes(masterKey.length))
    throw new SrtpError(MediaErrorCode.srtpKeyLength, `master key must be 16, 24 or 32 bytes, got ${masterKey.length}`);
  if (masterSalt.length > 14)
    throw new SrtpError(MediaErrorCode.srtpKeyLength, `master salt must be at most 14 bytes, got ${masterSalt.length}`);
  const out = Buffer.alloc(length);
  const rc = srtpNative().kdf(
    BACKENDS[backend],
    Buffer.from(masterKey),
    masterKey.length,
    Buffer.from(masterSalt),
    masterSalt.length,
    label,
    out,
    length,
  );
  if (rc < 0) throw srtpErrorFromNative(rc, 'key derivation');
  return out;
}
