/**
 * Building a response to a request (RFC 3261 §8.2.6): Via (all of them, in order), From, To, Call-ID and CSeq
 * are copied; a To tag is added unless the request carried one (§8.2.6.2). The tag is derived from the
 * request's Call-ID, From tag and top Via branch, so a retransmitted request that is answered again (stateless
 * answers, §16.11) gets the same tag.
 */
import { hashString } from '../../../lib/one-shot-hash.js';
import { canonicalName } from './header-names.js';
import { SipResponse, type HeaderField, type SipRequest } from './message.js';

const copied = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

export function responseTag(req: SipRequest): string {
  const fromTag = req.from().params.get('tag') ?? '';
  const branch = req.topVia().params.get('branch') ?? '';
  return hashString('sha1', `${req.callId()}|${fromTag}|${branch}`, 'base64url').slice(0, 12);
}

export function makeResponse(
  req: SipRequest,
  status: number,
  reason: string,
  extra: HeaderField[] = [],
  body?: { type: string; bytes: Buffer },
): SipResponse {
  const headers: HeaderField[] = [];
  for (const h of req.headers) {
    const l = canonicalName(h.name);
    if (!copied.has(l)) continue;
    if (l === 'to' && status > 100 && req.to().params.get('tag') === undefined) {
      headers.push({ name: 'To', value: `${h.value};tag=${responseTag(req)}` });
    } else headers.push({ name: h.name, value: h.value });
  }
  headers.push(...extra);
  if (body) headers.push({ name: 'Content-Type', value: body.type });
  return new SipResponse(status, reason, headers, body?.bytes ?? Buffer.alloc(0));
}
