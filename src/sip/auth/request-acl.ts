/**
 * Authorization of requests arriving on a trunk, as CUCM's SIP trunk security profile does it:
 *   out-of-dialog REFER (RFC 3515 without a To tag), unsolicited NOTIFY (RFC 6665 NOTIFY without a To tag, no
 *   subscription), any request with a Replaces header (RFC 3891), presence SUBSCRIBE (Event: presence, RFC 3856)
 * are each allowed only when the trunk's profile accepts that kind, and — with application-level authorization
 * on — when the authenticated application user is also granted it. Anything not allowed → 403 Forbidden.
 * Every other request (INVITE, BYE, in-dialog requests, OPTIONS…) is not one of these kinds and passes here;
 * calling search spaces decide where it may go.
 * "In dialog" is what the router verified (a Route it Record-Routed, with its MAC), never the sender's To tag
 * alone: a REFER or NOTIFY with a made-up tag is out of dialog and meets the ACL.
 */
import type { SipRequest } from '../core/messages/message.js';
import type { SipRequestAcl, SipRequestKind } from '../../store/index.js';

/**
 * The ACL kinds a request falls under (a request with Replaces may also be an out-of-dialog REFER…).
 * `inDialog`: the request belongs to a dialog the router verified.
 */
export function requestKinds(req: SipRequest, inDialog: boolean): SipRequestKind[] {
  const kinds: SipRequestKind[] = [];
  const outOfDialog = !inDialog;
  if (req.method === 'REFER' && outOfDialog) kinds.push('ood-refer');
  if (req.method === 'NOTIFY' && outOfDialog) kinds.push('unsolicited-notify');
  if (req.has('Replaces')) kinds.push('replaces');
  if (req.method === 'SUBSCRIBE' && /^presence\b/i.test(req.get('Event') ?? '')) kinds.push('presence-subscribe');
  return kinds;
}

export type AclDecision = { ok: true } | { ok: false; kind: SipRequestKind; by: 'trunk' | 'application-user' };

export function authorizeKinds(kinds: readonly SipRequestKind[], trunkAcl: SipRequestAcl, userAcl: SipRequestAcl | undefined): AclDecision {
  for (const k of kinds) {
    if (!trunkAcl[k]) return { ok: false, kind: k, by: 'trunk' };
    if (userAcl && !userAcl[k]) return { ok: false, kind: k, by: 'application-user' };
  }
  return { ok: true };
}

/**
 * Calling search space rule (CUCM): a caller reaches a called party whose partition is in its CSS, or whose
 * partition is <None> (null); a caller with no CSS reaches only <None>.
 */
export function cssReaches(cssPartitions: readonly string[] | null, partition: string | null): boolean {
  return partition === null || cssPartitions?.includes(partition) === true;
}

/** Route pattern match: digits literal, X any one digit, a trailing ! one or more further digits. */
export function patternMatches(pattern: string, number: string): boolean {
  const bang = pattern.endsWith('!');
  const p = bang ? pattern.slice(0, -1) : pattern;
  if (bang ? number.length <= p.length : number.length !== p.length) return false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    const d = number[i]!;
    if (c === 'X' ? !/[0-9]/.test(d) : c !== d) return false;
  }
  return !bang || /^[0-9]+$/.test(number.slice(p.length));
}
