/**
 * The byte fields an ITL/CTL record copies out of its certificate (spec cisco-trust-formats §1.3):
 * tag 6 serial, tag 7 public key, tag 8 signature. Reproduced byte for byte from tag 9 on the CUCM 10 CTL
 * (test/pki/cucm-vector.test.ts).
 */
import crypto from 'node:crypto';
import { type CertInput, certificateDer } from './cert-input.js';
import { certificateNodes, children, content, decodeOid, DerTag, expectTag, whole } from './der.js';
import { PkiError, PkiErrorCode } from './errors.js';
import { PublicKeyOid } from './oids.js';

/**
 * Record tag 6: the serial's DER INTEGER content octets exactly as the certificate has them — with the leading 00
 * DER adds when the top bit is set. Every serial in the CUCM vector has its top bit clear, so this and the
 * "minimal unsigned" reading coincide there; sbd's own serials (randomSerial) always have the top bit clear, so
 * they coincide for every certificate sbd makes too.
 */
export function serialBytes(cert: CertInput): Buffer {
  const nodes = certificateNodes(certificateDer(cert));
  return Buffer.from(content(nodes.der, nodes.serial));
}

/** The subjectPublicKey BIT STRING value of a SubjectPublicKeyInfo, with its algorithm OID. */
function subjectPublicKey(buf: Buffer, spkiNode: ReturnType<typeof certificateNodes>['subjectPublicKeyInfo']) {
  const [algorithm, key] = children(buf, spkiNode);
  const algOid = expectTag(children(buf, expectTag(algorithm, DerTag.sequence, 'algorithm'))[0], DerTag.oid, 'algorithm OID');
  const bits = content(buf, expectTag(key, DerTag.bitString, 'subjectPublicKey'));
  if (bits.length < 1 || bits[0] !== 0) {
    throw new PkiError(PkiErrorCode.certParse, 'subjectPublicKey BIT STRING is empty or not octet-aligned');
  }
  return { algorithm: decodeOid(content(buf, algOid)), value: Buffer.from(bits.subarray(1)) };
}

/**
 * Record tag 7. RSA: the PKCS#1 RSAPublicKey DER (RFC 8017 §A.1.1), which is exactly the SPKI BIT STRING value
 * (RFC 3279 §2.3.1). EC: the X9.62 uncompressed point `04‖X‖Y` (what certutils writes; a compressed point in the
 * certificate is expanded).
 */
export function publicKeyPkcs1Der(cert: CertInput): Buffer {
  const nodes = certificateNodes(certificateDer(cert));
  const { algorithm, value } = subjectPublicKey(nodes.der, nodes.subjectPublicKeyInfo);
  if (algorithm === PublicKeyOid.rsaEncryption) return value;
  if (algorithm === PublicKeyOid.ecPublicKey) {
    if (value[0] === 0x04) return value;
    let jwk: crypto.JsonWebKey;
    try {
      jwk = crypto
        .createPublicKey({ key: whole(nodes.der, nodes.subjectPublicKeyInfo), format: 'der', type: 'spki' })
        .export({ format: 'jwk' });
    } catch (err) {
      throw new PkiError(PkiErrorCode.certParse, 'EC public key cannot be read', { cause: err });
    }
    return Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  }
  throw new PkiError(PkiErrorCode.certParse, `public key algorithm ${algorithm} is neither RSA nor EC`);
}

/** Record tag 8: the certificate's own signatureValue (RFC 5280 §4.1.1.3) without the unused-bits octet. */
export function certificateSignatureValue(cert: CertInput): Buffer {
  const nodes = certificateNodes(certificateDer(cert));
  const bits = content(nodes.der, nodes.signatureValue);
  if (bits.length < 1 || bits[0] !== 0) {
    throw new PkiError(PkiErrorCode.certParse, 'signatureValue BIT STRING is empty or not octet-aligned');
  }
  return Buffer.from(bits.subarray(1));
}
