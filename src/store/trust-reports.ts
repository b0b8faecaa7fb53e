import { createHash } from 'node:crypto';
import type { StoreContext } from './context.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { hex, isoTime, oneOf, optionalText, text } from './fields.js';
import { deviceId, normaliseDeviceName } from './devices.js';

/**
 * Two sides of the ITL File Status report (issue 18):
 *  - what each TFTP server serves as ITLFile.tlv / CTLFile.tlv: the exact bytes with their MD5, SHA-1 and SHA-256
 *    (rows of server_itl_hashes; `show itl` reads them instead of building and signing a file to display);
 *  - what each phone says it holds (the DeviceTLInfo alarm): the ITL/CTL signature — SHA-1 or MD5 hex, or
 *    'not-installed' — and the TFTP server each came from (device_trust_reports).
 * A phone repeating the report it gave before only moves the row's time, without a generation bump: no cache
 * derives anything from that time, and every phone re-reports at each registration.
 */

export const TRUST_LIST_FILES = ['ITLFile.tlv', 'CTLFile.tlv'] as const;
export type TrustListFile = (typeof TRUST_LIST_FILES)[number];
/** Largest served trust list stored (a CTL/ITL of a large cluster is a few tens of KiB). */
export const MAX_SERVED_TRUST_FILE_BYTES = 1024 * 1024;
export const NOT_INSTALLED = 'not-installed';

export interface ServedTrustFileRow {
  server: string;
  file: TrustListFile;
  md5Hex: string;
  sha1Hex: string;
  sha256Hex: string;
  bytes: Buffer;
  at: string;
}

export interface DeviceTrustReportInput {
  /** SHA-1 (40 hex) or MD5 (32 hex) of the ITL the phone holds, or 'not-installed'. */
  itlSignature: string;
  itlTftpServer: string | null;
  /** As itlSignature; null when the phone did not report a CTL. */
  ctlSignature: string | null;
  ctlTftpServer: string | null;
}

export interface DeviceTrustReportRow extends DeviceTrustReportInput {
  device: string;
  at: string;
}

const E = StoreErrorCode.itlHashInvalid;

/** Records the bytes `server` serves as `file` (hashes computed here, so they always describe these bytes). */
export function recordServedTrustFile(ctx: StoreContext, server: string, file: string, bytes: Buffer, at: string): void {
  const s = text(E, 'server', server, 253);
  const f = oneOf(E, 'file', file, TRUST_LIST_FILES);
  if (!Buffer.isBuffer(bytes) || bytes.length === 0 || bytes.length > MAX_SERVED_TRUST_FILE_BYTES) {
    throw new StoreError(E, `bytes must be 1 to ${MAX_SERVED_TRUST_FILE_BYTES} bytes`);
  }
  const t = isoTime(E, 'at', at);
  const h = (alg: string) => createHash(alg).update(bytes).digest('hex');
  ctx.write(() => {
    ctx
      .stmt(
        `INSERT INTO server_itl_hashes (server, file, sha256_hex, sha1_hex, md5_hex, bytes, at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (server, file) DO UPDATE SET sha256_hex = excluded.sha256_hex, sha1_hex = excluded.sha1_hex,
         md5_hex = excluded.md5_hex, bytes = excluded.bytes, at = excluded.at`,
      )
      .run(s, f, h('sha256'), h('sha1'), h('md5'), bytes, t);
  });
}

/** `server` serves no `file` now (a CTL outside mixed mode). True when a row went. */
export function removeServedTrustFile(ctx: StoreContext, server: string, file: string): boolean {
  const f = oneOf(E, 'file', file, TRUST_LIST_FILES);
  return ctx.write(() => ctx.stmt('DELETE FROM server_itl_hashes WHERE server = ? AND file = ?').run(server, f).changes > 0);
}

