/**
 * Keyed MACs (HMAC-SHA256, truncated to 128 bits) by which the stateless proxy recognises what it wrote itself,
 * without per-call state: the branch of our Via (a function of the received request, RFC 3261 §16.11), so a
 * response is relayed only back where its request came from; and the `sbd-mac` parameter of our Record-Route
 * entries (§16.6 step 4), so an in-dialog request is routed only along a route we made. The key is
 * `<state>/keys/sip-route.key` (route-key.ts). What each MAC covers: docs/sip-theory.md "Route MACs".
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Via } from '../core/messages/via.js';
import type { SipUri } from '../core/messages/uri.js';
import { SbdError } from '../../lib/errors.js';

export const RouteKeyCode = {
  /** The key file is not 64 hex digits. */
  key: 'ERR_SIP_ROUTE_KEY',
  /** A key shorter than 16 bytes handed to RouteMac (route-mac.ts). */
  keyLength: 'ERR_SIP_ROUTE_KEY_LENGTH',
} as const;
export type RouteKeyCode = (typeof RouteKeyCode)[keyof typeof RouteKeyCode];

export class RouteKeyError extends SbdError {
  declare readonly code: RouteKeyCode;

  constructor(code: RouteKeyCode, message: string) {
    super(code, message);
  }
}

export const BRANCH_PREFIX = 'z9hG4bK-sbd-';
export const ROUTE_MAC_PARAM = 'sbd-mac';
const MAC_CHARS = 22;

function mac(key: Buffer, label: string, fields: readonly (string | number | null | undefined)[]): string {
  // Length-prefixed fields: no two field lists give the same input. One update: each is a native call.
  let input = label;
  for (const f of fields) {
    const v = f === undefined ? '\u0000u' : f === null ? '\u0000n' : String(f);
    input += `|${v.length}:${v}`;
  }
  return createHmac('sha256', key).update(input).digest('base64url').slice(0, MAC_CHARS);
}

function same(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function bare(host: string): string {
  return (host.startsWith('[') ? host.slice(1, -1) : host).toLowerCase();
}

/** ACK and CANCEL share their INVITE's branch (§9.1, §17.1.1.3). */
function txMethod(method: string): string {
  return method === 'ACK' || method === 'CANCEL' ? 'INVITE' : method;
}

export class RouteMac {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length < 16) throw new RouteKeyError(RouteKeyCode.keyLength, 'the route key must hold at least 16 bytes');
    this.#key = Buffer.from(key);
  }

  /** Our branch for a request whose received top Via (stamped with received/rport) is `via`. */
  branch(via: Via, callId: string, method: string): string {
    const p = via.params;
    return (
      BRANCH_PREFIX +
      mac(this.#key, 'branch', [
        p.get('branch'),
        bare(via.host),
        via.port,
        p.get('received'),
        p.get('rport'),
        via.transport.toUpperCase(),
        callId,
        txMethod(method),
      ])
    );
  }

  /** True when `branch` is ours for the request whose Via (below ours in a response) is `next`. */
  verifyBranch(branch: string, next: Via, callId: string, method: string): boolean {
    return same(branch, this.branch(next, callId, method));
  }

  /** The `sbd-mac` value of our Record-Route entry at host:port over `transport` for the dialog `callId`, toward `peer`. */
  routeMac(host: string, port: number, transport: string, callId: string, peer: string): string {
    return mac(this.#key, 'route', [bare(host), port, transport.toLowerCase(), callId, peer]);
  }

  /** True when a Route URI of ours carries the MAC we wrote for this Call-ID and remote target. */
  verifyRoute(uri: SipUri, callId: string, peer: string): boolean {
    const got = uri.params.get(ROUTE_MAC_PARAM);
    if (typeof got !== 'string' || uri.port === undefined) return false;
    return same(got, this.routeMac(uri.host, uri.port, uri.params.get('transport') ?? 'udp', callId, peer));
  }
}
