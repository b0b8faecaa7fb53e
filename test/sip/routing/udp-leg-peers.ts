/**
 * Peers for the UDP-leg tests: a phone on a raw TCP or TLS connection (it never retransmits, as RFC 3261 §17.1.1.2
 * says a client on a reliable transport must not) and a UDP "trunk" socket that can drop what it receives.
 * Messages are built as text and parsed with sbd's own parser; every wait is bounded.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import type { SipMessage, SipRequest, SipResponse } from '../../../src/sip/core/messages/message.js';
import { StreamFramer } from '../../../src/sip/core/messages/stream-framer.js';
import { answerChallenge } from '../../../src/sip/core/auth/digest.js';

type Waiter = { pred: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void };

/** Queue of received messages with bounded waits for the first one matching. */
class Inbox<M extends { message: SipMessage }> {
  readonly all: M[] = [];
  private readonly pending: M[] = [];
  private waiters: (Omit<Waiter, 'resolve'> & { resolve: (m: M) => void })[] = [];

  push(m: M): void {
    this.all.push(m);
    const w = this.waiters.find((x) => x.pred(m.message));
    if (w) {
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(m);
    } else this.pending.push(m);
  }

  next(pred: (m: SipMessage) => boolean, what: string, timeoutMs = 30_000): Promise<M> {
    const i = this.pending.findIndex((m) => pred(m.message));
    if (i >= 0) return Promise.resolve(this.pending.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (m: M) => {
          clearTimeout(t);
          resolve(m);
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out waiting for ${what}; received: ${this.all.map((m) => startLine(m.message)).join(' | ')}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

export function startLine(m: SipMessage): string {
  return m.kind === 'request' ? `${m.method} ${m.cseq().seq}` : `${m.status} ${m.cseq().seq} ${m.cseq().method}`;
}

export const isRequest = (method: string) => (m: SipMessage) => m.kind === 'request' && m.method === method;
export const isResponse = (status: number, method: string) => (m: SipMessage) =>
  m.kind === 'response' && m.status === status && m.cseq().method === method;

export function sipText(lines: string[], body = ''): Buffer {
  return Buffer.from([...lines, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
}

/** A phone on one TCP or TLS connection to sbd. */
export class TcpPhone {
  readonly transport: 'TCP' | 'TLS';
  readonly inbox = new Inbox<{ message: SipMessage }>();
  readonly user: string;
  readonly callId = `${randomBytes(6).toString('hex')}@tcp-phone`;
  readonly tag = randomBytes(4).toString('hex');
  private readonly sock: Socket;
  private readonly framer = new StreamFramer();

  private constructor(sock: Socket, user: string, transport: 'TCP' | 'TLS') {
    this.sock = sock;
    this.user = user;
    this.transport = transport;
    sock.on('data', (d) => {
      for (const e of this.framer.push(d)) if (e.type === 'message') this.inbox.push({ message: parseMessage(e.bytes, {}, 'stream') });
    });
    sock.on('error', () => {});
  }

  static connect(port: number, user: string): Promise<TcpPhone> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new TcpPhone(s, user, 'TCP')));
      s.once('error', reject);
    });
  }

  /** Over TLS 1.2+, sbd's CallManager certificate checked against `ca` (its own PEM: it is self-signed). */
  static connectTls(port: number, user: string, ca: string): Promise<TcpPhone> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca, checkServerIdentity: () => undefined, minVersion: 'TLSv1.2' }, () =>
        resolve(new TcpPhone(s, user, 'TLS')),
      );
      s.once('error', reject);
    });
  }

  get local(): string {
    return `127.0.0.1:${this.sock.localPort}`;
  }

  via(): string {
    return `Via: SIP/2.0/${this.transport} ${this.local};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`;
  }

  send(bytes: Buffer): void {
    this.sock.write(bytes);
  }

  /** REGISTER → 401 → REGISTER with digest → 200 over this connection. */
  async register(password: string, sbdPort: number): Promise<void> {
    const reg = (cseq: number, extra: string[]) =>
      sipText([
        `REGISTER sip:127.0.0.1:${sbdPort} SIP/2.0`,
        this.via(),
        `From: <sip:${this.user}@127.0.0.1>;tag=r${this.tag}`,
        `To: <sip:${this.user}@127.0.0.1>`,
        `Call-ID: reg-${this.callId}`,
        `CSeq: ${cseq} REGISTER`,
        `Contact: <sip:${this.user}@${this.local};transport=${this.transport.toLowerCase()}>`,
        'Max-Forwards: 70',
        'Expires: 300',
        ...extra,
      ]);
    this.send(reg(1, []));
    const c = (await this.inbox.next(isResponse(401, 'REGISTER'), '401 to REGISTER')).message as SipResponse;
    const auth = answerChallenge({
      challenge: c.get('WWW-Authenticate')!,
      method: 'REGISTER',
      uri: `sip:127.0.0.1:${sbdPort}`,
      username: this.user,
      secret: { password },
      cnonce: 'abcdef01',
      nc: 1,
    });
    this.send(reg(2, [`Authorization: ${auth}`]));
    await this.inbox.next(isResponse(200, 'REGISTER'), '200 to REGISTER');
  }

  /** An INVITE (CSeq 1) to `number` through sbd; returns its Via branch. */
  invite(number: string, sbdPort: number): string {
    const via = this.via();
    const sdp = [
      'v=0',
      'o=- 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      'm=audio 4000 RTP/AVP 0',
      'a=rtpmap:0 PCMU/8000',
      '',
    ].join('\r\n');
    this.send(
      sipText(
        [
          `INVITE sip:${number}@127.0.0.1:${sbdPort} SIP/2.0`,
          via,
          `From: <sip:${this.user}@127.0.0.1>;tag=${this.tag}`,
          `To: <sip:${number}@127.0.0.1>`,
          `Call-ID: ${this.callId}`,
          'CSeq: 1 INVITE',
          `Contact: <sip:${this.user}@${this.local};transport=${this.transport.toLowerCase()}>`,
          'Max-Forwards: 70',
          'Content-Type: application/sdp',
        ],
        sdp,
      ),
    );
    return via;
  }

  /** CANCEL of the INVITE sent with `via` (§9.1: same Via, Request-URI, Call-ID, From, To, CSeq number). */
  cancel(via: string, number: string, sbdPort: number): void {
    this.send(
      sipText([
        `CANCEL sip:${number}@127.0.0.1:${sbdPort} SIP/2.0`,
        via,
        `From: <sip:${this.user}@127.0.0.1>;tag=${this.tag}`,
        `To: <sip:${number}@127.0.0.1>`,
        `Call-ID: ${this.callId}`,
        'CSeq: 1 CANCEL',
        'Max-Forwards: 70',
      ]),
    );
  }

  /** ACK of a non-2xx final (§17.1.1.3: the INVITE's Via, To from the response). */
  ackNon2xx(via: string, res: SipResponse, number: string, sbdPort: number): void {
    this.send(
      sipText([
        `ACK sip:${number}@127.0.0.1:${sbdPort} SIP/2.0`,
        via,
        `From: <sip:${this.user}@127.0.0.1>;tag=${this.tag}`,
        `To: ${res.get('To')}`,
        `Call-ID: ${this.callId}`,
        'CSeq: 1 ACK',
        'Max-Forwards: 70',
      ]),
    );
  }

  /** An in-dialog request after the 2xx `ok`: Request-URI its Contact, Route the reversed Record-Route (§12.1.2). */
  inDialog(method: 'ACK' | 'BYE', cseq: number, ok: SipResponse): void {
    const target = /<([^>]+)>/.exec(ok.get('Contact')!)![1]!;
    const routes = ok.getAll('Record-Route').reverse();
    this.send(
      sipText([
        `${method} ${target} SIP/2.0`,
        this.via(),
        `From: <sip:${this.user}@127.0.0.1>;tag=${this.tag}`,
        `To: ${ok.get('To')}`,
        `Call-ID: ${this.callId}`,
        `CSeq: ${cseq} ${method}`,
        ...routes.map((r) => `Route: ${r}`),
        'Max-Forwards: 70',
      ]),
    );
  }

  close(): void {
    this.sock.destroy();
  }
}

