/**
 * SIP over UDP (RFC 3261 §18): one datagram, one message. Thin I/O shell over the core parser: a datagram that
 * does not parse is answered with the parser's status when the request is readable enough (§8.2.6), else
 * dropped; either way the socket keeps serving. Requests get their top Via stamped (received/rport).
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { errorResponseFor } from '../core/messages/error-response.js';
import { SipParseError } from '../core/messages/errors.js';
import { parseMessage, type ParseOptions } from '../core/messages/parser.js';
import { stampReceived } from '../core/messages/response-routing.js';
import { emptyStats, type MessageHandler, type TransportStats } from './types.js';

export interface UdpTransportOptions {
  /** Address to bind; default 0.0.0.0 (use '::' for IPv6). */
  host?: string;
  /** Port to bind; default 5060; 0 picks a free one. */
  port?: number;
  /** Parser limits; the datagram size is bounded by maxMessageBytes (default 65535). */
  parse?: ParseOptions;
  /**
   * SO_RCVBUF / SO_SNDBUF in bytes; default 4 MiB each (the kernel caps them at net.core.rmem_max/wmem_max).
   * A registration burst from thousands of phones arrives faster than one event-loop turn drains it; with the
   * kernel's 208 KiB default the overflow is dropped and costs each phone a 500 ms retransmission (Timer E).
   */
  socketBufferBytes?: number;
  /** Asked with each datagram's source before it is read; false drops it unread (src/sip/auth/flood-guard.ts). */
  admit?: (address: string) => boolean;
}

export class UdpTransport {
  readonly stats: TransportStats = emptyStats();
  /** Datagrams dropped unread because `admit` refused their source. */
  refusedSources = 0;
  private socket: Socket | undefined;
  private readonly opts: UdpTransportOptions;
  private readonly handler: MessageHandler;

  constructor(handler: MessageHandler, options: UdpTransportOptions = {}) {
    this.handler = handler;
    this.opts = options;
  }

  async listen(): Promise<{ address: string; port: number }> {
    const host = this.opts.host ?? '0.0.0.0';
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    this.socket = socket;
    socket.on('message', (buf, rinfo) => this.onDatagram(buf, rinfo.address, rinfo.port));
    // A send error (ICMP unreachable surfacing, etc.) must not take the daemon down.
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.opts.port ?? 5060, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const bufferBytes = this.opts.socketBufferBytes ?? 4 << 20;
    try {
      socket.setRecvBufferSize(bufferBytes);
      socket.setSendBufferSize(bufferBytes);
    } catch {
      // Refused by the kernel (not on Linux with the default limits): the default buffers still work.
    }
    const a = socket.address();
    return { address: a.address, port: a.port };
  }

  private onDatagram(buf: Buffer, address: string, port: number): void {
    if (this.opts.admit && !this.opts.admit(address)) {
      this.refusedSources++;
      return;
    }
    let message;
    try {
      message = parseMessage(buf, this.opts.parse, 'datagram');
    } catch (err) {
      this.stats.parseErrors++;
      if (err instanceof SipParseError) {
        const answer = errorResponseFor(buf, err);
        if (answer) this.send(answer, address, port);
      }
      return;
    }
    this.stats.received++;
    if (message.kind === 'request') stampReceived(message, { address, port });
    this.handler({ message, source: { transport: 'udp', address, port } });
  }

  send(bytes: Buffer, address: string, port: number): void {
    if (!this.socket) return;
    this.stats.sent++;
    this.socket.send(bytes, port, address);
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
