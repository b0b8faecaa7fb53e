/**
 * Our Record-Route entries (RFC 3261 §16.6 step 4) and what their MAC binds (route-mac.ts): our host, port and
 * transport, the Call-ID, and the *remote target* that in-dialog requests along this route may be sent to:
 *  - on the request (INVITE, SUBSCRIBE, REFER) the entry binds the sender's Contact: the callee's requests of
 *    the dialog carry this Route and have that Contact as their Request-URI (§12.2.1.1);
 *  - on the way back, sbd rewrites its own entries in the 1xx/2xx (§16.7 step 9 allows a proxy to rewrite the
 *    value it inserted) to bind the callee's Contact, which the caller's requests then carry.
 * So a Route sbd verifies names the one host:port the request may go to: a dialog participant cannot turn it
 * toward anyone else (the relay of issue 16 row 2).
 */
import { canonicalName } from '../core/messages/header-names.js';
import type { SipMessage } from '../core/messages/message.js';
import { formatNameAddr, parseNameAddr } from '../core/messages/name-addr.js';
import { splitComma } from '../core/messages/syntax.js';
import { isSipUri, type SipUri, type Uri } from '../core/messages/uri.js';
import { ROUTE_MAC_PARAM, type RouteMac } from './route-mac.js';

/** The remote target a MAC binds: `host:port` of a URI (lower-case host without brackets; no port → empty). */
export function peerOf(uri: Uri | undefined): string {
  if (!uri || !isSipUri(uri)) return '';
  const h = uri.host.startsWith('[') ? uri.host.slice(1, -1) : uri.host;
  return `${h.toLowerCase()}:${uri.port ?? ''}`;
}

/** The first Contact's target of a message ('' when it has none or `*`). */
export function contactPeer(m: SipMessage): string {
  try {
    const c = m.contacts();
    return c.star ? '' : peerOf(c.list[0]?.uri);
  } catch {
    return '';
  }
}

export interface OwnHop {
  host: string;
  port: number;
  transport: string;
}

export function recordRouteValue(l: OwnHop, mac: RouteMac, callId: string, peer: string): string {
  return `<sip:${l.host}:${l.port};transport=${l.transport};lr;${ROUTE_MAC_PARAM}=${mac.routeMac(l.host, l.port, l.transport, callId, peer)}>`;
}

/**
 * Rebinds our Record-Route entries in a response to its Contact (`isUs`: one of our listeners). Others'
 * entries are kept byte for byte; the fields stay where they were.
 */
export function rebindRecordRoutes(m: SipMessage, mac: RouteMac, isUs: (uri: SipUri) => boolean): void {
  const peer = contactPeer(m);
  const callId = m.callId();
  let changed = false;
  const fields = m.headers.map((h) => {
    if (canonicalName(h.name) !== 'record-route') return h;
    const out = splitComma(h.value, 'Record-Route').map((v) => {
      let na;
      try {
        na = parseNameAddr(v, 'Record-Route');
      } catch {
        return v;
      }
      const uri = na.uri;
      if (!isSipUri(uri) || !isUs(uri) || !uri.params.has(ROUTE_MAC_PARAM) || uri.port === undefined) return v;
      uri.params.set(ROUTE_MAC_PARAM, mac.routeMac(uri.host, uri.port, uri.params.get('transport') ?? 'udp', callId, peer));
      changed = true;
      return formatNameAddr(na);
    });
    return { name: h.name, value: out.join(', ') };
  });
  if (changed) {
    m.headers = fields;
    m.invalidate();
  }
}
