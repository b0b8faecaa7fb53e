/**
 * A Cisco phone's alarm REFER (../shared/spec/cisco-sip-phone.md §1), sans-I/O: the request, the device that
 * the router authenticated it as, and the directory in; the status to answer with out.
 *
 * Who counts: only a phone the router has already identified (the From line registered over this very flow, or
 * proxy digest of the line's owner — issue 16's rule), and only for its own device: a DeviceTLInfo naming
 * another device (DeviceName, or the Contact's `+u.sip!devicename.ccm.cisco.com`) is refused, so a registered phone
 * cannot write another phone's trust report. A line user (no device) has nothing to report: 403.
 * Answers: 202 Accepted for every well-formed alarm (other alarm names are answered and ignored); the phone sent
 * `Require: norefersub` and expects no NOTIFY (RFC 4488 §4). A malformed or hostile body → 400 (413 when over the
 * size bound) with the codec's error code in the reason; nothing is stored.
 */
import type { SipRequest } from '../core/messages/message.js';
import type { AorOwner, Directory } from '../registrar/directory.js';
import { ALARM_CONTENT_TYPE, parseAlarmBody, type TrustListReport } from './device-tl-info.js';
import type { AlarmLimits } from './cisco-alarm.js';
import { AlarmErrorCode, type AlarmErrorCodeValue } from './errors.js';

export interface AlarmAnswer {
  status: 202 | 400 | 403 | 413;
  reason: string;
  /** What happened, for the log: a stable word and, when stored, the device. */
  outcome: 'stored' | 'repeated' | 'ignored' | 'refused';
  device?: string;
  code?: AlarmErrorCodeValue;
}

/** The REFER carries a Cisco alarm body (Content-Type application/x-cisco-alarm+xml, parameters ignored). */
export function isAlarmRefer(req: SipRequest): boolean {
  if (req.method !== 'REFER') return false;
  const ct = req.get('Content-Type');
  if (ct === undefined) return false;
  const semi = ct.indexOf(';');
  return (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase() === ALARM_CONTENT_TYPE;
}

const DEVICE_PARAM = '+u.sip!devicename.ccm.cisco.com';

/** The Contact's device-name parameter, when it has one (quotes removed). */
function contactDeviceName(req: SipRequest): string | undefined {
  let contacts;
  try {
    contacts = req.contacts();
  } catch {
    return undefined;
  }
  if (contacts.star) return undefined;
  for (const c of contacts.list) {
    const v = c.params.get(DEVICE_PARAM);
    if (typeof v === 'string' && v !== '') return v.replace(/^"|"$/g, '').toUpperCase();
  }
  return undefined;
}

function signatureOf(r: TrustListReport | null): string | null {
  if (r === null) return null;
  return r.state === 'installed' ? r.hashHex : 'not-installed';
}

export function answerAlarmRefer(req: SipRequest, owner: AorOwner, directory: Directory, now: number, limits?: AlarmLimits): AlarmAnswer {
  const parsed = parseAlarmBody(req.body, limits);
  if (!parsed.ok) {
    const e = parsed.error;
    return {
      status: e.statusHint === 413 ? 413 : 400,
      reason: `${e.statusHint === 413 ? 'Request Entity Too Large' : 'Bad Request'} (${e.code})`,
      outcome: 'refused',
      code: e.code,
    };
  }
  const info = parsed.value;
  if (info === null) return { status: 202, reason: 'Accepted', outcome: 'ignored' };
  if (owner.kind !== 'device')
    return { status: 403, reason: 'Forbidden (only a device reports its trust lists)', outcome: 'refused', code: AlarmErrorCode.notDevice };
  const named = contactDeviceName(req);
  if (info.deviceName !== owner.device || (named !== undefined && named !== owner.device)) {
    return { status: 403, reason: 'Forbidden (the alarm names another device)', outcome: 'refused', code: AlarmErrorCode.otherDevice };
  }
  const r = directory.recordTrustReport(
    owner.device,
    {
      itlSignature: signatureOf(info.itl)!,
      itlTftpServer: info.itl.tftpServer,
      ctlSignature: signatureOf(info.ctl),
      ctlTftpServer: info.ctl?.tftpServer ?? null,
    },
    now,
  );
  return { status: 202, reason: 'Accepted', outcome: r === 'changed' ? 'stored' : 'repeated', device: owner.device };
}
