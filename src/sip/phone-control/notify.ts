/**
 * The NOTIFY that makes a registered phone reset or restart (../shared/spec/cisco-sip-phone.md §2), sans-I/O:
 * the registration in, the request bytes out; and what the phone's answer means.
 *
 * - Cisco phones (enterprise firmware): `Event: service-control`, a text/plain body with `action=reset|restart`
 *   and `RegisterCallId={<Call-ID of the phone's REGISTER>}` — the phone ignores a NOTIFY naming another
 *   registration, which (with sending only over the phone's own registered flow) keeps strangers from resetting it.
 * - Older Cisco SIP phones and most other vendors: `Event: check-sync` (some want `;reboot=true`), no body.
 * The method is chosen from the registration's User-Agent unless the model's feature-list row overrides it.
 * An unsolicited NOTIFY is out of any dialog and subscription (RFC 6665 §4.1.3 allows none; the phones accept it
 * from their call control); `Subscription-State: active` is what the phones expect to see.
 */
import { SipRequest } from '../core/messages/message.js';
import { serializeMessage } from '../core/messages/serializer.js';
import { parseUri } from '../core/messages/uri.js';
import { SbdError } from '../../lib/errors.js';

export const ResetKind = { reset: 'reset', restart: 'restart' } as const;
export type ResetKind = (typeof ResetKind)[keyof typeof ResetKind];

/** How a phone is told: Cisco service-control, or check-sync (with or without `reboot=true`). */
export const ResetMethod = { serviceControl: 'service-control', checkSync: 'check-sync', checkSyncReboot: 'check-sync-reboot' } as const;
export type ResetMethod = (typeof ResetMethod)[keyof typeof ResetMethod];

/** Every phone-control code, also the `code` of an `error` event on the control socket (control-protocol.ts). */
export const PhoneControlCode = {
  /** Something failed that is not a phone-control error (an unexpected exception in the handler). */
  failed: 'ERR_PHONE_CONTROL',
  /** A request line that does not parse or names nothing valid. */
  request: 'ERR_PHONE_CONTROL_REQUEST',
  /** A line longer than the protocol's bound. */
  line: 'ERR_PHONE_CONTROL_LINE',
  /** The socket path exists and is not a socket. */
  socket: 'ERR_PHONE_CONTROL_SOCKET',
  /** The client cannot reach sbd-sipd, or it closed before the wave ended. */
  connect: 'ERR_PHONE_CONTROL_CONNECT',
  /** A wave is already running. */
  busy: 'ERR_PHONE_CONTROL_BUSY',
  /** The request names a device sbd does not know. */
  unknown: 'ERR_PHONE_CONTROL_UNKNOWN',
  /** sbd-sipd is stopping: the wave ended early. */
  stopped: 'ERR_PHONE_CONTROL_STOPPED',
  /** The registration Call-ID cannot go into the NOTIFY body. */
  callId: 'ERR_PHONE_CONTROL_CALL_ID',
} as const;
export type PhoneControlCode = (typeof PhoneControlCode)[keyof typeof PhoneControlCode];

export class PhoneControlError extends SbdError {
  declare readonly code: PhoneControlCode;

  constructor(code: PhoneControlCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * The method for a registration: the model's override when the feature list has one, else by User-Agent —
 * Cisco enterprise SIP firmware (`Cisco-CP8845/…`, `Cisco-CP-7821/…`, `Cisco-TelePresence…` not included) takes
 * service-control; the 7940/7960 SIP images (`Cisco-CP7940G/8.0`) and every other vendor take check-sync.
 */
export function resetMethodFor(userAgent: string | undefined, override?: ResetMethod | null): ResetMethod {
  if (override) return override;
  const m = userAgent === undefined ? null : /^\s*Cisco-CP-?([0-9]{4})/i.exec(userAgent);
  if (m && !/^79[46]0$/.test(m[1]!)) return ResetMethod.serviceControl;
  return ResetMethod.checkSync;
}

export interface ResetNotifyInput {
  kind: ResetKind;
  method: ResetMethod;
  /** The registration's Contact (the Request-URI, spec §2 "sent to the Contact of the registration"). */
  contact: string;
  /** The registered AOR's user (the line) and sbd's domain: From is sbd, To is the line. */
  line: string;
  domain: string;
  /** Call-ID of the phone's REGISTER (service-control names it in the body, braces included). */
  registerCallId: string;
  /** Our Via: the transport of the flow and the address sbd listens on. */
  via: { transport: string; host: string; port: number; branch: string };
  /** This NOTIFY's own Call-ID and From tag (a new request outside any dialog, RFC 3261 §8.1.1). */
  callId: string;
  fromTag: string;
  cseq: number;
}

/** Version stamps of 16 zeros: "nothing changed", the phone re-reads everything on a reset anyway. */
const ZERO_STAMP = '{0000000000000000}';

/** The body of a service-control NOTIFY (spec §2), CRLF line ends. */
export function serviceControlBody(kind: ResetKind, registerCallId: string): Buffer {
  if (/[\r\n{}]/.test(registerCallId))
    throw new PhoneControlError(PhoneControlCode.callId, 'the registration Call-ID holds a brace or a line break');
  return Buffer.from(
    [
      `action=${kind}`,
      `RegisterCallId={${registerCallId}}`,
      `ConfigVersionStamp=${ZERO_STAMP}`,
      `DialplanVersionStamp=${ZERO_STAMP}`,
      `SoftkeyVersionStamp=${ZERO_STAMP}`,
      '',
    ].join('\r\n'),
  );
}

export function buildResetNotify(i: ResetNotifyInput): Buffer {
  const event =
    i.method === ResetMethod.serviceControl
      ? 'service-control'
      : i.method === ResetMethod.checkSyncReboot
        ? 'check-sync;reboot=true'
        : 'check-sync';
  const body = i.method === ResetMethod.serviceControl ? serviceControlBody(i.kind, i.registerCallId) : Buffer.alloc(0);
  const req = new SipRequest(
    'NOTIFY',
    parseUri(i.contact),
    [
      { name: 'Via', value: `SIP/2.0/${i.via.transport.toUpperCase()} ${i.via.host}:${i.via.port};branch=${i.via.branch}` },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: `<sip:${i.domain}>;tag=${i.fromTag}` },
      { name: 'To', value: `<sip:${i.line}@${i.domain}>` },
      { name: 'Call-ID', value: i.callId },
      { name: 'CSeq', value: `${i.cseq} NOTIFY` },
      { name: 'Event', value: event },
      { name: 'Subscription-State', value: 'active' },
      ...(body.length > 0 ? [{ name: 'Content-Type', value: 'text/plain' }] : []),
    ],
    body,
  );
  return serializeMessage(req);
}
