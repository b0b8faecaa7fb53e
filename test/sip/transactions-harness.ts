/**
 * In-memory network for the transaction and dialog tests: two or more endpoints, each a real TransactionTable
 * with a TimerQueue, joined by a link that carries serialized bytes (so every message goes through the real
 * serializer and parser), with a fixed latency, loss rules and a fake clock. `run(until)` processes deliveries
 * and timers in time order; nothing waits on wall-clock time.
 */
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import type { SipMessage, SipRequest, SipResponse } from '../../src/sip/core/messages/message.js';
import type { TransactionAction } from '../../src/sip/core/transactions/actions.js';
import { TimerQueue } from '../../src/sip/core/transactions/timer-queue.js';
import { TransactionTable, type TransactionTableOptions } from '../../src/sip/core/transactions/transaction-table.js';

export const T0 = Date.parse('2026-11-25T10:00:00Z');

export type Flow = string;
export type Action = TransactionAction<Flow>;

export interface Wire {
  at: number;
  from: string;
  to: string;
  message: SipMessage;
  retransmission: boolean;
  dropped: boolean;
}

export class Endpoint {
  readonly name: string;
  readonly table: TransactionTable<Flow>;
  readonly timers = new TimerQueue();
  /** Every action the layer returned, in order, with the time. */
  readonly actions: Array<{ at: number; action: Action }> = [];
  /** The TU: called for deliver / timeout / transport-error / terminated actions. */
  tu: (a: Action, ep: Endpoint) => void = () => {};
  private readonly net: Net;

  constructor(net: Net, name: string, options: TransactionTableOptions<Flow>) {
    this.net = net;
    this.name = name;
    this.table = new TransactionTable<Flow>(options);
  }

  get now(): number {
    return this.net.now;
  }

  apply(actions: Action[]): Action[] {
    this.timers.apply(actions);
    for (const a of actions) {
      this.actions.push({ at: this.net.now, action: a });
      if (a.type === 'send') this.net.transmit(this.name, a.flow, a.bytes, a.retransmission);
    }
    for (const a of actions) if (a.type !== 'send' && a.type !== 'arm' && a.type !== 'cancel') this.tu(a, this);
    return actions;
  }

  sendRequest(req: SipRequest, to: Flow): string {
    const { id, actions } = this.table.sendRequest(req, to, this.net.now);
    this.apply(actions);
    return id;
  }

  respond(id: string, res: SipResponse): void {
    this.apply(this.table.respond(id, res, this.net.now));
  }

  /** Sends bytes outside any transaction (an ACK for a 2xx, §13.2.2.4). */
  sendRaw(to: Flow, bytes: Buffer): void {
    this.net.transmit(this.name, to, bytes, false);
  }

  of<T extends Action['type']>(type: T): Array<Extract<Action, { type: T }>> {
    return this.actions.map((x) => x.action).filter((a): a is Extract<Action, { type: T }> => a.type === type);
  }
}

interface InFlight {
  at: number;
  seq: number;
  from: string;
  to: string;
  bytes: Buffer;
}

export class Net {
  now = T0;
  latency = 10;
  readonly wire: Wire[] = [];
  private readonly endpoints = new Map<string, Endpoint>();
  private inFlight: InFlight[] = [];
  private seq = 0;
  private rules: Array<{ match: (m: SipMessage, from: string) => boolean; left: number }> = [];

  endpoint(name: string, options: TransactionTableOptions<Flow> = {}): Endpoint {
    const ep = new Endpoint(this, name, options);
    this.endpoints.set(name, ep);
    return ep;
  }

  /** Lose the next `times` messages that match (any number: Infinity). */
  drop(match: (m: SipMessage, from: string) => boolean, times = 1): void {
    this.rules.push({ match, left: times });
  }

  transmit(from: string, to: string, bytes: Buffer, retransmission: boolean): void {
    const message = parseMessage(bytes);
    const rule = this.rules.find((r) => r.left > 0 && r.match(message, from));
    if (rule) rule.left--;
    this.wire.push({ at: this.now, from, to, message, retransmission, dropped: rule !== undefined });
    if (!rule) this.inFlight.push({ at: this.now + this.latency, seq: this.seq++, from, to, bytes });
  }