/** A UDP peer (the trunk): records every datagram, answers through `reply`. */
export class UdpPeer {
  readonly inbox = new Inbox<{ message: SipMessage; from: { address: string; port: number } }>();
  private readonly sock: UdpSocket;

  private constructor(sock: UdpSocket) {
    this.sock = sock;
    sock.on('message', (b, r) => this.inbox.push({ message: parseMessage(b), from: { address: r.address, port: r.port } }));
  }

  static async bind(host: string): Promise<UdpPeer> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, host, r));
    return new UdpPeer(s);
  }

  get port(): number {
    return this.sock.address().port;
  }

  get host(): string {
    return this.sock.address().address;
  }

  /** Every received request of `method`, in order. */
  received(method: string): SipRequest[] {
    return this.inbox.all.map((m) => m.message).filter((m): m is SipRequest => m.kind === 'request' && m.method === method);
  }

  /** A response to `req` (Vias, From, To with `toTag` when it has none, Call-ID, CSeq; Record-Route on 1xx/2xx to INVITE). */
  reply(req: SipRequest, to: { address: string; port: number }, status: number, reason: string, toTag = 'trunk1', body = ''): void {
    const lines = [
      `SIP/2.0 ${status} ${reason}`,
      ...req.getAll('Via').map((v) => `Via: ${v}`),
      `From: ${req.get('From')}`,
      `To: ${req.get('To')}${req.to().params.get('tag') === undefined && status > 100 ? `;tag=${toTag}` : ''}`,
      `Call-ID: ${req.callId()}`,
      `CSeq: ${req.get('CSeq')}`,
    ];
    if (req.method === 'INVITE' && status < 300) {
      lines.push(...req.getAll('Record-Route').map((r) => `Record-Route: ${r}`), `Contact: <sip:9123@${this.host}:${this.port}>`);
    }
    if (body) lines.push('Content-Type: application/sdp');
    this.sock.send(sipText(lines, body), to.port, to.address);
  }

  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}
