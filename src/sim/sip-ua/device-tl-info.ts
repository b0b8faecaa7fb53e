/**
 * The simulated phone reports its trust lists as a Cisco phone does (../shared/spec/cisco-sip-phone.md §1): an
 * out-of-dialog REFER to the server whose body is the DeviceTLInfo alarm, `Require: norefersub`, the device name
 * in the Contact's `+u.sip!devicename.ccm.cisco.com` parameter. Sent after each successful registration (and so
 * after the phone took a new ITL and re-registered); a 407 is answered from the line's credentials.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { HeaderField, SipRequest, SipResponse } from '../../sip/core/messages/message.js';
import { SipRequest as Request } from '../../sip/core/messages/message.js';
import { parseUri } from '../../sip/core/messages/uri.js';
import { makeTag } from '../../sip/core/transactions/branch.js';
import { ALARM_CONTENT_TYPE, formatDeviceTlInfo, type DeviceTlInfo, type TrustListReport } from '../../sip/alarm/device-tl-info.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { phoneDir, PhoneFiles } from '../phone-folder.js';
import type { SipPhone } from './user-agent.js';

/** What the phone holds, as the simulator knows it: the bytes of its ITL/CTL (undefined: none installed). */
export interface HeldTrustLists {
  deviceName: string;
  itl?: { bytes: Buffer; tftpServer: string };
  ctl?: { bytes: Buffer; tftpServer: string };
  /** Report MD5 instead of SHA-1, as older firmware does; default false. */
  md5?: boolean;
}

function listReport(held: { bytes: Buffer; tftpServer: string } | undefined, md5: boolean): TrustListReport {
  if (!held) return { state: 'not-installed', tftpServer: null };
  const algorithm = md5 ? 'md5' : 'sha1';
  return { state: 'installed', algorithm, hashHex: createHash(algorithm).update(held.bytes).digest('hex'), tftpServer: held.tftpServer };
}

export function deviceTlInfoOfHeld(h: HeldTrustLists, ipv4Address: string | null): DeviceTlInfo {
  return {
    deviceName: h.deviceName.toUpperCase(),
    ipv4Address,
    ipv6Address: null,
    itl: listReport(h.itl, h.md5 ?? false),
    ctl: listReport(h.ctl, h.md5 ?? false),
  };
}

/** Where a phone's report comes from: fixed lists, or a look at what it holds now (read before each report). */
export type TrustListsSource = HeldTrustLists | (() => Promise<HeldTrustLists | undefined>);

/**
 * What a simulated phone (`sbd phone boot`'s folder) holds now: the ITL/CTL it installed, with the TFTP server
 * it fetches from (`tftpServer`, as its config names it). Read before each report, so after a reset that took a
 * new ITL the next REGISTER reports the new one.
 */
export function heldInPhoneFolder(stateDir: string, deviceName: string, tftpServer: string): () => Promise<HeldTrustLists> {
  const read = async (f: string) => readFile(join(phoneDir(stateDir, deviceName), f)).catch(() => undefined);
  return async () => {
    const [itl, ctl] = await Promise.all([read(PhoneFiles.itl), read(PhoneFiles.ctl)]);
    return { deviceName, ...(itl ? { itl: { bytes: itl, tftpServer } } : {}), ...(ctl ? { ctl: { bytes: ctl, tftpServer } } : {}) };
  };
}

/** The report of `source` sent over the phone's flow (undefined when the source has nothing to say). */
export async function reportTrustLists(phone: SipPhone, source: TrustListsSource): Promise<SipResponse | undefined> {
  const held = typeof source === 'function' ? await source() : source;
  return held ? sendDeviceTlInfo(phone, deviceTlInfoOfHeld(held, phone.flow.localAddress)) : undefined;
}

/** Sends the DeviceTLInfo REFER over the phone's flow; resolves with the final response. */
export function sendDeviceTlInfo(phone: SipPhone, info: DeviceTlInfo): Promise<SipResponse> {
  const body = formatDeviceTlInfo(info);
  const callId = `${randomBytes(8).toString('hex')}@sbd-phone`;
  const tag = makeTag();
  const cid = `${randomBytes(4).toString('hex')}@${phone.flow.localAddress}`;
  let cseq = 1000;
  const from = `<sip:${phone.o.line}@${phone.domain}>;tag=${tag}`;
  const build = (auth?: HeaderField): SipRequest =>
    new Request(
      'REFER',
      parseUri(`sip:${phone.domain}`),
      [
        phone.viaHeader(),
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: from },
        { name: 'To', value: `<sip:${phone.domain}>` },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: `${cseq++} REFER` },
        { name: 'User-Agent', value: phone.userAgent() },
        { name: 'Expires', value: '10' },
        { name: 'Contact', value: `<${phone.contact()}>;+u.sip!devicename.ccm.cisco.com="${info.deviceName}"` },
        { name: 'Require', value: 'norefersub' },
        { name: 'Referred-By', value: `<sip:${phone.o.line}@${phone.domain}>` },
        { name: 'Refer-To', value: `cid:${cid}` },
        { name: 'Content-Id', value: `<${cid}>` },
        { name: 'Content-Type', value: ALARM_CONTENT_TYPE },
        { name: 'Content-Disposition', value: 'session;handling=required' },
        ...(auth ? [auth] : []),
        { name: 'Content-Length', value: String(body.length) },
      ],
      body,
    );
  return phone.withAuth(build);
}
