/** A router on a real store with three registered phones and a trunk, for the relay and SRTP-legs attack tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import type { SipMessage, SipRequest, SipResponse } from '../../src/sip/core/messages/message.js';
import { serializeMessage } from '../../src/sip/core/messages/serializer.js';
import { DigestServer } from '../../src/sip/core/auth/digest.js';
import { Registrar } from '../../src/sip/registrar/registrar.js';
import { ApplianceDirectory, StoreRoutingDirectory } from '../../src/daemons/adapters/sip-store.js';
import { Router, type Listener, type RouterAction } from '../../src/sip/routing/router.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { MessageSource, TransportKind } from '../../src/sip/transports/types.js';

export const NOW = Date.parse('2026-12-06T10:00:00Z');
export const flow = (port: number, transport: TransportKind = 'udp', address = '127.0.0.1'): MessageSource => ({
  transport,
  address,
  port,
  ...(transport === 'udp' ? {} : { connectionId: port }),
});

export interface Fixture {
  store: Store;
  router: Router;
  registrar: Registrar;
  done(): void;
}

/** Phones 1001..1003 registered from 127.0.0.1:600N over `transports[N-1]` (default UDP). */
export function fixture(
  transports: TransportKind[] = ['udp', 'udp', 'udp'],
  listeners: Listener[] = [
    { transport: 'udp', host: '127.0.0.1', port: 5060 },
    { transport: 'tcp', host: '127.0.0.1', port: 5060 },
    { transport: 'tls', host: '127.0.0.1', port: 5061 },
  ],
): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-relay-'));
  const store = openStore(join(dir, 'sbd.db'), { create: true });
  const profile = 'Universal Device Template - Model-independent Security Profile';
  for (const n of [1, 2, 3])
    store.addDevice({ name: `SEP00000000000${n}`, model: '8841', directoryNumber: `100${n}`, securityProfile: profile });
  const directory = new ApplianceDirectory(store, { refreshMs: 0, now: () => NOW });
  const digest = new DigestServer({ realm: 'ccmsipline', secret: Buffer.alloc(32, 1) });
  const registrar = new Registrar({ digest, directory });
  for (const n of [1, 2, 3]) {
    const t = transports[n - 1] ?? 'udp';
    registrar.bindings.store(`100${n}`, [
      {
        contact: `sip:100${n}@127.0.0.1:600${n};transport=${t}`,
        q: 1000,
        expiresAt: NOW + 600_000,
        callId: 'x',
        cseq: 1,
        source: flow(6000 + n, t),
        device: `SEP00000000000${n}`,
      },
    ]);
  }
  const router = new Router(
    { registrar, directory, routing: new StoreRoutingDirectory(store), digest, routeKey: Buffer.alloc(32, 7) },
    listeners,
  );
  return {
    store,
    router,
    registrar,
    done: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const parse = <T extends SipMessage>(lines: string[], body = ''): T =>
  parseMessage(
    Buffer.from(
      [...lines, ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'),
    ),
  ) as T;

/** Through the wire format and back. */
export const wire = <T extends SipMessage>(m: SipMessage): T => parseMessage(serializeMessage(m)) as T;

/** Every message the action would send, with where to. */
export function sends(a: RouterAction): { message: SipMessage; host: string; port: number }[] {
  if (a.type === 'several') return a.actions.flatMap(sends);
  if (a.type !== 'forward') return [];
  const t = a.target;
  return [{ message: a.message, host: t.kind === 'flow' ? t.source.address : t.host, port: t.kind === 'flow' ? t.source.port : t.port }];
}

export function status(a: RouterAction): number | undefined {
  return a.type === 'respond' ? a.response.status : undefined;
}

/** The far end's response to a forwarded request: its Vias and Record-Routes copied, a To tag added. */
export function answer(
  req: SipRequest,
  code: number,
  reason: string,
  extra: string[] = [],
  body = '',
  contact = 'sip:1002@127.0.0.1:6002;transport=udp',
): SipResponse {
  const vias = req.headers.filter((h) => /^(via|v)$/i.test(h.name)).map((h) => `Via: ${h.value}`);
  const rr = req.headers.filter((h) => /^record-route$/i.test(h.name)).map((h) => `Record-Route: ${h.value}`);
  return parse<SipResponse>(
    [
      `SIP/2.0 ${code} ${reason}`,
      ...vias,
      `From: ${req.get('From')}`,
      `To: ${req.get('To')}${req.to().params.has('tag') ? '' : ';tag=callee'}`,
      `Call-ID: ${req.callId()}`,
      `CSeq: ${req.get('CSeq')}`,
      ...(code < 300 && req.method === 'INVITE' ? rr : []),
      ...(code < 300 && ['INVITE', 'UPDATE'].includes(req.method) ? [`Contact: <${contact}>`] : []),
      ...extra,
    ],
    body,
  );
}
