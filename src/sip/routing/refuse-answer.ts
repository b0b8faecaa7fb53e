/**
 * Block Unencrypted Calls when it is the *answer* that drops SRTP (the offer passed): without a B2BUA, sbd ACKs
 * and BYEs the callee's 2xx (§13.2.2.4, §15.1.1) on the flow it came over, and the caller gets 488 with a Reason
 * (RFC 3326) instead; an unencrypted provisional (early media) CANCELs the callee's INVITE (§9.1) instead.
 * Limit: the callee is reached directly over its registered flow (one proxy hop).
 * Theory of operation: docs/sip-theory.md "Refusing an unencrypted answer".
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
