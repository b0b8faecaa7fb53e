/**
 * Requests a client derives from an INVITE it sent: the ACK for a non-2xx final response (RFC 3261 §17.1.1.3),
 * built and sent by the INVITE client transaction itself, and CANCEL (§9.1), which the TU sends as a
 * non-INVITE client transaction of its own. Both copy the INVITE's identity so that the far end matches them to
 * the INVITE's server transaction (§17.2.3: same branch, same sent-by; method ACK/CANCEL instead of INVITE).
 *
 * The ACK for a 2xx is a different thing (a new transaction inside the dialog, §13.2.2.4): see dialog.ts.
 */
import { canonicalName } from '../messages/header-names.js';
import { SipRequest, type HeaderField, type SipMessage, type SipResponse } from '../messages/message.js';
import { TransactionCode, TransactionError } from './errors.js';

function firstValue(req: SipMessage, lname: string): HeaderField | undefined {
  return req.headers.find((h) => canonicalName(h.name) === lname);
}

/** The top Via value alone: the first entry of the first Via field (it may hold several, comma-separated). */
function topViaField(req: SipRequest): HeaderField {
  const top = req.getAll('Via')[0];
  if (top === undefined) throw new TransactionError(TransactionCode.request, 'request has no Via');
  return { name: 'Via', value: top };
}

function copyOf(req: SipRequest, lname: string): HeaderField[] {
  return req.headers.filter((h) => canonicalName(h.name) === lname).map((h) => ({ name: h.name, value: h.value }));
}

function derive(invite: SipRequest, method: 'ACK' | 'CANCEL', to: HeaderField[]): SipRequest {
  if (invite.method !== 'INVITE')
    throw new TransactionError(TransactionCode.request, `${method} can only be derived from an INVITE, not ${invite.method}`);
  const headers: HeaderField[] = [
    topViaField(invite),
    ...copyOf(invite, 'max-forwards'),
    ...copyOf(invite, 'route'),
    ...copyOf(invite, 'from'),
    ...to,
    ...copyOf(invite, 'call-id'),
    { name: 'CSeq', value: `${invite.cseq().seq} ${method}` },
  ];
  if (!headers.some((h) => canonicalName(h.name) === 'max-forwards')) headers.splice(1, 0, { name: 'Max-Forwards', value: '70' });
  return new SipRequest(method, structuredClone(invite.uri), headers);
}

/**
 * §17.1.1.3: Request-URI, Call-ID, From, CSeq number, the single top Via and Route as in the INVITE; To from
 * the response (it carries the tag the server chose); CSeq method ACK; no body.
 */
export function ackForNon2xx(invite: SipRequest, response: SipResponse): SipRequest {
  const to = firstValue(response, 'to');
  if (!to) throw new TransactionError(TransactionCode.response, 'response has no To');
  return derive(invite, 'ACK', [{ name: to.name, value: to.value }]);
}

/**
 * §9.1: Request-URI, Call-ID, To, CSeq number, From, the single top Via (same branch) and Route as in the INVITE;
 * CSeq method CANCEL; no Require or Proxy-Require (they are simply not copied); no body.
 */
export function cancelFor(invite: SipRequest): SipRequest {
  return derive(invite, 'CANCEL', copyOf(invite, 'to'));
}
