/**
 * StreamTransport dialling out, against real TCP/TLS listeners on loopback (certificates from the openssl CLI):
 * SNI and name checks, queued messages delivered once connected, the far end's messages handed up on the same
 * connection and the connection reused, and the bounds (connect timeout, outbound connections, queue bytes).
 * The TLS dials run on the TLS engine (the transport's TLS listener runs there, the default where it is built);
 * test/tls/sip-dial.test.ts runs this file again with SBD_TLS_ENGINE=node (node:tls, the reference).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamTransport } from '../../../src/sip/transports/stream-transport.js';
import type { InboundMessage } from '../../../src/sip/transports/types.js';
import { have } from './harness.js';
import { dialPath } from './dial-path.js';

const skip = have('openssl') ? false : 'openssl is not installed';
let dir: string;
let ca: string;
let server: { cert: string; key: string };
let client: { cert: string; key: string };

const options = (s: string) =>
  Buffer.from(
    [
      'OPTIONS sip:trunk SIP/2.0',
      'Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-' + s,
      'From: <sip:a@b>;tag=1',
      'To: <sip:c@d>',
      `Call-ID: ${s}@x`,
      'CSeq: 1 OPTIONS',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'sbd-dial-'));
  const ossl = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  ossl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=Dial CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  ]);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:trunk.example,DNS:localhost,IP:127.0.0.1\n');
  for (const n of ['server', 'client']) {
    ossl([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${n}.key`,
      '-out',
      `${n}.csr`,
      '-subj',
      `/CN=${n}`,
    ]);
    ossl([
      'x509',
      '-req',
      '-in',
      `${n}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${n}.pem`,
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ]);
  }
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  ca = read('ca.pem');
  server = { cert: read('server.pem'), key: read('server.key') };
  client = { cert: read('client.pem'), key: read('client.key') };
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function listen(s: Server): Promise<number> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

/** A transport that dials on `dialPath`: on the engine it listens (port 0), so its dial-out runs there. */
async function transport(received: InboundMessage[], extra: ConstructorParameters<typeof StreamTransport>[1] = {}, errors: string[] = []) {
  const t = new StreamTransport((m) => received.push(m), {
    host: '127.0.0.1',
    port: 0,
    tls: { cert: client.cert, key: client.key },
    onConnectError: (_t, e) => errors.push(e.message),
    tlsEngine: dialPath === 'engine' ? 'native' : 'node',
    ...extra,
  });
  if (dialPath === 'engine') await t.listen();
  assert.equal(t.tlsDialPath, dialPath);
  return t;
}

