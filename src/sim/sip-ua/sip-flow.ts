/**
 * The phone's one flow to its SIP server (the phone's outbound proxy, as a Cisco phone keeps one TLS connection
 * to its call manager, RFC 5626 style): TLS or TCP framed by Content-Length with the core `StreamFramer`, or UDP
 * datagrams. Thin I/O: bytes out, parsed messages in; a message that does not parse is dropped and counted.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseMessage } from '../../sip/core/messages/parser.js';
import type { SipMessage } from '../../sip/core/messages/message.js';
import { StreamFramer } from '../../sip/core/messages/stream-framer.js';
import { SipUaError, SipUaErrorCode } from './errors.js';

export type FlowTransport = 'tls' | 'tcp' | 'udp';

export interface SipFlowOptions {
  transport: FlowTransport;
  host: string;
  port: number;
  /** TLS: CAs the server certificate must chain to (the phone's ITL/CTL signer: CallManager); absent → not checked. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** TLS: the phone's LSC and its key, for mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Milliseconds to connect; default 15000. */
  connectTimeoutMs?: number;
  /**
   * UDP: the phone's own address to send from (default: the system's choice, 127.0.0.1 on loopback). Many
   * simulated phones from one address look like phones behind one NAT, which sbd's flood guard bans for a burst of
   * challenges (sip/auth/flood-guard.ts); a bench gives each phone its own, as real phones have.
   */
  localAddress?: string;
}

export class SipFlow {
  readonly transport: FlowTransport;
  /** Our side of the flow, for Via and Contact. */
  localAddress = '';
  localPort = 0;
  parseErrors = 0;
  private stream: Socket | undefined;
  private udp: UdpSocket | undefined;
  private readonly o: SipFlowOptions;
  private onMessage: (m: SipMessage) => void = () => {};
  private onClose: (err?: Error) => void = () => {};

  private constructor(o: SipFlowOptions) {
    this.o = o;
    this.transport = o.transport;
  }

  static async connect(o: SipFlowOptions, onMessage: (m: SipMessage) => void, onClose: (err?: Error) => void): Promise<SipFlow> {
    const f = new SipFlow(o);
    f.onMessage = onMessage;
    f.onClose = onClose;
    await f.open();
    return f;
  }

  private async open(): Promise<void> {
    const o = this.o;
    if (o.transport === 'udp') {
      const s = createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        const connect = () =>
          s.connect(o.port, o.host, () => {
            s.off('error', reject);
            resolve();
          });
        if (o.localAddress) s.bind({ address: o.localAddress, port: 0 }, connect);
        else connect();
      });
      s.on('message', (b) => this.deliver(b, 'datagram'));
      s.on('error', () => {});
      this.udp = s;
      const a = s.address();
      this.localAddress = a.address;
      this.localPort = a.port;
      return;
    }
    const sock: Socket =
      o.transport === 'tls'
        ? tlsConnect({
            host: o.host,
            port: o.port,
            ...(o.ca ? { ca: o.ca } : { rejectUnauthorized: false }),
            ...(o.cert ? { cert: o.cert } : {}),
            ...(o.key ? { key: o.key } : {}),
            // The server is named by the certificate the phone trusts, not by the address it dials.
            checkServerIdentity: () => undefined,
            minVersion: 'TLSv1.2',
          })
        : tcpConnect(o.port, o.host);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new SipUaError(SipUaErrorCode.transport, `connect to ${o.host}:${o.port} timed out`));
      }, o.connectTimeoutMs ?? 15_000);
      sock.once(o.transport === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve();
      });
      sock.once('error', (err) => {
        clearTimeout(timer);
        reject(
          new SipUaError(SipUaErrorCode.transport, `${o.transport} connection to ${o.host}:${o.port} failed: ${err.message}`, {
            cause: err,
          }),
        );
      });
    });
    const framer = new StreamFramer();
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => {
      for (const ev of framer.push(chunk)) {
        if (ev.type === 'message') this.deliver(ev.bytes, 'stream');
        else if (ev.type === 'error') {
          sock.destroy(new SipUaError(SipUaErrorCode.transport, 'server sent a stream that does not frame'));
          return;
        }
      }
    });
    let closedErr: Error | undefined;
    sock.on('error', (err) => {
      closedErr = err;
    });
    sock.on('close', () => this.onClose(closedErr));
    this.stream = sock;
    this.localAddress = sock.localAddress ?? '';
    this.localPort = sock.localPort ?? 0;
  }

  private deliver(bytes: Buffer, kind: 'stream' | 'datagram'): void {
    let m: SipMessage;
    try {
      m = parseMessage(bytes, undefined, kind);
    } catch {
      this.parseErrors++;
      return;
    }
    this.onMessage(m);
  }

  send(bytes: Buffer): void {
    if (this.udp) this.udp.send(bytes);
    else if (this.stream && !this.stream.destroyed) this.stream.write(bytes);
    else throw new SipUaError(SipUaErrorCode.transport, 'the flow to the SIP server is closed');
  }

  close(): void {
    this.stream?.destroy();
    this.udp?.close();
    this.stream = undefined;
    this.udp = undefined;
  }
}
