/**
 * The network image/run.sh gives a guest (`--net SLOT`, `make run RUN_NET=SLOT`): slot 0 is 192.0.2.0/24 (RFC 5737
 * documentation range), slot N (1–255) is 198.18.N.0/24 (RFC 2544 benchmarking range); the host side takes .1, the
 * guest .2. A slot is taken when an IPv4 address of this host (`ip -j addr`) lies in it or belongs to a network
 * that contains it: the guest could then get the host's own address, or the host would route the range elsewhere.
 * `auto` (the default) takes slot 0 when free, else the first free 198.18.N.0/24; a slot named explicitly is
 * refused when taken, with a message naming RUN_NET.
 *
 *   node --import tsx image/run-net.ts SLOT|auto [--addr-json FILE]   → "SLOT HOST_IP GUEST_IP" on stdout
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface HostAddress {
  ifname: string;
  address: string;
  prefixlen: number;
}

export interface RunNet {
  slot: number;
  network: string;
  hostIp: string;
  guestIp: string;
}

export const RunNetErrorCode = { taken: 'ERR_RUN_NET_TAKEN', usage: 'ERR_RUN_NET_USAGE', none: 'ERR_RUN_NET_NONE_FREE' } as const;
export type RunNetErrorCode = (typeof RunNetErrorCode)[keyof typeof RunNetErrorCode];

export class RunNetError extends Error {
  readonly code: RunNetErrorCode;

  constructor(code: RunNetErrorCode, message: string) {
    super(message);
    this.name = 'RunNetError';
    this.code = code;
  }
}

/** Slots tried by `auto` after slot 0, in order (198.18.N.0/24). Default 1..255. */
export const AUTO_SLOTS: readonly number[] = Array.from({ length: 255 }, (_, i) => i + 1);

export function slotNet(slot: number): RunNet {
  const base = slot === 0 ? '192.0.2' : `198.18.${slot}`;
  return { slot, network: `${base}.0/24`, hostIp: `${base}.1`, guestIp: `${base}.2` };
}

/** The IPv4 addresses in `ip -j addr` output. */
export function parseIpAddr(json: string): HostAddress[] {
  const links = JSON.parse(json) as { ifname?: string; addr_info?: { family?: string; local?: string; prefixlen?: number }[] }[];
  return links.flatMap((l) =>
    (l.addr_info ?? [])
      .filter((a) => a.family === 'inet' && a.local !== undefined)
      .map((a) => ({ ifname: l.ifname ?? '?', address: a.local!, prefixlen: a.prefixlen ?? 32 })),
  );
}

function ipv4(text: string): number {
  const p = text.split('.').map(Number);
  if (p.length !== 4 || p.some((n) => !Number.isInteger(n) || n < 0 || n > 255))
    throw new RunNetError(RunNetErrorCode.usage, `not an IPv4 address: ${text}`);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** True when a/alen and b/blen share an address: the shorter prefix's network contains the other. */
export function overlaps(a: string, alen: number, b: string, blen: number): boolean {
  const len = Math.min(alen, blen);
  if (len === 0) return true;
  const shift = 32 - len;
  return ipv4(a) >>> shift === ipv4(b) >>> shift;
}

/** Host addresses in the slot's /24 (loopback's 127/8 never is). */
export function conflicts(slot: number, addrs: readonly HostAddress[]): HostAddress[] {
  const { hostIp } = slotNet(slot);
  return addrs.filter((a) => overlaps(a.address, a.prefixlen, hostIp, 24));
}

export function chooseRunNet(requested: string, addrs: readonly HostAddress[]): RunNet {
  if (requested === 'auto') {
    for (const slot of [0, ...AUTO_SLOTS]) if (conflicts(slot, addrs).length === 0) return slotNet(slot);
    throw new RunNetError(
      RunNetErrorCode.none,
      'no free network for the guest: 192.0.2.0/24 and every 198.18.N.0/24 are in use on this host',
    );
  }
  const slot = Number(requested);
  if (!/^\d+$/.test(requested) || slot > 255) {
    throw new RunNetError(RunNetErrorCode.usage, `RUN_NET=${requested}: a slot 0-255, "auto" or "none"`);
  }
  const taken = conflicts(slot, addrs);
  if (taken.length > 0) {
    const { network } = slotNet(slot);
    const where = taken.map((a) => `${a.address}/${a.prefixlen} on ${a.ifname}`).join(', ');
    throw new RunNetError(
      RunNetErrorCode.taken,
      `RUN_NET=${slot} would put the guest in ${network}, which this host already uses (${where}): the guest could get ` +
        'an address of the host. Pick a free one: RUN_NET=auto, or RUN_NET=N (1-255 for 198.18.N.0/24).',
    );
  }
  return slotNet(slot);
}

const isEntry = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isEntry) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--addr-json');
  const json = at >= 0 ? readFileSync(args[at + 1]!, 'utf8') : execFileSync('ip', ['-j', 'addr'], { encoding: 'utf8' });
  try {
    const net = chooseRunNet(args[0] ?? 'auto', parseIpAddr(json));
    process.stdout.write(`${net.slot} ${net.hostIp} ${net.guestIp}\n`);
  } catch (err) {
    process.stderr.write(`image/run.sh: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
