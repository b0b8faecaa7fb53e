/**
 * The fields a CTL/ITL record and a file header copy out of a certificate (spec §1.2, §1.3), via src/pki's DER
 * helpers. Serial rule: the minimal unsigned big-endian bytes (DER's sign-padding 00 dropped). certutils writes it
 * so (the vector's APP-SERVER record 3), and CUCM's TVS log shows a high-bit serial with length 10, i.e. also
 * without the 00; for serials with the top bit clear (every CUCM vector serial and every serial sbd makes) it is
 * simply the DER content.
 */
import { certificateSignatureValue, cuCmDnString, publicKeyPkcs1Der, serialBytes } from '../pki/dn.js';
import { TrustError, TrustErrorCode } from './errors.js';

export interface CertificateFields {
  subjectName: string;
  issuerName: string;
  serial: Buffer;
  publicKey: Buffer;
  signature: Buffer;
}

export function minimalUnsigned(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

export function certificateFields(der: Buffer): CertificateFields {
  try {
    return {
      subjectName: cuCmDnString(der, 'subject'),
      issuerName: cuCmDnString(der, 'issuer'),
      serial: minimalUnsigned(serialBytes(der)),
      publicKey: publicKeyPkcs1Der(der),
      signature: certificateSignatureValue(der),
    };
  } catch (err) {
    throw new TrustError(TrustErrorCode.content, `cannot take ITL record fields from this certificate: ${(err as Error).message}`);
  }
}
