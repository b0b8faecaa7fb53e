/**
 * X.509 v3 certificates (RFC 5280 §4.1). node-forge's ASN.1 layer assembles the TBSCertificate DER; the
 * subject's SubjectPublicKeyInfo is embedded byte for byte (forge's certificate API cannot hold EC keys, so it is
 * not used); node:crypto (OpenSSL) signs the TBS DER. Every certificate is parsed back by OpenSSL and its
 * signature verified against the issuer's key before it is returned.
 */
import crypto from 'node:crypto';
import forge from 'node-forge';
import { certificateNodes, whole } from './der.js';
import { PkiError, PkiErrorCode } from './errors.js';
import {
  bitString,
  buildExtensions,
  derOf,
  type ExtensionSpec,
  keyIdentifier,
  oid,
  sequence,
  subjectKeyIdentifierOf,
  universal,
} from './extensions.js';
import { parsePrivateKey, parsePublicKey } from './keys.js';
import { DnAttrOid, type DnAttrType, type HashName, hashNames, SignatureOid } from './oids.js';

const asn1 = forge.asn1;
type Asn1 = forge.asn1.Asn1;

export interface DnAttr {
  readonly type: DnAttrType;
  readonly value: string;
}

export interface CertificateOptions {
  /** Subject attributes in the order they are written, one attribute per RDN. */
  readonly subject: readonly DnAttr[];
  /** Issuer certificate and its private key; absent → self-signed by `signingKeyPem`. */
  readonly issuer?: { readonly certPem: string; readonly privateKeyPem: string };
  /** SubjectPublicKeyInfo of the subject, as DER or PEM; RSA or EC. */
  readonly subjectPublicKey: Uint8Array | string;
  /** The private key that signs when self-signed (it must match `subjectPublicKey`). */
  readonly signingKeyPem?: string;
  /** The serial as unsigned big-endian bytes (see `encodeSerial`). */
  readonly serial: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Default sha256. */
  readonly hash?: HashName;
  readonly extensions: ExtensionSpec;
}

export interface BuiltCertificate {
  readonly pem: string;
  readonly der: Buffer;
}

/** Upper bounds from RFC 5280 Appendix A.1 (ub-* values). */
const maxAttrLength: Record<DnAttrType, number> = { CN: 64, OU: 64, O: 64, L: 128, ST: 128, C: 2 };
/** RFC 5280 §4.1.2.2: conforming CAs use serials of at most 20 octets. */
export const maxSerialOctets = 20;

/**
 * A random positive serial of `bytes` octets (default 16, like CUCM's). The top bit is clear (positive without a
 * leading 00 in DER) and the next bit set (the DER INTEGER keeps all `bytes` octets): 8·bytes − 2 random bits.
 */
export function randomSerial(bytes = 16): Buffer {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > maxSerialOctets) {
    throw new PkiError(PkiErrorCode.serial, `serial length ${bytes} is outside 1..${maxSerialOctets} octets`);
  }
  const out = crypto.randomBytes(bytes);
  out[0] = (out[0]! & 0x3f) | 0x40;
  return out;
}

/**
 * The DER INTEGER content of an unsigned big-endian serial: leading zero octets dropped (X.690 §8.3.2), a 00
 * prepended when the top bit is set so the value stays positive (RFC 5280 §4.1.2.2).
 */
export function encodeSerial(serial: Uint8Array): Buffer {
  let i = 0;
  while (i < serial.length && serial[i] === 0) i++;
  const digits = Buffer.from(serial.subarray(i));
  if (digits.length === 0) throw new PkiError(PkiErrorCode.serial, 'serial must be a positive number, not zero or empty');
  const out = (digits[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.of(0), digits]) : digits;
  if (out.length > maxSerialOctets) {
    throw new PkiError(PkiErrorCode.serial, `serial takes ${out.length} octets in DER, more than ${maxSerialOctets}`);
  }
  return out;
}

export function assertDnAttr(attr: DnAttr): void {
  const max = maxAttrLength[attr.type];
  if (max === undefined) throw new PkiError(PkiErrorCode.dn, `unknown DN attribute type ${String(attr.type)}`);
  const v = attr.value;
  if (typeof v !== 'string' || v.length === 0) throw new PkiError(PkiErrorCode.dn, `${attr.type} must not be empty`);
  if ([...v].length > max) throw new PkiError(PkiErrorCode.dn, `${attr.type} is longer than ${max} characters`);
  // Control characters would corrupt the NUL-terminated DN strings of ITL/CTL records; ';' is their separator.
  if (/[\u0000-\u001f\u007f;]/.test(v)) {
    throw new PkiError(PkiErrorCode.dn, `${attr.type} ${JSON.stringify(v)} contains a control character or ';'`);
  }
  if (attr.type === 'C' && !/^[A-Z]{2}$/.test(v)) {
    throw new PkiError(PkiErrorCode.dn, `C must be a two-letter ISO 3166 code in capitals, not ${JSON.stringify(v)}`);
  }
}

