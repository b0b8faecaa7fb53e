import type { StoreContext } from './context.js';
import { StoreErrorCode } from './errors.js';
import { hex, isoTime, optionalText, text } from './fields.js';
import { deviceId, normaliseDeviceName } from './devices.js';

/**
 * The SHA-256 of the ITL each TFTP server currently serves, and the hash each phone reports having installed.
 * Together they make the "ITL File Status" report: Match when a phone's hash equals any server's.
 */

export interface ServerItlHashRow {
  server: string;
  file: string;
  sha256Hex: string;
  at: string;
}

export interface DeviceItlHashRow {
  device: string;
  sha256Hex: string;
  at: string;
  status: string | null;
}

const E = StoreErrorCode.itlHashInvalid;

/**
 * Records a SHA-256 alone (sbd init, cert regen: a build of their own). A different hash drops the row's bytes,
 * MD5 and SHA-1 (schema 8), which described other bytes; TFTP records them again when it serves the file.
 */
export function recordServerItlHash(ctx: StoreContext, server: string, file: string, sha256Hex: string, at: string): void {
  const s = text(E, 'server', server, 253);
  const f = text(E, 'file', file, 255);
  const h = hex(E, 'sha256Hex', sha256Hex, [64]);
  const t = isoTime(E, 'at', at);
  ctx.write(() => {
    ctx
      .stmt(
        `INSERT INTO server_itl_hashes (server, file, sha256_hex, at) VALUES (?, ?, ?, ?)
         ON CONFLICT (server, file) DO UPDATE SET sha256_hex = excluded.sha256_hex, at = excluded.at,
           sha1_hex = iif(sha256_hex = excluded.sha256_hex, sha1_hex, NULL), md5_hex = iif(sha256_hex = excluded.sha256_hex, md5_hex, NULL),
           bytes = iif(sha256_hex = excluded.sha256_hex, bytes, NULL)`,
      )
      .run(s, f, h, t);
  });
}

export function listServerItlHashes(ctx: StoreContext): ServerItlHashRow[] {
  return ctx
    .stmt('SELECT server, file, sha256_hex AS sha256Hex, at FROM server_itl_hashes ORDER BY server, file')
    .all() as ServerItlHashRow[];
}

/** Upserts the hash a phone reported; the device must exist (ERR_DEVICE_UNKNOWN otherwise). */
export function recordDeviceItlHash(ctx: StoreContext, device: string, sha256Hex: string, at: string, status?: string | null): void {
  normaliseDeviceName(device);
  const h = hex(E, 'sha256Hex', sha256Hex, [64]);
  const t = isoTime(E, 'at', at);
  const st = optionalText(E, 'status', status, 64);
  ctx.report(() => {
    ctx
      .stmt(
        `INSERT INTO device_itl_hashes (device_id, sha256_hex, at, status) VALUES (?, ?, ?, ?)
         ON CONFLICT (device_id) DO UPDATE SET sha256_hex = excluded.sha256_hex, at = excluded.at, status = excluded.status`,
      )
      .run(deviceId(ctx, device), h, t, st);
  });
}

const DEVICE_SELECT = `SELECT d.name AS device, h.sha256_hex AS sha256Hex, h.at, h.status
  FROM device_itl_hashes h JOIN devices d ON d.id = h.device_id`;

export function getDeviceItlHash(ctx: StoreContext, device: string): DeviceItlHashRow | undefined {
  if (typeof device !== 'string' || !/^SEP[0-9A-F]{12}$/i.test(device)) return undefined;
  return ctx.stmt(`${DEVICE_SELECT} WHERE d.name = ?`).get(device.toUpperCase()) as DeviceItlHashRow | undefined;
}

export function listDeviceItlHashes(ctx: StoreContext): DeviceItlHashRow[] {
  return ctx.stmt(`${DEVICE_SELECT} ORDER BY d.name`).all() as DeviceItlHashRow[];
}
