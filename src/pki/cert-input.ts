/** The forms in which PKI helpers accept a certificate: node's X509Certificate, DER bytes, or PEM text. */
import crypto from 'node:crypto';
import { PkiError, PkiErrorCode } from './errors.js';

export type CertInput = crypto.X509Certificate | Uint8Array | string;

export function certificateDer(cert: CertInput): Buffer {
  if (cert instanceof crypto.X509Certificate) return cert.raw;
  if (typeof cert === 'string') {
    try {
      return new crypto.X509Certificate(cert).raw;
    } catch (err) {
      throw new PkiError(PkiErrorCode.certParse, 'certificate is not a PEM X.509 certificate', { cause: err });
    }
  }
  return Buffer.from(cert.buffer, cert.byteOffset, cert.byteLength);
}
