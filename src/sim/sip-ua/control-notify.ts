/**
 * How the simulated phone judges an unsolicited NOTIFY from its call control (../shared/spec/cisco-sip-phone.md
 * §2), sans-I/O: the request and the phone's current registration in, the answer and what to do out
 * (`judgeControlNotify` lists the rules).
 */
import type { SipRequest } from '../../sip/core/messages/message.js';

export type ControlDecision =
  | { status: 200; reason: 'OK'; obey: 'reset' | 'restart' }
  | { status: 403 | 481 | 489 | 400; reason: string; obey?: undefined };

/**
 * The rules:
 *  - `Event: service-control` with `action=reset|restart` and `RegisterCallId={…}`: obeyed only when the Call-ID
 *    is the one of the phone's current REGISTER (a NOTIFY naming another registration is answered 481 and ignored);
 *  - `Event: check-sync` (`;reboot=true` or not): the phone re-reads its files and registers again (a reset);
 *  - only from the registrar itself: the request must have come over the phone's flow to its server (the caller
 *    checks) and carry exactly one Via — a NOTIFY someone else sent and a proxy relayed carries two or more and is
 *    refused (403) whatever it names, so no stranger can reset the phone through the server;
 *  - anything else: 489 Bad Event (RFC 6665 §8.2.2 — an unknown event package).
 */
export function judgeControlNotify(req: SipRequest, registerCallId: string | undefined): ControlDecision {
  let vias: number;
  try {
    vias = req.via().length;
  } catch {
    return { status: 400, reason: 'Bad Request' };
  }
  if (vias !== 1) return { status: 403, reason: 'Forbidden (not from my registrar)' };
  const event = (req.get('Event') ?? '').split(';')[0]!.trim().toLowerCase();
  if (event === 'check-sync') return { status: 200, reason: 'OK', obey: 'reset' };
  if (event !== 'service-control') return { status: 489, reason: 'Bad Event' };
  const body = req.body.toString('utf8');
  const action = /^action=(reset|restart)\s*$/m.exec(body)?.[1] as 'reset' | 'restart' | undefined;
  const named = /^RegisterCallId=\{([^}\r\n]*)\}\s*$/m.exec(body)?.[1];
  if (!action) return { status: 400, reason: 'Bad Request (no action)' };
  if (registerCallId === undefined || named !== registerCallId) return { status: 481, reason: 'Call/Transaction Does Not Exist' };
  return { status: 200, reason: 'OK', obey: action };
}
