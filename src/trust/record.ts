/**
 * A CTL/ITL record from a certificate, in CUCM's tag order 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 (spec §1.3): the
 * pre-extracted fields (subject, issuer, serial, public key, the certificate's own signature) are taken from the
 * certificate itself so they are byte-identical to what a verifier extracts again.
 */
import { TrustError, TrustErrorCode } from './errors.js';
import { RecordTag, type Role } from './tags.js';
import { element, str, u16, type TlvElement } from './tlv.js';
import { certificateFields, type CertificateFields } from './cert-fields.js';
import type { SignerIdentity } from './build.js';

export interface RecordInput {
  /** The certificate, DER. */
  der: Buffer;
  role: Role;
  /** DNSNAME (tag 2): the server's host name; omitted when unknown. */
  dnsName?: string | undefined;
  /** IPADDRESS (tag 10): IPv4 dotted quad; omitted when unknown (tag 10 has no IPv6 form). */
  ipv4?: string | undefined;
}

export function ipv4Bytes(ip: string): Buffer {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new TrustError(TrustErrorCode.content, `"${ip}" is not an IPv4 address`);
  }
  return Buffer.from(parts.map(Number));
}

export function recordFromCertificate(input: RecordInput, fields: CertificateFields = certificateFields(input.der)): TlvElement[] {
  return [
    u16(RecordTag.recordLength, 0), // set when encoded
    ...(input.dnsName ? [str(RecordTag.dnsName, input.dnsName)] : []),
    str(RecordTag.subjectName, fields.subjectName),
    u16(RecordTag.role, input.role),
    str(RecordTag.issuerName, fields.issuerName),
    element(RecordTag.serialNumber, fields.serial),
    element(RecordTag.publicKey, fields.publicKey),
    element(RecordTag.signature, fields.signature),
    element(RecordTag.certificate, input.der),
    ...(input.ipv4 ? [element(RecordTag.ipAddress, ipv4Bytes(input.ipv4))] : []),
  ];
}

/**
 * The rollback ("Prepare Cluster for Rollback") form of a TVS or TFTP record: the role stays, the certificate
 * section is empty — no subject, issuer, serial, key or certificate (spec §1.7: "empty TVS and TFTP certificate
 * sections"; the exact CUCM bytes are not public).
 */
export function emptyRecord(role: Role): TlvElement[] {
  return [
    u16(RecordTag.recordLength, 0),
    str(RecordTag.subjectName, ''),
    u16(RecordTag.role, role),
    str(RecordTag.issuerName, ''),
    element(RecordTag.serialNumber, Buffer.alloc(0)),
  ];
}

/** How a header names a signer: the same strings and serial as its SAST record. */
export function signerIdentityOf(der: Buffer): SignerIdentity {
  const f = certificateFields(der);
  return { subjectName: f.subjectName, issuerName: f.issuerName, serial: f.serial };
}
