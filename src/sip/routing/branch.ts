/**
 * Our Via branches (RFC 3261 §16.11): a stateless proxy derives the branch of a forwarded request from the
 * request it received, so a retransmission, the CANCEL and the ACK of a non-2xx get the same branch as their
 * INVITE without any stored state. Every branch we write starts with BRANCH_PREFIX, which is how a response
 * (and the trunk-challenge table) knows a Via is ours.
 */
import { createHash } from 'node:crypto';
import type { SipRequest } from '../core/message.js';

export const BRANCH_PREFIX = 'z9hG4bK-sbd-';

/** The branch of our Via on the forwarded copy of `req` (its top Via is still the sender's). */
export function branchOf(req: SipRequest): string {
  const top = req.topVia();
  const method = req.method === 'CANCEL' || req.method === 'ACK' ? 'INVITE' : req.method;
  const key = `${top.params.get('branch') ?? ''}|${top.host}|${top.port ?? ''}|${req.callId()}|${method}`;
  return BRANCH_PREFIX + createHash('sha1').update(key).digest('base64url').slice(0, 16);
}

/** The branch of the n-th re-sent copy of a request whose own branch is `original` (n ≥ 1). */
export function resentBranch(original: string, n: number): string {
  return BRANCH_PREFIX + createHash('sha1').update(`${original}|auth|${n}`).digest('base64url').slice(0, 16);
}