  /** Processes every delivery and timer up to `until` (absolute ms), in time order; leaves the clock there. */
  run(until: number): void {
    for (let guard = 0; guard < 100_000; guard++) {
      let next = Infinity;
      let ep: Endpoint | undefined;
      for (const e of this.endpoints.values()) {
        const t = e.timers.nextAt();
        if (t !== undefined && t < next) {
          next = t;
          ep = e;
        }
      }
      const msg = this.inFlight.reduce<InFlight | undefined>(
        (m, x) => (!m || x.at < m.at || (x.at === m.at && x.seq < m.seq) ? x : m),
        undefined,
      );
      if (msg && msg.at <= next) {
        if (msg.at > until) break;
        this.now = msg.at;
        this.inFlight = this.inFlight.filter((x) => x !== msg);
        const target = this.endpoints.get(msg.to)!;
        target.apply(target.table.receive(parseMessage(msg.bytes), msg.from, this.now));
        continue;
      }
      if (!ep || next > until) break;
      this.now = next;
      for (const d of ep.timers.due(this.now)) ep.apply(ep.table.timerFired(d.id, d.timer, this.now));
    }
    this.now = Math.max(this.now, until);
  }

  /** Messages on the wire from `from` whose first line starts with `start` (e.g. 'INVITE', 'SIP/2.0 486'). */
  sent(from: string, start: string): Wire[] {
    return this.wire.filter((w) => w.from === from && firstLine(w.message).startsWith(start));
  }
}

export function firstLine(m: SipMessage): string {
  return m.kind === 'request' ? m.method : `SIP/2.0 ${m.status}`;
}

let branches = 0;

/** A request as a UA would write it; `branch: null` leaves the branch out (an RFC 2543 peer). */
export function request(
  method: string,
  o: {
    branch?: string | null;
    transport?: string;
    host?: string;
    port?: number;
    cseq?: number;
    callId?: string;
    fromTag?: string;
    toTag?: string;
    uri?: string;
    extra?: string[];
    body?: string;
  } = {},
): SipRequest {
  const branch = o.branch === null ? '' : `;branch=${o.branch ?? `z9hG4bKtest${++branches}`}`;
  const lines = [
    `${method} ${o.uri ?? 'sip:bob@127.0.0.1:5070'} SIP/2.0`,
    `Via: SIP/2.0/${o.transport ?? 'UDP'} ${o.host ?? '127.0.0.1'}:${o.port ?? 5060}${branch}`,
    'Max-Forwards: 70',
    `From: "Alice" <sip:alice@127.0.0.1>;tag=${o.fromTag ?? 'a1'}`,
    `To: <sip:bob@127.0.0.1>${o.toTag ? ';tag=' + o.toTag : ''}`,
    `Call-ID: ${o.callId ?? 'c1@127.0.0.1'}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    ...(o.extra ?? []),
    `Content-Length: ${Buffer.byteLength(o.body ?? '')}`,
    '',
    o.body ?? '',
  ];
  return parseMessage(Buffer.from(lines.join('\r\n'))) as SipRequest;
}

/** §8.2.6.2: Via, From, To (with our tag unless the request had one, never on a 100), Call-ID, CSeq copied. */
export function respondTo(req: SipRequest, status: number, o: { toTag?: string; extra?: string[]; reason?: string } = {}): SipResponse {
  const copy = (n: string) => req.headers.filter((h) => h.name.toLowerCase() === n).map((h) => `${h.name}: ${h.value}`);
  const to = req.get('To')!;
  const hasTag = req.to().params.has('tag');
  const lines = [
    `SIP/2.0 ${status} ${o.reason ?? 'Reason'}`,
    ...copy('via'),
    ...copy('record-route'),
    ...copy('from'),
    `To: ${to}${!hasTag && status > 100 ? ';tag=' + (o.toTag ?? 'b1') : ''}`,
    ...copy('call-id'),
    ...copy('cseq'),
    ...(o.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ];
  return parseMessage(Buffer.from(lines.join('\r\n'))) as SipResponse;
}