/** RFC 5280 §4.1.2.4: countryName is a PrintableString (X.520); everything else a UTF8String. */
function encodeName(attrs: readonly DnAttr[]): Asn1 {
  if (attrs.length === 0) throw new PkiError(PkiErrorCode.dn, 'the subject needs at least one attribute');
  return sequence(
    attrs.map((attr) => {
      assertDnAttr(attr);
      const value =
        attr.type === 'C'
          ? universal(asn1.Type.PRINTABLESTRING, attr.value)
          : universal(asn1.Type.UTF8, Buffer.from(attr.value, 'utf8').toString('binary'));
      return universal(asn1.Type.SET, [sequence([oid(DnAttrOid[attr.type]), value])], true);
    }),
  );
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, always Zulu. */
function encodeTime(date: Date, what: string): Asn1 {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new PkiError(PkiErrorCode.validity, `${what} is not a valid date`);
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new PkiError(PkiErrorCode.validity, `${what} year ${year} is outside 1950..9999`);
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  return year < 2050 ? universal(asn1.Type.UTCTIME, digits.slice(2)) : universal(asn1.Type.GENERALIZEDTIME, digits);
}

/** Embeds DER produced elsewhere; forge must give back exactly the same bytes, or the certificate would lie. */
function embed(der: Buffer, what: string): Asn1 {
  // @types/node-forge lags: fromDer takes an options object; decodeBitStrings false keeps BIT STRINGs opaque.
  const fromDer = asn1.fromDer as unknown as (bytes: string, options: object) => Asn1;
  const node = fromDer(der.toString('binary'), { strict: true, parseAllBytes: true, decodeBitStrings: false });
  if (!derOf(node).equals(der)) throw new PkiError(PkiErrorCode.certParse, `${what} is not in DER form`);
  return node;
}

function assertHash(hash: string): asserts hash is HashName {
  if (!(hashNames as readonly string[]).includes(hash)) {
    throw new PkiError(PkiErrorCode.hash, `hash ${JSON.stringify(hash)} is not one of ${hashNames.join(', ')}`);
  }
}

function spkiDerOf(key: crypto.KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

export function parseCertificatePem(pem: string, what = 'certificate'): crypto.X509Certificate {
  try {
    return new crypto.X509Certificate(pem);
  } catch (err) {
    throw new PkiError(PkiErrorCode.certParse, `${what} is not a PEM X.509 certificate`, { cause: err });
  }
}

export function buildCertificate(opts: CertificateOptions): BuiltCertificate {
  const hash = opts.hash ?? 'sha256';
  assertHash(hash);
  const subjectKey = parsePublicKey(opts.subjectPublicKey);
  const subjectSpki = spkiDerOf(subjectKey);

  const notBeforeS = Math.floor(opts.notBefore.getTime() / 1000);
  const notAfterS = Math.floor(opts.notAfter.getTime() / 1000);
  if (!(notAfterS > notBeforeS)) throw new PkiError(PkiErrorCode.validity, 'notAfter must be later than notBefore');

  let signingPem: string;
  let issuerName: Buffer;
  let issuerKey: crypto.KeyObject;
  let authorityKeyId: Buffer | null = null;
  if (opts.issuer !== undefined) {
    const issuerCert = parseCertificatePem(opts.issuer.certPem, 'issuer certificate');
    if (opts.signingKeyPem !== undefined && opts.signingKeyPem !== opts.issuer.privateKeyPem) {
      throw new PkiError(PkiErrorCode.issuerMismatch, 'signingKeyPem differs from issuer.privateKeyPem');
    }
    signingPem = opts.issuer.privateKeyPem;
    const nodes = certificateNodes(issuerCert.raw);
    issuerName = Buffer.from(whole(nodes.der, nodes.subject)); // the issuer's subject, byte for byte
    issuerKey = issuerCert.publicKey;
    authorityKeyId = subjectKeyIdentifierOf(issuerCert.raw) ?? keyIdentifier(spkiDerOf(issuerKey));
  } else {
    if (opts.signingKeyPem === undefined) {
      throw new PkiError(PkiErrorCode.keyParse, 'a self-signed certificate needs signingKeyPem');
    }
    signingPem = opts.signingKeyPem;
    issuerName = derOf(encodeName(opts.subject));
    issuerKey = subjectKey;
  }
  const signingKey = parsePrivateKey(signingPem);
  if (!spkiDerOf(crypto.createPublicKey(signingKey)).equals(spkiDerOf(issuerKey))) {
    throw new PkiError(
      PkiErrorCode.issuerMismatch,
      opts.issuer !== undefined
        ? 'the signing key does not belong to the issuer certificate'
        : 'the signing key of a self-signed certificate must be the subject key',
    );
  }
  const keyType = signingKey.asymmetricKeyType === 'ec' ? 'ec' : 'rsa';
  // RFC 3279 §2.2.1 / RFC 4055 §5: RSA algorithm identifiers carry NULL parameters; RFC 5758 §3.2: ECDSA none.
  const sigAlgParts = [oid(SignatureOid[keyType][hash])];
  if (keyType === 'rsa') sigAlgParts.push(universal(asn1.Type.NULL, ''));
  const sigAlg = sequence(sigAlgParts);

  const serialContent = encodeSerial(opts.serial);
  const extensions = buildExtensions(opts.extensions, subjectSpki, authorityKeyId);
  const tbs = sequence([
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [universal(asn1.Type.INTEGER, '\x02')]), // v3
    universal(asn1.Type.INTEGER, serialContent.toString('binary')),
    sigAlg,
    embed(issuerName, 'issuer name'),
    sequence([encodeTime(new Date(notBeforeS * 1000), 'notBefore'), encodeTime(new Date(notAfterS * 1000), 'notAfter')]),
    encodeName(opts.subject),
    embed(subjectSpki, 'subjectPublicKeyInfo'),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [sequence(extensions)]),
  ]);
  const tbsDer = derOf(tbs);
  // RSA: PKCS#1 v1.5 (deterministic); EC: ECDSA with a DER Ecdsa-Sig-Value (RFC 5758 §3.2).
  const signature = crypto.sign(hash, tbsDer, signingKey);
  const der = derOf(sequence([tbs, sigAlg, bitString(signature)]));

  const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
  const check = parseCertificatePem(pem, 'built certificate');
  if (!check.verify(issuerKey)) {
    throw new PkiError(PkiErrorCode.certParse, 'internal: the built certificate does not verify with its issuer key');
  }
  return { pem, der };
}
