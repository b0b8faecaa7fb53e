/**
 * Requests inside a dialog (RFC 3261 §12.2.1.1), the ACK for a 2xx (§13.2.2.4) and BYE (§15.1.1), built from
 * the dialog's state.
 *
 * Request-URI and Route follow the route set: empty → Request-URI = remote target, no Route; first entry a loose
 * router (`lr`) → Request-URI = remote target, Route = the route set; first entry a strict router → Request-URI =
 * that entry (with the parameters a Request-URI may not carry removed, §19.1.1), Route = the rest of the route
 * set followed by the remote target (§12.2.1.1, RFC 3261's interworking with RFC 2543 routers).
 */
import { randomInt } from 'node:crypto';
import { type Dialog, DialogCode, DialogError } from './dialog.js';
import { maxCSeq, SipRequest, type HeaderField } from '../messages/message.js';
import { formatNameAddr, type NameAddr } from '../messages/name-addr.js';
import { formatUri, isSipUri, type Uri } from '../messages/uri.js';
import { makeBranch } from '../transactions/branch.js';

export interface InDialogRequestOptions {
  /** Our top Via: transport and sent-by; the branch is made fresh (§8.1.1.7) unless given. */
  via: { transport: string; host: string; port?: number; branch?: string; rport?: boolean };
  /** Our Contact (a URI); a target refresh request (re-INVITE, UPDATE, …) should carry one (§12.2.1.1). */
  contact?: string;
  /** Default 70 (§8.1.1.6). */
  maxForwards?: number;
  body?: { type: string; bytes: Buffer };
  /** Further header fields (Authorization, Supported, …), appended as given. */
  headers?: HeaderField[];
  /** First local CSeq when the dialog has none yet (UAS side); default random in [1, 2**30] (§8.1.1.5). */
  initialSeq?: number;
}

/** Builds `method` in the dialog and advances the local CSeq (§12.2.1.1). Not for ACK: see `ackFor2xx`. */
export function inDialogRequest(dialog: Dialog, method: string, o: InDialogRequestOptions): SipRequest {
  if (method === 'ACK' || method === 'CANCEL') {
    throw new DialogError(DialogCode.request, `${method} takes its INVITE's CSeq: use ackFor2xx (or cancelFor for a pending INVITE)`);
  }
  if (dialog.state === 'terminated') throw new DialogError(DialogCode.terminated, `dialog ${dialog.callId} is over; no ${method} in it`);
  const seq = dialog.localSeq === undefined ? (o.initialSeq ?? randomInt(1, 2 ** 30 + 1)) : dialog.localSeq + 1;
  if (seq > maxCSeq) throw new DialogError(DialogCode.request, 'local CSeq would pass 2**31-1 (§8.1.1.5)');
  dialog.localSeq = seq;
  return build(dialog, method, seq, o);
}

/**
 * §13.2.2.4: the ACK for a 2xx, a request of its own (new branch) with the INVITE's CSeq number, sent straight
 * to the transport by the UAC core for each 2xx it receives. `inviteSeq` is the CSeq number of the INVITE.
 */
export function ackFor2xx(dialog: Dialog, inviteSeq: number, o: InDialogRequestOptions): SipRequest {
  return build(dialog, 'ACK', inviteSeq, o);
}

/** §15.1.1: BYE in the dialog; the dialog is over as soon as the BYE is handed to its client transaction. */
export function byeRequest(dialog: Dialog, o: InDialogRequestOptions): SipRequest {
  const bye = inDialogRequest(dialog, 'BYE', o);
  dialog.terminate();
  return bye;
}

function build(dialog: Dialog, method: string, seq: number, o: InDialogRequestOptions): SipRequest {
  const { uri, route } = requestTarget(dialog.remoteTarget, dialog.routeSet);
  const v = o.via;
  const sentBy = `${v.host}${v.port === undefined ? '' : ':' + v.port}`;
  const headers: HeaderField[] = [
    { name: 'Via', value: `SIP/2.0/${v.transport.toUpperCase()} ${sentBy};branch=${v.branch ?? makeBranch()}${v.rport ? ';rport' : ''}` },
    { name: 'Max-Forwards', value: String(o.maxForwards ?? 70) },
    ...route.map((r) => ({ name: 'Route', value: r })),
    { name: 'From', value: formatNameAddr(tagged(dialog.local, dialog.localTag)) },
    { name: 'To', value: formatNameAddr(tagged(dialog.remote, dialog.remoteTag)) },
    { name: 'Call-ID', value: dialog.callId },
    { name: 'CSeq', value: `${seq} ${method}` },
  ];
  if (o.contact !== undefined) headers.push({ name: 'Contact', value: `<${o.contact}>` });
  if (o.headers) headers.push(...o.headers.map((h) => ({ name: h.name, value: h.value })));
  if (o.body) headers.push({ name: 'Content-Type', value: o.body.type });
  return new SipRequest(method, uri, headers, o.body?.bytes ?? Buffer.alloc(0));
}

/** §12.2.1.1: Request-URI and Route header values from the remote target and the route set. */
export function requestTarget(remoteTarget: Uri, routeSet: readonly NameAddr[]): { uri: Uri; route: string[] } {
  const first = routeSet[0];
  if (!first) return { uri: structuredClone(remoteTarget), route: [] };
  if (isSipUri(first.uri) && first.uri.params.has('lr')) {
    return { uri: structuredClone(remoteTarget), route: routeSet.map(formatNameAddr) };
  }
  // Strict router: it gets the request addressed to itself; the remote target rides at the end of Route.
  const uri = structuredClone(first.uri);
  if (isSipUri(uri)) {
    uri.params.delete('method');
    uri.headers = [];
  }
  return { uri, route: [...routeSet.slice(1).map(formatNameAddr), `<${formatUri(remoteTarget)}>`] };
}

function tagged(na: NameAddr, tag: string): NameAddr {
  const params = new Map(na.params);
  if (tag !== '') params.set('tag', tag);
  return { displayName: na.displayName, uri: na.uri, params };
}
