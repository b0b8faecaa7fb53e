/**
 * ITL File Status per phone, with the rules of CUCM 15SU1:
 *   Match          the phone's reported ITL hash equals the current hash of any TFTP server (any node);
 *   MisMatch       it differs from every one, or the phone never reported a hash (unknown);
 *   Not Installed  the phone was moved to a new server, could not register there and bounced back: its report
 *                  says so. That is recorded as status 'not-installed' on the phone's ITL-hash row (the hash is
 *                  then the one it still runs with); an ordinary report clears it.
 * The last-report column is the time of the phone's latest report.
 */
import { createHash } from 'node:crypto';
import type { Store } from '../store/index.js';
import { NONE, type Report } from './table.js';

export const ItlFileStatus = { match: 'Match', misMatch: 'MisMatch', notInstalled: 'Not Installed' } as const;
export type ItlFileStatusValue = (typeof ItlFileStatus)[keyof typeof ItlFileStatus];

/** Values of the device ITL-hash `status` column. */
export const ItlReportStatus = { installed: 'installed', notInstalled: 'not-installed' } as const;
export type ItlReportStatusValue = (typeof ItlReportStatus)[keyof typeof ItlReportStatus];

/** Hex digits of the hash the console table shows (the CSV has all 64). */
export const ITL_HASH_TEXT_CHARS = 16;

export interface PhoneItlReport {
  device: string;
  /** SHA-256 of the ITL file the phone has installed (lower-case hex). */
  sha256Hex: string;
  /** When the phone reported (ISO 8601). */
  at: string;
  /** 'not-installed' when the phone bounced back from a server whose ITL it could not install. Default 'installed'. */
  status?: ItlReportStatusValue;
}

/** What the SIP registrar (or the phone simulator) calls when a phone reports its ITL hash. */
export function recordPhoneItlReport(store: Store, r: PhoneItlReport): void {
  store.recordDeviceItlHash(r.device, r.sha256Hex.toLowerCase(), r.at, r.status ?? ItlReportStatus.installed);
}

/** The hash a phone reports: SHA-256 over the ITL file's bytes, as TFTP served them. */
export function itlFileHash(itl: Buffer): string {
  return createHash('sha256').update(itl).digest('hex');
}

export interface ItlStatusRow {
  device: string;
  model: string;
  status: ItlFileStatusValue;
  sha256Hex: string | null;
  lastReport: string | null;
}

export function itlStatusRows(store: Store): ItlStatusRow[] {
  return store.snapshot(() => {
    const serverHashes = new Set(store.listServerItlHashes().map((h) => h.sha256Hex.toLowerCase()));
    const reports = new Map(store.listDeviceItlHashes().map((h) => [h.device, h]));
    return store.listDevices().map((d) => {
      const r = reports.get(d.name);
      let status: ItlFileStatusValue;
      if (r?.status === ItlReportStatus.notInstalled) status = ItlFileStatus.notInstalled;
      else if (r && serverHashes.has(r.sha256Hex.toLowerCase())) status = ItlFileStatus.match;
      else status = ItlFileStatus.misMatch;
      return { device: d.name, model: d.model, status, sha256Hex: r?.sha256Hex ?? null, lastReport: r?.at ?? null };
    });
  });
}

export function itlStatusReport(store: Store): Report {
  const rows = itlStatusRows(store);
  const count = (s: ItlFileStatusValue): number => rows.filter((r) => r.status === s).length;
  return {
    title: `ITL File Status (${rows.length} phone${rows.length === 1 ? '' : 's'})`,
    columns: [
      { name: 'Device Name' },
      { name: 'Model' },
      { name: 'ITL File Status' },
      { name: 'Phone ITL SHA-256', text: (v) => (v.length > ITL_HASH_TEXT_CHARS ? v.slice(0, ITL_HASH_TEXT_CHARS) + '...' : v) },
      { name: 'Last Report' },
    ],
    rows: rows.map((r) => [r.device, r.model, r.status, r.sha256Hex ?? NONE, r.lastReport ?? NONE]),
    footer: [`Match: ${count(ItlFileStatus.match)}  MisMatch: ${count(ItlFileStatus.misMatch)}  Not Installed: ${count(ItlFileStatus.notInstalled)}`],
  };
}
