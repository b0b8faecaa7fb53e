/**
 * PKCS#12 (RFC 7292) export of an identity for `file get tftp ITLRecovery.p12`, and import. Export, through
 * node-forge: the key in a pkcs8ShroudedKeyBag under PBES2 (RFC 8018 §6.2) with PBKDF2-HMAC-SHA-256 and
 * AES-256-CBC, the certificate in a plain SafeContents, an HMAC-SHA-1 MAC over the whole (forge's only MAC).
 * OpenSSL 3's default provider reads all of this: `openssl pkcs12 -info` needs no `-legacy` (3DES/RC2 would).
 * node-forge encodes RSA keys only, so EC identities cannot be exported. Passwords are printable ASCII: PKCS#12's
 * MAC key derivation uses the BMPString of the password while PBES2 uses its bytes, and forge and OpenSSL only
 * agree on both for ASCII.
 */
import crypto from 'node:crypto';
import forge from 'node-forge';
import { PkiError, PkiErrorCode } from './errors.js';
import { parsePrivateKey } from './keys.js';

export interface Pkcs12ExportOptions {
  readonly certPem: string;
  readonly privateKeyPem: string;
  readonly password: string;
  /** The friendlyName bag attribute (RFC 7292 §4.2, PKCS#9): what importers show, e.g. `ITLRecovery`. */
  readonly friendlyName: string;
  /** PBKDF2 and MAC iteration count. Default 2048 (OpenSSL 3's PKCS12_DEFAULT_ITER). */
  readonly iterations?: number;
}

export interface Pkcs12ImportOptions {
  /** Largest PKCS#12 file accepted. Default 256 KiB. */
  readonly maxPkcs12Bytes?: number;
}

export const defaultPkcs12Iterations = 2048;
export const defaultMaxPkcs12Bytes = 256 * 1024;
/** Password bounds: printable ASCII, 1..maxPasswordLength characters. */
export const maxPasswordLength = 1024;

function assertPassword(password: string): void {
  if (typeof password !== 'string' || password.length === 0 || password.length > maxPasswordLength || !/^[\x20-\x7e]+$/.test(password)) {
    throw new PkiError(PkiErrorCode.pkcs12Password, `PKCS#12 password must be 1..${maxPasswordLength} printable ASCII characters`);
  }
}

export function exportPkcs12(opts: Pkcs12ExportOptions): Buffer {
  assertPassword(opts.password);
  const iterations = opts.iterations ?? defaultPkcs12Iterations;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 10_000_000) {
    throw new PkiError(PkiErrorCode.pkcs12Format, `iterations ${String(iterations)} is outside 1..10000000`);
  }
  const nodeKey = parsePrivateKey(opts.privateKeyPem);
  let x509: crypto.X509Certificate;
  try {
    x509 = new crypto.X509Certificate(opts.certPem);
  } catch (err) {
    throw new PkiError(PkiErrorCode.certParse, 'certificate is not a PEM X.509 certificate', { cause: err });
  }
  if (nodeKey.asymmetricKeyType !== 'rsa' || x509.publicKey.asymmetricKeyType !== 'rsa') {
    throw new PkiError(PkiErrorCode.pkcs12KeyType, 'PKCS#12 export supports RSA identities only');
  }
  if (!x509.checkPrivateKey(nodeKey)) {
    throw new PkiError(PkiErrorCode.issuerMismatch, 'the private key does not belong to the certificate');
  }
  const key = forge.pki.privateKeyFromPem(nodeKey.export({ type: 'pkcs1', format: 'pem' }) as string);
  const cert = forge.pki.certificateFromPem(x509.toString());
  const p12Options = {
    algorithm: 'aes256' as const,
    count: iterations,
    friendlyName: opts.friendlyName,
    generateLocalKeyId: true,
    // Passed through to PBES2 (forge's pbe.js); the typings do not list it.
    prfAlgorithm: 'sha256',
  };
  const p12 = forge.pkcs12.toPkcs12Asn1(key, cert, opts.password, p12Options);
  const der = Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary');
  // forge re-serialises the certificate from its parsed form: make sure it is still the same certificate.
  const back = importPkcs12(der, opts.password);
  if (!new crypto.X509Certificate(back.certPem).raw.equals(x509.raw)) {
    throw new PkiError(PkiErrorCode.pkcs12Format, 'internal: the exported certificate differs from the input');
  }
  return der;
}

export interface Pkcs12Contents {
  readonly certPem: string;
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
  readonly friendlyName: string | undefined;
}

const looksLikeWrongPassword = /Invalid password|wrong password|Unable to decrypt/i;

export function importPkcs12(der: Uint8Array, password: string, options: Pkcs12ImportOptions = {}): Pkcs12Contents {
  const max = options.maxPkcs12Bytes ?? defaultMaxPkcs12Bytes;
  if (der.length > max) throw new PkiError(PkiErrorCode.pkcs12Format, `PKCS#12 file is ${der.length} bytes, more than ${max}`);
  assertPassword(password);
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(Buffer.from(der).toString('binary'), true);
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, true, password);
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    if (looksLikeWrongPassword.test(message)) {
      throw new PkiError(PkiErrorCode.pkcs12Password, 'PKCS#12 password is wrong (the MAC does not verify)', { cause: err });
    }
    throw new PkiError(PkiErrorCode.pkcs12Format, `not a PKCS#12 file forge can read: ${message}`, { cause: err });
  }
  const certBags = p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!] ?? [];
  const keyBags = [
    ...(p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[forge.pki.oids.pkcs8ShroudedKeyBag!] ?? []),
    ...(p12.getBags({ bagType: forge.pki.oids.keyBag! })[forge.pki.oids.keyBag!] ?? []),
  ];
  if (certBags.length !== 1 || keyBags.length !== 1) {
    throw new PkiError(
      PkiErrorCode.pkcs12Format,
      `PKCS#12 file holds ${certBags.length} certificates and ${keyBags.length} keys; expected one of each`,
    );
  }
  const certBag = certBags[0]!;
  const keyBag = keyBags[0]!;
  let x509: crypto.X509Certificate;
  let privateKey: crypto.KeyObject;
  try {
    // forge leaves `cert` null (and keeps `asn1`) for certificates and keys it cannot model, e.g. EC ones.
    const certDer =
      certBag.cert !== null && certBag.cert !== undefined
        ? forge.asn1.toDer(forge.pki.certificateToAsn1(certBag.cert)).getBytes()
        : forge.asn1.toDer(certBag.asn1!).getBytes();
    x509 = new crypto.X509Certificate(Buffer.from(certDer, 'binary'));
    const keyDer =
      keyBag.key !== null && keyBag.key !== undefined
        ? forge.asn1.toDer(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keyBag.key))).getBytes()
        : forge.asn1.toDer(keyBag.asn1!).getBytes();
    privateKey = crypto.createPrivateKey({ key: Buffer.from(keyDer, 'binary'), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new PkiError(PkiErrorCode.pkcs12Format, 'PKCS#12 certificate or key cannot be read', { cause: err });
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new PkiError(PkiErrorCode.pkcs12Format, 'PKCS#12 key does not belong to its certificate');
  }
  const names = certBag.attributes?.friendlyName ?? keyBag.attributes?.friendlyName;
  return {
    certPem: x509.toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    friendlyName: Array.isArray(names) && typeof names[0] === 'string' ? names[0] : undefined,
  };
}