/** Rows recorded with their bytes (rows from before schema 8 or recordServerItlHash have none and are skipped). */
export function listServedTrustFiles(ctx: StoreContext, file?: TrustListFile): ServedTrustFileRow[] {
  const where = file === undefined ? '' : 'AND file = ?';
  const stmt = ctx.stmt(`SELECT server, file, md5_hex AS md5Hex, sha1_hex AS sha1Hex, sha256_hex AS sha256Hex, bytes, at
    FROM server_itl_hashes WHERE bytes IS NOT NULL AND sha1_hex IS NOT NULL AND md5_hex IS NOT NULL ${where} ORDER BY server, file`);
  return (file === undefined ? stmt.all() : stmt.all(file)) as ServedTrustFileRow[];
}

function signature(field: string, v: unknown, nullable: boolean): string | null {
  if (v === null && nullable) return null;
  if (v === NOT_INSTALLED) return NOT_INSTALLED;
  return hex(E, field, v, [32, 40]);
}

/**
 * Upserts a phone's report; the device must exist (ERR_DEVICE_UNKNOWN). Returns 'changed' when the content
 * differs from the stored report (the reports counter moves, not the generation) and 'touched' when only the time
 * moved.
 */
export function recordDeviceTrustReport(ctx: StoreContext, device: string, r: DeviceTrustReportInput, at: string): 'changed' | 'touched' {
  const name = normaliseDeviceName(device);
  const itl = signature('itlSignature', r.itlSignature, false)!;
  const ctl = signature('ctlSignature', r.ctlSignature, true);
  const itlServer = optionalText(E, 'itlTftpServer', r.itlTftpServer, 253) || null;
  const ctlServer = optionalText(E, 'ctlTftpServer', r.ctlTftpServer, 253) || null;
  const t = isoTime(E, 'at', at);
  const cur = getDeviceTrustReport(ctx, name);
  if (cur && cur.itlSignature === itl && cur.itlTftpServer === itlServer && cur.ctlSignature === ctl && cur.ctlTftpServer === ctlServer) {
    ctx.touch(() =>
      ctx.stmt('UPDATE device_trust_reports SET at = ? WHERE device_id = (SELECT id FROM devices WHERE name = ?)').run(t, name),
    );
    return 'touched';
  }
  ctx.report(() => {
    ctx
      .stmt(
        `INSERT INTO device_trust_reports (device_id, itl_signature, itl_tftp_server, ctl_signature, ctl_tftp_server, at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET itl_signature = excluded.itl_signature, itl_tftp_server = excluded.itl_tftp_server,
         ctl_signature = excluded.ctl_signature, ctl_tftp_server = excluded.ctl_tftp_server, at = excluded.at`,
      )
      .run(deviceId(ctx, name), itl, itlServer, ctl, ctlServer, t);
  });
  return 'changed';
}

const REPORT_SELECT = `SELECT d.name AS device, r.itl_signature AS itlSignature, r.itl_tftp_server AS itlTftpServer,
  r.ctl_signature AS ctlSignature, r.ctl_tftp_server AS ctlTftpServer, r.at
  FROM device_trust_reports r JOIN devices d ON d.id = r.device_id`;

export function getDeviceTrustReport(ctx: StoreContext, device: string): DeviceTrustReportRow | undefined {
  if (typeof device !== 'string' || device.length !== 15) return undefined;
  return ctx.stmt(`${REPORT_SELECT} WHERE d.name = ?`).get(device.toUpperCase()) as DeviceTrustReportRow | undefined;
}

export function listDeviceTrustReports(ctx: StoreContext): DeviceTrustReportRow[] {
  return ctx.stmt(`${REPORT_SELECT} ORDER BY d.name`).all() as DeviceTrustReportRow[];
}

export function deleteDeviceTrustReport(ctx: StoreContext, device: string): boolean {
  const name = normaliseDeviceName(device);
  return ctx.write(
    () => ctx.stmt('DELETE FROM device_trust_reports WHERE device_id = (SELECT id FROM devices WHERE name = ?)').run(name).changes > 0,
  );
}
