/**
 * Application users' allowed requests (CUCM's Application User page, "Accept Out-of-Dialog REFER", "Accept
 * Unsolicited Notification", "Accept Replaces Header", "Accept Presence Subscription"). A trunk with application-
 * level authorization (`sbd trunk add --app-auth`) lets a request kind through only when both the trunk's ACL and
 * the application user its digest named allow it (src/sip/routing/router.ts); without this, such a trunk could
 * allow nothing. `sbd user allow` and the console's `set user allowed-requests` both call `setAllowedRequests`.
 */
import type { SipRequestAcl, Store } from '../store/index.js';
import { SIP_REQUEST_KINDS } from '../store/index.js';
import { UsageError } from '../lib/errors.js';

/** `all`, `none`, or kinds separated by commas (ood-refer,unsolicited-notify,replaces,presence-subscribe). */
export function parseAllowedRequests(text: string): SipRequestAcl {
  const acl: SipRequestAcl = { 'ood-refer': false, 'unsolicited-notify': false, replaces: false, 'presence-subscribe': false };
  const t = text.trim().toLowerCase();
  if (t === 'none') return acl;
  const kinds = t === 'all' ? [...SIP_REQUEST_KINDS] : t.split(',').map((s) => s.trim());
  for (const k of kinds) {
    if (!(SIP_REQUEST_KINDS as readonly string[]).includes(k))
      throw new UsageError(`'${k}' is not a request kind: all, none, or any of ${SIP_REQUEST_KINDS.join(', ')}`);
    acl[k as keyof SipRequestAcl] = true;
  }
  return acl;
}

/** Replaces what the application user may send; the store refuses an unknown user or one that is not 'application'. */
export function setAllowedRequests(store: Store, userid: string, acl: SipRequestAcl): SipRequestAcl {
  return store.transaction(() => {
    store.sip.putAppUserPermissions(userid, acl);
    return store.sip.getAppUserPermissions(userid);
  });
}

export function allowedRequestsText(acl: SipRequestAcl): string {
  return SIP_REQUEST_KINDS.filter((k) => acl[k]).join(',') || 'none';
}
