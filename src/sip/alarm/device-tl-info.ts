/**
 * The DeviceTLInfo alarm (../shared/spec/cisco-sip-phone.md §1): which ITL and CTL a Cisco phone holds and the
 * TFTP server each came from, pure — bytes in (the REFER body), a typed report or a typed error out; and the
 * same body out of a report (what the phone simulator sends).
 *
 *   ITL_Signature / CTL_Signature   SHA-1 of the file (20 upper-case hex bytes separated by spaces; older
 *                                   firmware: MD5, 16 bytes) or "Not Installed"
 *   ITL_TFTP_Server / CTL_TFTP_Server  name or address, "N/A" when none
 *   DeviceName                      SEP + 12 hex digits
 * Parameters this module does not know are ignored, as the spec asks.
 */
import { parseCiscoAlarm, type AlarmLimits, type AlarmResult, type CiscoAlarm } from './cisco-alarm.js';
import { AlarmError, AlarmErrorCode } from './errors.js';

export const DEVICE_TL_INFO = 'DeviceTLInfo';
export const ALARM_CONTENT_TYPE = 'application/x-cisco-alarm+xml';

/** What the phone says about one trust list. */
export type TrustListReport =
  | { state: 'installed'; algorithm: 'sha1' | 'md5'; hashHex: string; tftpServer: string | null }
  | { state: 'not-installed'; tftpServer: string | null };

export interface DeviceTlInfo {
  deviceName: string;
  ipv4Address: string | null;
  ipv6Address: string | null;
  itl: TrustListReport;
  /** null: the alarm carried no CTL_Signature. */
  ctl: TrustListReport | null;
}

/** Longest TFTP server name kept (a DNS name is at most 253 characters). */
export const MAX_TFTP_SERVER_CHARS = 253;
const NOT_INSTALLED = 'not installed';

/** Parses a REFER body; `{ ok: true, value: null }` for a well-formed alarm of another name (answer it, ignore it). */
export function parseAlarmBody(body: Uint8Array, limits?: AlarmLimits): AlarmResult<DeviceTlInfo | null> {
  const a = parseCiscoAlarm(body, limits);
  if (!a.ok) return a;
  if (a.value.name !== DEVICE_TL_INFO) return { ok: true, value: null };
  try {
    return { ok: true, value: deviceTlInfoOf(a.value) };
  } catch (err) {
    if (err instanceof AlarmError) return { ok: false, error: err };
    throw err;
  }
}

export function deviceTlInfoOf(alarm: CiscoAlarm): DeviceTlInfo {
  const p = alarm.parameters;
  const name = (p.get('DeviceName') ?? '').trim().toUpperCase();
  if (!isDeviceName(name)) throw new AlarmError(AlarmErrorCode.field, 'DeviceName is not SEP followed by 12 hex digits');
  const itl = listReport(p, 'ITL');
  if (!itl) throw new AlarmError(AlarmErrorCode.field, 'DeviceTLInfo without ITL_Signature');
  return {
    deviceName: name,
    ipv4Address: optional(p.get('IPv4Address'), 'IPv4Address', 45),
    ipv6Address: optional(p.get('IPv6Address'), 'IPv6Address', 45),
    itl,
    ctl: listReport(p, 'CTL'),
  };
}

function listReport(p: ReadonlyMap<string, string>, list: 'ITL' | 'CTL'): TrustListReport | null {
  const sig = p.get(`${list}_Signature`);
  if (sig === undefined) return null;
  const server = p.get(`${list}_TFTP_Server`);
  const tftpServer =
    server === undefined || server.trim() === '' || server.trim().toUpperCase() === 'N/A'
      ? null
      : optional(server, `${list}_TFTP_Server`, MAX_TFTP_SERVER_CHARS);
  if (sig.trim().toLowerCase() === NOT_INSTALLED) return { state: 'not-installed', tftpServer };
  const hashHex = signatureHex(sig);
  if (hashHex === undefined)
    throw new AlarmError(AlarmErrorCode.field, `${list}_Signature is neither "Not Installed" nor 16 or 20 hex bytes`);
  return { state: 'installed', algorithm: hashHex.length === 40 ? 'sha1' : 'md5', hashHex, tftpServer };
}

/** "3E 91 A3 … 15 " → "3e91a3…15": hex byte pairs separated by spaces (or none), 16 or 20 bytes. */
export function signatureHex(v: string): string | undefined {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x20 || c === 0x09) continue;
    const hex = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
    if (!hex || out.length >= 40) return undefined;
    out += v[i];
  }
  return out.length === 32 || out.length === 40 ? out.toLowerCase() : undefined;
}

function optional(v: string | undefined, field: string, max: number): string | null {
  const t = (v ?? '').trim();
  if (t === '') return null;
  if (t.length > max) throw new AlarmError(AlarmErrorCode.field, `${field} is longer than ${max} characters`);
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) throw new AlarmError(AlarmErrorCode.field, `${field} contains a control character`);
  }
  return t;
}

function isDeviceName(n: string): boolean {
  if (n.length !== 15 || !n.startsWith('SEP')) return false;
  for (let i = 3; i < 15; i++) {
    const c = n.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46))) return false;
  }
  return true;
}

/** "3e91…" → "3E 91 … 15 " as the phone writes it (upper case, a space after every byte). */
export function formatSignature(hashHex: string): string {
  return hashHex.toUpperCase().replace(/(..)/g, '$1 ');
}

function escapeXml(t: string): string {
  return t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The alarm body a phone sends (the spec's layout, one element per line). */
export function formatDeviceTlInfo(info: DeviceTlInfo): Buffer {
  const sig = (r: TrustListReport | null) => (r === null || r.state === 'not-installed' ? 'Not Installed' : formatSignature(r.hashHex));
  const server = (r: TrustListReport | null) => r?.tftpServer ?? 'N/A';
  const param = (name: string, value: string) => `<String name="${name}">${escapeXml(value)}</String>`;
  return Buffer.from(
    [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<x-cisco-alarm>',
      `<Alarm Name="${DEVICE_TL_INFO}">`,
      '<ParameterList>',
      param('DeviceName', info.deviceName),
      param('IPv4Address', info.ipv4Address ?? ''),
      param('IPv6Address', info.ipv6Address ?? ''),
      param('CTL_Signature', sig(info.ctl)),
      param('CTL_TFTP_Server', server(info.ctl)),
      param('ITL_Signature', sig(info.itl)),
      param('ITL_TFTP_Server', server(info.itl)),
      '</ParameterList>',
      '</Alarm>',
      '</x-cisco-alarm>',
      '',
    ].join('\n'),
    'utf8',
  );
}
