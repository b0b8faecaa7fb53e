/**
 * The ServerNames enterprise parameter: per node, the name phones are given for it in their configs (call control
 * `<processNodeName>`, `<TVS><address>`, `<capf><processNodeName>`), as CUCM's System › Server "Host Name/IP
 * Address" allows either. Value: `NODE=HOST` pairs separated by commas, HOST an IPv4/IPv6 address or an RFC 1123
 * host name; empty (the default, also written `none`) or a node not listed: the node's IP address (src/config/cluster-configs.ts), so a
 * phone on a LAN without DNS reaches it. A name only works for phones that have a DNS server that knows it.
 */
import { isIP } from 'node:net';

export const SERVER_NAMES_PARAM = 'ServerNames';

/** Bounds of the value: nodes listed, characters of one host (RFC 1035 §2.3.4: 253 in text form). */
export const serverNamesLimits = { maxNodes: 64, maxHostChars: 253 } as const;

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export type ServerNamesParse = { ok: true; names: Map<string, string> } | { ok: false; reason: string };

/** Parses and checks a ServerNames value; node names keep their spelling, hosts are lower-cased. */
export function parseServerNames(value: string): ServerNamesParse {
  const names = new Map<string, string>();
  const text = value.trim();
  if (text === '' || text.toLowerCase() === 'none') return { ok: true, names }; // 'none': an empty value the CLI can type
  const pairs = text.split(',').map((p) => p.trim());
  if (pairs.length > serverNamesLimits.maxNodes) return { ok: false, reason: `at most ${serverNamesLimits.maxNodes} NODE=HOST pairs` };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const node = pair.slice(0, eq).trim();
    const host = pair.slice(eq + 1).trim();
    if (eq < 0 || !NODE_NAME.test(node))
      return { ok: false, reason: `NODE=HOST pairs separated by commas ("${pair}" is not one), empty for addresses` };
    if (!isIP(host) && !HOSTNAME.test(host))
      return { ok: false, reason: `an IP address or an RFC 1123 host name for node ${node} ("${host}" is neither)` };
    if (names.has(node)) return { ok: false, reason: `a list that names each node once (${node} is named twice)` };
    names.set(node, host.toLowerCase());
  }
  return { ok: true, names };
}

/** The normalised value (the registry's check). */
export function checkServerNames(value: string): { ok: true; value: string } | { ok: false; reason: string } {
  const parsed = parseServerNames(value);
  if (!parsed.ok) return parsed;
  return { ok: true, value: [...parsed.names].map(([node, host]) => `${node}=${host}`).join(',') };
}
