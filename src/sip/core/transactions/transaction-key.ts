/**
 * Transaction matching (RFC 3261 §17.1.3 for responses, §17.2.3 for requests) as map keys: a client key is the
 * top Via branch and the CSeq method; a server key for RFC 3261 peers is branch + sent-by + method (ACK as INVITE),
 * for RFC 2543 peers (no magic cookie) the §17.2.3 field list. Details: docs/sip-transactions.md "Transaction keys".
 */
import type { SipRequest, SipResponse } from '../messages/message.js';
import { formatUri } from '../messages/uri.js';
import { formatVia, isRfc3261Branch, type Via } from '../messages/via.js';

/** Key of the client transaction a request starts, or a response matches. */
export function clientKey(branch: string, method: string): string {
  return `c\u0000${branch}\u0000${method}`;
}

export function clientKeyOfResponse(res: SipResponse): string | undefined {
  const branch = res.topVia().params.get('branch');
  if (branch === undefined || branch === null) return undefined;
  return clientKey(branch, res.cseq().method);
}

function sentBy(v: Via): string {
  return `${v.host.toLowerCase()}:${v.port ?? ''}`;
}

/**
 * Key of the server transaction for a received request. `as` overrides the method (INVITE when looking for the
 * INVITE a CANCEL cancels, §9.2). An ACK looks for INVITE: use `ackKeys` for it.
 */
export function serverKey(req: SipRequest, as?: 'INVITE'): string {
  return keyWith(req, as ?? (req.method === 'ACK' ? 'INVITE' : req.method), req.to().params.get('tag') ?? '');
}

/**
 * Where the INVITE an ACK acknowledges may be. For RFC 2543 peers the To tag is part of the match, but the ACK
 * carries the tag of the response while an initial INVITE had none: try both, then confirm with `toTagMatches`.
 */
export function ackKeys(ack: SipRequest): string[] {
  if (!isRfc2543Request(ack)) return [serverKey(ack)];
  const tag = ack.to().params.get('tag') ?? '';
  return tag === '' ? [keyWith(ack, 'INVITE', '')] : [keyWith(ack, 'INVITE', ''), keyWith(ack, 'INVITE', tag)];
}

function keyWith(req: SipRequest, method: string, toTag: string): string {
  const v = req.topVia();
  const branch = v.params.get('branch');
  if (isRfc3261Branch(branch ?? undefined)) return `s\u0000${branch}\u0000${sentBy(v)}\u0000${method}`;
  // RFC 2543 fallback (§17.2.3): the top Via is compared whole, normalized by re-formatting it.
  const fromTag = req.from().params.get('tag') ?? '';
  return ['s2543', formatUri(req.uri), toTag, fromTag, req.callId(), String(req.cseq().seq), method, formatVia(v)].join('\u0000');
}

export function isRfc2543Request(req: SipRequest): boolean {
  return !isRfc3261Branch(req.topVia().params.get('branch') ?? undefined);
}

/**
 * RFC 2543 ACK only: an ACK for an INVITE that had no To tag must carry the tag of the final response the
 * transaction sent (§17.2.3); `responseTag` is that tag.
 */
export function ackTagMatches(ack: SipRequest, invite: SipRequest, responseTag: string | undefined): boolean {
  const tag = ack.to().params.get('tag') ?? undefined;
  const inviteTag = invite.to().params.get('tag') ?? undefined;
  return inviteTag === undefined ? tag === responseTag : tag === inviteTag;
}
