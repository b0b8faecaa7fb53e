/**
 * Which local ports have a listening socket, from the kernel's /proc/net/{tcp,tcp6,udp,udp6} tables
 * (proc(5)): a TCP socket in state 0A (LISTEN) or any bound UDP socket (state 07, unconnected).
 */
import { readFileSync } from 'node:fs';

export interface ListeningSocket {
  proto: 'tcp' | 'udp';
  port: number;
}

const TCP_LISTEN = '0A';
const UDP_UNCONNECTED = '07';

/** Parses one /proc/net table; `local_address` is HEXADDR:HEXPORT, `st` the state. */
export function parseProcNet(text: string, proto: 'tcp' | 'udp'): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const port = parseInt(f[1]!.split(':')[1] ?? '', 16);
    const state = f[3];
    if (Number.isNaN(port)) continue;
    if ((proto === 'tcp' && state === TCP_LISTEN) || (proto === 'udp' && state === UDP_UNCONNECTED)) sockets.push({ proto, port });
  }
  return sockets;
}

export function listeningSockets(procNet = '/proc/net'): ListeningSocket[] {
  const all: ListeningSocket[] = [];
  for (const [file, proto] of [
    ['tcp', 'tcp'],
    ['tcp6', 'tcp'],
    ['udp', 'udp'],
    ['udp6', 'udp'],
  ] as const) {
    try {
      all.push(...parseProcNet(readFileSync(`${procNet}/${file}`, 'utf8'), proto));
    } catch {
      // No IPv6 in this kernel, or no /proc: the rows are simply absent.
    }
  }
  return all;
}
