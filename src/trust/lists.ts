/**
 * The ITL and CTL record sets and their signed files, from plain inputs (the store-facing collector lives in
 * trust-inputs.ts). DESIGN §2 fixes the ITL content: ITLRecovery as SAST (it signs the ITL); each TFTP server's
 * CallManager certificate twice (TFTP or CCM+TFTP to authenticate configs, SAST to authenticate the ITL); every TVS;
 * the CAPF certificate. The tokenless CTL (mixed mode) follows the CUCM 10 vector: the publisher's CallManager as
 * SAST (it signs), CCM+TFTP for every CallManager/TFTP node, CAPF, ITLRecovery as SAST.
 */
import { buildSignedFile, type Signer } from './build.js';
import { TrustError, TrustErrorCode } from './errors.js';
import { emptyRecord, recordFromCertificate, type RecordInput } from './record.js';
import { Role, type HashName } from './tags.js';
import { encodedLength, type TlvElement } from './tlv.js';

export interface ServerCert {
  der: Buffer;
  hostname?: string | undefined;
  ipv4?: string | undefined;
}

export interface TrustListInputs {
  itlRecovery: ServerCert;
  /** Each TFTP server's CallManager certificate; `ccm` when the node also runs the call-control service. */
  tftpServers: Array<ServerCert & { ccm: boolean }>;
  /** CallManager certificates of call-control nodes that are not TFTP servers (CTL only). */
  callManagers: ServerCert[];
  tvs: ServerCert[];
  capf: ServerCert[];
}

/** Phones cannot load an ITL over 64 KiB (spec §1.6: about 39 certificates). */
export const maxTrustListBytes = 0xffff;

function rec(c: ServerCert, role: Role): RecordInput {
  return { der: c.der, role, dnsName: c.hostname, ipv4: c.ipv4 };
}

export function itlRecordInputs(inputs: TrustListInputs): RecordInput[] {
  return [
    rec(inputs.itlRecovery, Role.SAST),
    ...inputs.tftpServers.flatMap((s) => [rec(s, s.ccm ? Role.CCM_TFTP : Role.TFTP), rec(s, Role.SAST)]),
    ...inputs.tvs.map((t) => rec(t, Role.TVS)),
    ...inputs.capf.map((c) => rec(c, Role.CAPF)),
  ];
}

export function ctlRecordInputs(inputs: TrustListInputs, publisher: ServerCert): RecordInput[] {
  return [
    rec(publisher, Role.SAST),
    ...inputs.tftpServers.map((s) => rec(s, s.ccm ? Role.CCM_TFTP : Role.TFTP)),
    ...inputs.callManagers.map((c) => rec(c, Role.CCM)),
    ...inputs.capf.map((c) => rec(c, Role.CAPF)),
    rec(inputs.itlRecovery, Role.SAST),
  ];
}

export interface TrustListFileSpec {
  signer: Signer;
  /** Header FILENAME: `ITLFile.tlv` / `CTLFile.tlv` (also for the ITLSEP/CTLSEP per-device copies, spec §1.6). */
  filename: string;
  timestamp: number;
  hash?: HashName;
  /** Prepare Cluster for Rollback: TVS and TFTP records keep their role with an empty certificate section. */
  rollback?: boolean;
}

export function buildTrustList(records: readonly RecordInput[], spec: TrustListFileSpec): Buffer {
  const tlvs: TlvElement[][] = records.map((r) =>
    spec.rollback && (r.role === Role.TVS || r.role === Role.TFTP || r.role === Role.CCM_TFTP)
      ? emptyRecord(r.role)
      : recordFromCertificate(r),
  );
  const recordBytes = tlvs.reduce((n, r) => n + encodedLength(r), 0);
  const estimate = recordBytes + 512 + spec.signer.subjectName.length * 2 + 1024;
  if (estimate > maxTrustListBytes) {
    throw new TrustError(
      TrustErrorCode.tooLarge,
      `${spec.filename} would hold ${records.length} certificates in about ${estimate} bytes; phones cannot load a trust list over ` +
        `${maxTrustListBytes} bytes (about 39 certificates). Remove ${Math.ceil((estimate - maxTrustListBytes) / (recordBytes / records.length))} or more ` +
        `certificates (unused TVS nodes, TFTP servers or CAPF certificates) and build again.`,
    );
  }
  const bytes = buildSignedFile({
    signer: spec.signer,
    filename: spec.filename,
    timestamp: spec.timestamp,
    version: [1, 2],
    hash: spec.hash ?? 'sha1',
    records: tlvs,
  });
  if (bytes.length > maxTrustListBytes) {
    throw new TrustError(
      TrustErrorCode.tooLarge,
      `${spec.filename} would be ${bytes.length} bytes; phones cannot load more than ${maxTrustListBytes}. Remove certificates and build again.`,
    );
  }
  return bytes;
}
