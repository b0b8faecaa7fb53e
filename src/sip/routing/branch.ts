/**
 * Our Via branches (RFC 3261 §16.11): a stateless proxy derives the branch of a forwarded request from the
 * request it received, so a retransmission, the CANCEL and the ACK of a non-2xx get the same branch as their
 * INVITE without any stored state. The derivation is keyed (route-mac.ts): a response is relayed only when
 * its top branch is the MAC of the Via below it, which nobody without the key can produce.
 */
import { createHash } from 'node:crypto';
import type { SipRequest } from '../core/messages/message.js';
import { BRANCH_PREFIX, type RouteMac } from './route-mac.js';

export { BRANCH_PREFIX };

/** The branch of our Via on the forwarded copy of `req` (its top Via is still the sender's, as stamped on receipt). */
export function branchOf(req: SipRequest, mac: RouteMac): string {
  return mac.branch(req.topVia(), req.callId(), req.method);
}

/** The branch of the n-th re-sent copy of a request whose own (keyed) branch is `original` (n ≥ 1). */
export function resentBranch(original: string, n: number): string {
  return BRANCH_PREFIX + createHash('sha1').update(`${original}|auth|${n}`).digest('base64url').slice(0, 16);
}
