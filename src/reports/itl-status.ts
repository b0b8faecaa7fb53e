/**
 * ITL File Status per phone (Match / MisMatch / Not Installed), with the rules of CUCM 15SU1 (on `itlStatusRows`),
 * from two kinds of report: the DeviceTLInfo alarm's ITL hash and sbd's `X-SBD-ITL-Hash` REGISTER header.
 */
import { createHash } from 'node:crypto';
import { NOT_INSTALLED, type Store } from '../store/index.js';
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
  /** The hash the phone reported (SHA-1 or MD5 from DeviceTLInfo, SHA-256 from the header), lower-case hex. */
  hashHex: string | null;
  /** The TFTP server the phone's ITL came from (DeviceTLInfo only). */
  tftpServer: string | null;
  lastReport: string | null;
}

/** The statuses as the CLI and the console name them in a filter. */
export const ITL_STATUS_FILTERS = {
  match: ItlFileStatus.match,
  mismatch: ItlFileStatus.misMatch,
  'not-installed': ItlFileStatus.notInstalled,
} as const;
export type ItlStatusFilter = keyof typeof ITL_STATUS_FILTERS;

/** `match|mismatch|not-installed` (any case) → the status; undefined for anything else. */
export function parseItlStatusFilter(word: string): ItlFileStatusValue | undefined {
  const k = word.toLowerCase();
  return Object.hasOwn(ITL_STATUS_FILTERS, k) ? ITL_STATUS_FILTERS[k as ItlStatusFilter] : undefined;
}

/**
 * ITL File Status per phone, with the rules of CUCM 15SU1:
 *   Match          the phone's reported ITL hash equals the current hash of any TFTP server (any node);
 *   MisMatch       it differs from every one, or the phone never reported a hash (unknown);
 *   Not Installed  the phone holds no ITL (its DeviceTLInfo alarm says `ITL_Signature` "Not Installed"), or — with
 *                  sbd's `X-SBD-ITL-Hash` extension — it was moved to a new server, could not register there and
 *                  bounced back (status 'not-installed' on its ITL-hash row; an ordinary report clears it).
 * Two sources of a phone's report, the newer one counts:
 *   - the DeviceTLInfo alarm (real Cisco phones and the simulator; src/sip/alarm/device-tl-info.ts): the SHA-1 of
 *     the ITL the phone holds (older firmware: MD5), compared with the SHA-1 (or MD5) of the exact bytes each
 *     TFTP server serves (recorded by the TFTP source with the bytes, src/store/trust-reports.ts);
 *   - the `X-SBD-ITL-Hash` REGISTER header (sbd's extension, docs/admin.md): a SHA-256, compared with SHA-256s.
 * The last-report column is the time of the phone's latest report; the TFTP server column is the one the phone
 * says its ITL came from.
 */
export function itlStatusRows(store: Store, o: { status?: ItlFileStatusValue } = {}): ItlStatusRow[] {
  const rows = store.snapshot(() => {
    const served = store.listServedTrustFiles('ITLFile.tlv');
    const sha1 = new Set(served.map((h) => h.sha1Hex));
    const md5 = new Set(served.map((h) => h.md5Hex));
    const sha256 = new Set(
      store
        .listServerItlHashes()
        .filter((h) => h.file === 'ITLFile.tlv')
        .map((h) => h.sha256Hex.toLowerCase()),
    );
    const legacy = new Map(store.listDeviceItlHashes().map((h) => [h.device, h]));
    const alarms = new Map(store.listDeviceTrustReports().map((h) => [h.device, h]));
    return store.listDevices().map((d): ItlStatusRow => {
      const a = alarms.get(d.name);
      const r = legacy.get(d.name);
      if (a && (!r || a.at >= r.at)) {
        const sig = a.itlSignature;
        const status =
          sig === NOT_INSTALLED
            ? ItlFileStatus.notInstalled
            : (sig.length === 40 ? sha1 : md5).has(sig)
              ? ItlFileStatus.match
              : ItlFileStatus.misMatch;
        return {
          device: d.name,
          model: d.model,
          status,
          hashHex: sig === NOT_INSTALLED ? null : sig,
          tftpServer: a.itlTftpServer,
          lastReport: a.at,
        };
      }
      let status: ItlFileStatusValue;
      if (r?.status === ItlReportStatus.notInstalled) status = ItlFileStatus.notInstalled;
      else if (r && sha256.has(r.sha256Hex.toLowerCase())) status = ItlFileStatus.match;
      else status = ItlFileStatus.misMatch;
      return { device: d.name, model: d.model, status, hashHex: r?.sha256Hex ?? null, tftpServer: null, lastReport: r?.at ?? null };
    });
  });
  return o.status === undefined ? rows : rows.filter((r) => r.status === o.status);
}

/** `status`: only the phones with that status (the footer still counts every phone). */
export function itlStatusReport(store: Store, o: { status?: ItlFileStatusValue } = {}): Report {
  const all = itlStatusRows(store);
  const rows = o.status === undefined ? all : all.filter((r) => r.status === o.status);
  const count = (s: ItlFileStatusValue): number => all.filter((r) => r.status === s).length;
  return {
    title: `ITL File Status (${rows.length} phone${rows.length === 1 ? '' : 's'}${o.status === undefined ? '' : `: ${o.status}`})`,
    columns: [
      { name: 'Device Name' },
      { name: 'Model' },
      { name: 'ITL File Status' },
      { name: 'Phone ITL Hash', text: (v) => (v.length > ITL_HASH_TEXT_CHARS ? v.slice(0, ITL_HASH_TEXT_CHARS) + '...' : v) },
      { name: 'ITL TFTP Server' },
      { name: 'Last Report' },
    ],
    rows: rows.map((r) => [r.device, r.model, r.status, r.hashHex ?? NONE, r.tftpServer ?? NONE, r.lastReport ?? NONE]),
    footer: [
      `Match: ${count(ItlFileStatus.match)}  MisMatch: ${count(ItlFileStatus.misMatch)}  Not Installed: ${count(ItlFileStatus.notInstalled)}`,
    ],
  };
}
