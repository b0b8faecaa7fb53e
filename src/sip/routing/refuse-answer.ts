/**
 * Block Unencrypted Calls when it is the *answer* that drops SRTP (the offer had usable SRTP, so it passed):
 * the stateless proxy sees the callee's 2xx and must not let the call come up unencrypted. Without a B2BUA:
 *  - towards the callee, whose dialog the 2xx confirmed: sbd acts as the UAC would on an unwanted session —
 *    it ACKs the 2xx (§13.2.2.4, CSeq number of the INVITE) and sends BYE (§15.1.1, CSeq number + 1), both
 *    built from the 2xx (Call-ID, tags, Contact as the Request-URI) and sent on the flow the 2xx came over;
 *  - towards the caller, the 2xx is replaced by 488 Not Acceptable Here (RFC 3261 §21.4.26) with a Reason
 *    header (RFC 3326) naming the policy. The caller's INVITE transaction ends normally: its ACK for the
 *    488 is hop-by-hop and reaches sbd, which forwards it like any ACK; the callee's dialog is gone by then.
 * A retransmitted 2xx (UDP) gets the same treatment again; the second BYE meets 481 at the callee, harmless.
 * The responses to our ACK-less BYE carry only our Via and are dropped by the router (no Via left).
 * An unencrypted answer in a provisional response (18x, early media): the callee's INVITE is CANCELled
 * (§9.1: our Via with the INVITE's branch, the INVITE's Request-URI, To without the callee's tag, the INVITE's
 * CSeq number) and the caller gets the 488; its 487 then meets a completed transaction at the caller.
 * Limits: the callee is reached directly over its registered flow (one proxy hop, the phones' case); a callee
 * behind further proxies would need the Record-Route entries below ours as Route — not built here.
 */
import { createHash } from 'node:crypto';
import { SipRequest, SipResponse, type HeaderField } from '../core/messages/message.js';
import { canonicalName } from '../core/messages/header-names.js';
import { parseNameAddr, formatNameAddr } from '../core/messages/name-addr.js';
import type { Uri } from '../core/messages/uri.js';

export interface RefusedAnswer {
  ack: SipRequest;
  bye: SipRequest;
  /** What the caller gets instead of the 2xx (the 2xx's Vias below ours, From, To with the callee's tag, …). */
  refusal: SipResponse;
}

/** `res` is the 2xx with our own Via already removed; `via` is our sent-by (transport, host:port) towards the callee. */
export function refuseUnencryptedAnswer(
  res: SipResponse,
  via: { transport: string; hostPort: string },
  reason: string,
): RefusedAnswer | undefined {
  const cs = res.contacts();
  const contact = cs.star ? undefined : cs.list[0];
  if (!contact) return undefined; // a 2xx to INVITE without Contact (§12.1.1 requires one): nothing to send BYE to
  const seq = res.cseq().seq;
  const branch = (what: string) =>
    'z9hG4bK-sbd-' +
    createHash('sha1')
      .update(`${what}|${res.callId()}|${res.to().params.get('tag') ?? ''}|${seq}`)
      .digest('base64url')
      .slice(0, 16);
  const common = (method: string, cseq: number): HeaderField[] => [
    { name: 'Via', value: `SIP/2.0/${via.transport} ${via.hostPort};branch=${branch(method)};rport` },
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: res.get('From')! },
    { name: 'To', value: res.get('To')! },
    { name: 'Call-ID', value: res.callId() },
    { name: 'CSeq', value: `${cseq} ${method}` },
  ];
  const ack = new SipRequest('ACK', contact.uri, common('ACK', seq));
  const bye = new SipRequest('BYE', contact.uri, [...common('BYE', seq + 1), { name: 'Reason', value: `SIP;cause=488;text="${reason}"` }]);
  return { ack, bye, refusal: refusalOf(res, reason) };
}

/** `res`: a provisional response with an answer, our Via removed; `ourVia`: that Via; `uri`: the INVITE's Request-URI. */
export function cancelProvisional(
  res: SipResponse,
  ourVia: string,
  uri: Uri | undefined,
  reason: string,
): { cancel: SipRequest | undefined; refusal: SipResponse } {
  let cancel: SipRequest | undefined;
  if (uri !== undefined) {
    const to = parseNameAddr(res.get('To')!, 'To');
    to.params.delete('tag');
    cancel = new SipRequest('CANCEL', uri, [
      { name: 'Via', value: ourVia },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: res.get('From')! },
      { name: 'To', value: formatNameAddr(to) },
      { name: 'Call-ID', value: res.callId() },
      { name: 'CSeq', value: `${res.cseq().seq} CANCEL` },
      { name: 'Reason', value: `SIP;cause=488;text="${reason}"` },
    ]);
  }
  return { cancel, refusal: refusalOf(res, reason) };
}

/** What the caller gets instead of an answer sbd refuses: 488 with a Reason (RFC 3326). */
export function refusalOf(res: SipResponse, reason: string): SipResponse {
  const kept = new Set(['via', 'from', 'to', 'call-id', 'cseq']);
  return new SipResponse(488, `Not Acceptable Here (${reason})`, [
    ...res.headers.filter((h) => kept.has(canonicalName(h.name))).map((h) => ({ name: h.name, value: h.value })),
    { name: 'Reason', value: `SIP;cause=488;text="${reason}"` },
  ]);
}
