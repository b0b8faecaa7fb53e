/**
 * A simulated phone's own source address toward a server on loopback. Real phones each have their own address, and
 * sbd's TLS listeners cap the sockets one address may hold at once (32, src/lib/tls-service.ts): a fleet of
 * simulated phones all on 127.0.0.1 would meet that cap as a crowd behind one NAT does, and lose answers to it.
 */
import { isIPv4 } from 'node:net';

/**
 * 127.3.x.y from the low 16 bits of the phone's MAC (the device name's last four hex digits), when `serverHost` is
 * an IPv4 loopback address; otherwise undefined (the system picks, as it would for a real phone).
 */
export function phoneSourceAddress(deviceName: string, serverHost: string): string | undefined {
  if (!isIPv4(serverHost) || !serverHost.startsWith('127.')) return undefined;
  const low = /([0-9a-f]{4})$/i.exec(deviceName);
  const n = low ? Number.parseInt(low[1]!, 16) : 0;
  return `127.3.${Math.floor(n / 254) % 255}.${(n % 254) + 1}`;
}