test('TLS dial: SNI from the target, certificate checked against the given CA, queued messages arrive in order, the answer comes up on that connection, reused', {
  skip,
}, async () => {
  const sni: (string | false)[] = [];
  const got: string[] = [];
  const peers: Socket[] = [];
  const far = createTlsServer(
    {
      cert: server.cert,
      key: server.key,
      SNICallback: (name, cb) => {
        sni.push(name);
        cb(null, undefined as never);
      },
    },
    (s) => {
      peers.push(s);
      s.on('data', (d) => {
        got.push(d.toString());
        if (got.join('').split('OPTIONS sip:trunk').length - 1 === 2 && peers.length === 1) {
          s.write(
            [
              'SIP/2.0 200 OK',
              'Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-one',
              'From: <sip:a@b>;tag=1',
              'To: <sip:c@d>;tag=2',
              'Call-ID: one@x',
              'CSeq: 1 OPTIONS',
              'Content-Length: 0',
              '',
              '',
            ].join('\r\n'),
          );
        }
      });
    },
  );
  far.on('secureConnection', () => {});
  const port = await listen(far);
  const received: InboundMessage[] = [];
  const t = await transport(received);
  try {
    assert.equal(t.send('127.0.0.1', port, options('one'), { ca, servername: 'trunk.example' }), true);
    assert.equal(t.send('127.0.0.1', port, options('two'), { ca, servername: 'trunk.example' }), true); // queued while connecting
    for (let i = 0; i < 400 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(received.length, 1);
    assert.equal(received[0]!.message.kind, 'response');
    assert.deepEqual(sni, ['trunk.example']);
    const all = got.join('');
    assert.ok(all.indexOf('Call-ID: one@x') < all.indexOf('Call-ID: two@x'));
    const id = received[0]!.source.connectionId!;
    assert.equal(t.findConnection('127.0.0.1', port), id);
    assert.equal(t.send('127.0.0.1', port, options('three'), { ca }), true);
    for (let i = 0; i < 400 && !got.join('').includes('three@x'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(peers.length, 1); // reused, no second connection
    assert.equal(t.stats.outboundConnections, 1);
  } finally {
    await t.close();
    for (const p of peers) p.destroy();
    await close(far);
  }
});

test('TLS dial to a name: SNI is the name; a certificate from another CA is refused and reported, nothing is sent', { skip }, async () => {
  const sni: string[] = [];
  let bytes = 0;
  const far = createTlsServer(
    {
      cert: server.cert,
      key: server.key,
      SNICallback: (name, cb) => {
        sni.push(name);
        cb(null, undefined as never);
      },
    },
    (s) => s.on('data', (d) => (bytes += d.length)),
  );
  const port = await listen(far);
  const errors: string[] = [];
  const received: InboundMessage[] = [];
  const t = await transport(received, {}, errors);
  try {
    // 'localhost' is a name: it is the SNI; the CA given here did not sign the far end's certificate
    const otherCa = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        '/dev/null',
        '-days',
        '1',
        '-subj',
        '/CN=Other',
      ],
      { encoding: 'utf8' },
    ).stdout;
    assert.match(otherCa, /BEGIN CERTIFICATE/);
    assert.equal(t.send('localhost', port, options('x'), { ca: otherCa }), true);
    for (let i = 0; i < 400 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /certificate/i);
    assert.equal(t.stats.connectFailures, 1);
    assert.equal(bytes, 0);
    assert.ok(sni.length === 0 || sni.every((n) => n === 'localhost'));
    // with the right CA, the name check passes (DNS:localhost in the certificate)
    assert.equal(t.send('localhost', port, options('y'), { ca }), true);
    for (let i = 0; i < 400 && bytes === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(bytes > 0);
    assert.deepEqual([...new Set(sni)], ['localhost']);
  } finally {
    await t.close();
    await close(far);
  }
});

test('bounds: connect timeout, outbound connections, bytes queued while connecting', { skip }, async () => {
  // listeners that accept TCP and never speak TLS: the handshake hangs until connectTimeout
  const silent: Socket[] = [];
  const mute1 = createTcpServer((s) => silent.push(s));
  const mute2 = createTcpServer((s) => silent.push(s));
  const [p1, p2] = [await listen(mute1), await listen(mute2)];
  const errors: string[] = [];
  const t = await transport([], { connectTimeout: 300, maxOutboundConnections: 1, maxPendingWriteBytes: 1000 }, errors);
  try {
    const m = options('q'); // about 200 bytes
    assert.equal(t.send('127.0.0.1', p1, m, { ca }), true);
    assert.equal(t.send('127.0.0.1', p2, m, { ca }), false); // one outbound connection at most
    let queued = 1;
    while (t.send('127.0.0.1', p1, m, { ca })) queued++;
    assert.equal(queued, Math.floor(1000 / m.length));
    for (let i = 0; i < 400 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /within 300 ms/);
    // the slot is free again once the failed connection closed
    for (let i = 0; i < 400 && !t.send('127.0.0.1', p2, m, { ca }); i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(t.stats.connectFailures, 1);
  } finally {
    await t.close();
    for (const s of silent) s.destroy();
    await close(mute1);
    await close(mute2);
  }
});

test("TCP dial: plain connection, message delivered, the far end's request handed up with its connection id", { skip }, async () => {
  let peer: Socket | undefined;
  let got = '';
  const far = createTcpServer((s) => {
    peer = s;
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n\r\n')) s.write(options('back').toString().replace('Via: SIP/2.0/TLS', 'Via: SIP/2.0/TCP'));
    });
  });
  const port = await listen(far);
  const received: InboundMessage[] = [];
  const t = new StreamTransport((m) => received.push(m), { host: '127.0.0.1', port: 0 });
  try {
    assert.equal(t.send('127.0.0.1', port, options('tcp')), true);
    for (let i = 0; i < 400 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(received[0]?.message.kind, 'request');
    assert.equal(received[0]!.source.transport, 'tcp');
    assert.equal(received[0]!.source.address, '127.0.0.1');
    assert.equal(received[0]!.source.port, port);
    assert.equal(t.findConnection('127.0.0.1', port), received[0]!.source.connectionId);
  } finally {
    peer?.destroy();
    await t.close();
    await close(far);
  }
});
