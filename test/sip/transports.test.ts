// Transports on loopback: UDP, TCP and TLS listeners with real sockets and real OpenSSL certificates.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { UdpTransport } from '../../src/sip/transports/udp-transport.js';
import { StreamTransport } from '../../src/sip/transports/stream-transport.js';
import type { InboundMessage } from '../../src/sip/transports/types.js';
import { SipResponse } from '../../src/sip/core/messages/message.js';
import { serializeMessage } from '../../src/sip/core/messages/serializer.js';
import { responseDestination } from '../../src/sip/core/messages/response-routing.js';
import { parseMessage } from '../../src/sip/core/messages/parser.js';

const options = (branch: string, transport = 'UDP', via = '192.0.2.9:5062;rport'): Buffer =>
  Buffer.from(
    [
      'OPTIONS sip:sbd@127.0.0.1 SIP/2.0',
      `Via: SIP/2.0/${transport} ${via};branch=z9hG4bK${branch}`,
      'Max-Forwards: 70',
      'From: <sip:1001@sbd.example>;tag=a1',
      'To: <sip:sbd@sbd.example>',
      `Call-ID: ${branch}@test`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );

/** Answer every request with 200 OK through the same path a daemon would use. */
function echo200(send: (bytes: Buffer, inb: InboundMessage) => void) {
  return (inb: InboundMessage): void => {
    const m = inb.message;
    if (m.kind !== 'request') return;
    const r = new SipResponse(
      200,
      'OK',
      m.headers.filter((h) => /^(via|v|from|f|to|t|call-id|i|cseq)$/i.test(h.name)),
    );
    send(serializeMessage(r), inb);
  };
}

function readUntil(sock: Socket, pattern: RegExp, timeoutMs = 20000): Promise<string> {
  return new Promise((resolve, reject) => {
    let acc = '';
    const timer = setTimeout(() => reject(new Error(`timeout waiting for ${pattern}; got ${JSON.stringify(acc)}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      acc += d.toString('utf8');
      if (pattern.test(acc)) {
        clearTimeout(timer);
        sock.off('data', onData);
        resolve(acc);
      }
    };
    sock.on('data', onData);
  });
}

test('UDP: request answered to received/rport; garbage answered with 400 when readable, dropped otherwise', async () => {
  const udp: UdpTransport = new UdpTransport(
    echo200((bytes, inb) => {
      const d = responseDestination(parseMessage(bytes));
      assert.equal(inb.source.address, '127.0.0.1');
      udp.send(bytes, d.address, d.port);
    }),
    { host: '127.0.0.1', port: 0 },
  );
  const { port } = await udp.listen();
  const client = createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  const replies: string[] = [];
  const got = (n: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (replies.length >= n) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
  client.on('message', (m) => replies.push(m.toString()));
  client.send(options('udp1'), port, '127.0.0.1');
  await got(1);
  const myPort = client.address().port;
  assert.match(replies[0]!, /^SIP\/2\.0 200 OK\r\n/);
  assert.match(
    replies[0]!,
    new RegExp(`Via: SIP/2\\.0/UDP 192\\.0\\.2\\.9:5062;rport=${myPort};branch=z9hG4bKudp1;received=127\\.0\\.0\\.1\\r\\n`),
  );
  // A request with a bad CSeq is answered by the transport itself (§8.2.6), with the reason.
  client.send(Buffer.from(options('udp2').toString().replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE')), port, '127.0.0.1');
  await got(2);
  assert.match(replies[1]!, /^SIP\/2\.0 400 Bad Request \(CSeq method does not match the request method\)/);
  client.send(Buffer.from([0, 1, 2, 3, 0xff]), port, '127.0.0.1');
  client.send(options('udp3'), port, '127.0.0.1');
  await got(3);
  assert.match(replies[2]!, /branch=z9hG4bKudp3/);
  assert.equal(udp.stats.parseErrors, 2);
  client.close();
  await udp.close();
});

test('TCP: responses reuse the connection; pipelined and split messages; ping/pong; framing error closes', async () => {
  const tcp: StreamTransport = new StreamTransport(
    echo200((bytes, inb) => assert.ok(tcp.sendOn(inb.source.connectionId!, bytes))),
    { host: '127.0.0.1', port: 0 },
  );
  const { port } = await tcp.listen();
  const c = tcpConnect(port, '127.0.0.1');
  await once(c, 'connect');
  const two = Buffer.concat([options('t1', 'TCP'), options('t2', 'TCP')]);
  c.write(two.subarray(0, 100));
  c.write(two.subarray(100));
  const r = await readUntil(c, /z9hG4bKt2/);
  assert.equal(r.match(/SIP\/2\.0 200 OK/g)!.length, 2);
  assert.match(r, new RegExp(`rport=${c.localPort};branch=z9hG4bKt1;received=127\\.0\\.0\\.1`));
  c.write('\r\n\r\n');
  assert.equal(await readUntil(c, /\r\n/), '\r\n');
  assert.equal(tcp.findConnection('127.0.0.1', c.localPort!) !== undefined, true);
  c.write('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\n\r\n'); // no Content-Length
  await once(c, 'close');
  assert.equal(tcp.stats.parseErrors, 1);
  await tcp.close();
});

test('TCP limits: connections beyond maxConnections are closed; idle connections time out', async () => {
  const tcp = new StreamTransport(() => {}, { host: '127.0.0.1', port: 0, maxConnections: 2, idleTimeout: 300 });
  const { port } = await tcp.listen();
  const a = tcpConnect(port, '127.0.0.1');
  const b = tcpConnect(port, '127.0.0.1');
  await Promise.all([once(a, 'connect'), once(b, 'connect')]);
  while (tcp.connectionCount < 2) await new Promise((r) => setTimeout(r, 10));
  const extra = tcpConnect(port, '127.0.0.1');
  extra.on('error', () => {});
  await new Promise<void>((resolve) => extra.on('close', () => resolve()));
  assert.equal(tcp.stats.rejectedConnections, 1);
  // Idle: both first connections are closed by the server without any traffic.
  await Promise.all([once(a, 'close'), once(b, 'close')]);
  while (tcp.connectionCount > 0) await new Promise((r) => setTimeout(r, 10));
  await tcp.close();
});

// test/tls/sip-transports.test.ts runs this file again with SBD_TLS_ENGINE=node (node:tls; the default is the C engine).
const engineWord = process.env.SBD_TLS_ENGINE;
const tlsEngine = engineWord === 'native' || engineWord === 'node' ? { tlsEngine: engineWord as 'native' | 'node' } : {};
let dir = '';
const pem = (n: string): Buffer => readFileSync(join(dir, n));
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sbd-sip-tls-'));
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test CAPF');
  // A self-signed "LSC" no CAPF issued: presented, but it must not verify.
  ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'rogue.key',
    '-out',
    'rogue.pem',
    '-days',
    '2',
    '-subj',
    '/CN=SEP001122334455',
  );
  for (const n of ['server', 'phone']) {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${n}.key`,
      '-out',
      `${n}.csr`,
      '-subj',
      `/CN=${n === 'phone' ? 'SEP001122334455' : 'sbd'}`,
    );
    ssl('x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${n}.pem`, '-days', '2');
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function tlsClient(port: number, opts: Record<string, unknown>): Promise<TLSSocket> {
  const s = tlsConnect({ host: '127.0.0.1', port, ca: pem('ca.pem'), servername: 'sbd', checkServerIdentity: () => undefined, ...opts });
  await once(s, 'secureConnect');
  return s;
}

test('TLS 1.2 with the default ECDHE-RSA-AES-GCM ciphers, TLS 1.3, and a SIP exchange over it', async () => {
  const tls: StreamTransport = new StreamTransport(
    echo200((bytes, inb) => tls.sendOn(inb.source.connectionId!, bytes)),
    { host: '127.0.0.1', port: 0, tls: { cert: pem('server.pem'), key: pem('server.key') }, ...tlsEngine },
  );
  const { port } = await tls.listen();
  const c12 = await tlsClient(port, { maxVersion: 'TLSv1.2' });
  assert.equal(c12.getProtocol(), 'TLSv1.2');
  assert.equal(c12.getCipher().standardName, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384');
  c12.write(options('tls12', 'TLS'));
  assert.match(await readUntil(c12, /\r\n\r\n/), /^SIP\/2\.0 200 OK\r\n/);
  c12.destroy();
  const c13 = await tlsClient(port, { minVersion: 'TLSv1.3' });
  assert.equal(c13.getProtocol(), 'TLSv1.3');
  c13.write(options('tls13', 'TLS'));
  assert.match(await readUntil(c13, /\r\n\r\n/), /branch=z9hG4bKtls13/);
  c13.destroy();
  // A client offering only a cipher outside the configured list cannot connect.
  const weak = tlsConnect({
    host: '127.0.0.1',
    port,
    ca: pem('ca.pem'),
    maxVersion: 'TLSv1.2',
    ciphers: 'AES128-SHA',
    checkServerIdentity: () => undefined,
  });
  const [err] = await once(weak, 'error');
  assert.ok(err instanceof Error);
  await tls.close();
});

test('mutual TLS: the phone certificate is required and reported; without one the handshake fails', async () => {
  const seen: InboundMessage[] = [];
  const tls: StreamTransport = new StreamTransport(
    (inb) => {
      seen.push(inb);
      tls.sendOn(
        inb.source.connectionId!,
        Buffer.from(
          'SIP/2.0 200 OK\r\n' +
            inb.message.headers
              .filter((h) => /^(via|from|to|call-id|cseq)$/i.test(h.name))
              .map((h) => `${h.name}: ${h.value}`)
              .join('\r\n') +
            '\r\nContent-Length: 0\r\n\r\n',
        ),
      );
    },
    {
      host: '127.0.0.1',
      port: 0,
      tls: { cert: pem('server.pem'), key: pem('server.key'), ca: pem('ca.pem'), requireClientCertificate: true },
      ...tlsEngine,
    },
  );
  const { port } = await tls.listen();
  const phone = await tlsClient(port, { cert: pem('phone.pem'), key: pem('phone.key') });
  phone.write(options('mtls', 'TLS'));
  await readUntil(phone, /\r\n\r\n/);
  assert.equal(seen[0]!.source.peerCertificate?.subject, 'CN=SEP001122334455');
  assert.equal(seen[0]!.source.peerCertificate?.issuer, 'CN=Test CAPF');
  phone.destroy();
  const anon = tlsConnect({ host: '127.0.0.1', port, ca: pem('ca.pem'), checkServerIdentity: () => undefined });
  anon.on('error', () => {});
  anon.on('secureConnect', () => anon.write(options('anon', 'TLS')));
  // events.once would reject on the 'error' the certificate_required alert raises: wait for close itself.
  await new Promise<void>((resolve) => anon.on('close', () => resolve()));
  assert.equal(seen.length, 1, 'no message accepted without a client certificate');
  await tls.close();
});

test('one TLS listener, certificate requested but not required: LSC phone reported, cert-less and unverifiable clients served without one', async () => {
  const seen: InboundMessage[] = [];
  const tls: StreamTransport = new StreamTransport(
    echo200((bytes, inb) => {
      seen.push(inb);
      tls.sendOn(inb.source.connectionId!, bytes);
    }),
    {
      host: '127.0.0.1',
      port: 0,
      tls: { cert: pem('server.pem'), key: pem('server.key'), ca: pem('ca.pem'), requestClientCertificate: true },
      ...tlsEngine,
    },
  );
  const { port } = await tls.listen();
  for (const [name, opts] of [
    ['lsc', { cert: pem('phone.pem'), key: pem('phone.key') }],
    ['none', {}],
    ['rogue', { cert: pem('rogue.pem'), key: pem('rogue.key') }],
  ] as const) {
    const c = await tlsClient(port, opts);
    c.write(options(name, 'TLS'));
    assert.match(await readUntil(c, /\r\n\r\n/), new RegExp(`branch=z9hG4bK${name}`));
    c.destroy();
  }
  assert.equal(seen.length, 3);
  assert.equal(seen[0]!.source.peerCertificate?.subject, 'CN=SEP001122334455');
  assert.equal(seen[0]!.source.peerCertificate?.issuer, 'CN=Test CAPF');
  assert.equal(seen[1]!.source.peerCertificate, undefined, 'no certificate presented');
  assert.equal(seen[2]!.source.peerCertificate, undefined, 'a certificate not chained to the CA is not handed up');
  await tls.close();
});
