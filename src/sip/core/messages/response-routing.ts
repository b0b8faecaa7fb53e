/**
 * Where requests came from and where responses go (RFC 3261 §18.2.1, §18.2.2; RFC 3581 rport).
 *
 * On receipt the server stamps the top Via: `received` when the sent-by host is not the packet's source address,
 * and `rport=<source port>` when the client asked for it with an rport (which also forces `received`,
 * RFC 3581 §4). `received` and `rport` are the receiver's to write: values the client put there are replaced
 * or removed, so they can never steer a response (a `received=<victim>` would otherwise aim it anywhere).
 * A response then goes back: on the connection the request came on for TCP/TLS, else to received (or
 * sent-by) at rport (or the Via port, or 5060/5061).
 */
import type { SipRequest, SipMessage } from './message.js';
import { splitComma } from './syntax.js';
import { formatVia, parseVia, type Via } from './via.js';
import { canonicalName } from './header-names.js';

export interface PacketSource {
  address: string;
  port: number;
}

function bare(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1).toLowerCase() : host.toLowerCase();
}

/** Rewrite the top Via of a received request with received/rport (§18.2.1, RFC 3581 §4). */
export function stampReceived(req: SipRequest, source: PacketSource): void {
  const idx = req.headers.findIndex((h) => canonicalName(h.name) === 'via');
  if (idx < 0) return;
  const field = req.headers[idx]!;
  const parts = splitComma(field.value, 'Via');
  const top = parseVia(parts[0]!);
  // RFC 3581 §3 has the client send an empty rport; one with a value is taken as the same request.
  const wantsRport = top.params.has('rport');
  top.params.delete('received');
  if (bare(top.host) !== source.address.toLowerCase() || wantsRport) top.params.set('received', source.address);
  if (wantsRport) top.params.set('rport', String(source.port));
  parts[0] = formatVia(top);
  req.headers[idx] = { name: field.name, value: parts.join(', ') };
  req.invalidate();
}

/** Destination of a response sent over UDP (or over a new connection when the original one is gone). */
export function responseDestination(res: SipMessage, secure = false): PacketSource {
  const via: Via = res.topVia();
  const rport = via.params.get('rport');
  const received = via.params.get('received');
  const address = received ?? bare(via.host);
  const port =
    rport !== undefined && rport !== null && /^[0-9]+$/.test(rport)
      ? Number(rport)
      : (via.port ?? (secure || via.transport === 'TLS' ? 5061 : 5060));
  return { address, port };
}
