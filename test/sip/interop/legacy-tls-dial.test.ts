/**
 * Dialling an old gateway (issue 18 item 9): a far end that speaks only TLS 1.0 with AES128-SHA (node:tls at
 * security level 0, an RSA certificate made by the openssl CLI) cannot be reached at the default minimum (1.2);
 * with TLSMinVersion 1.0 the same message arrives over TLS 1.0; `setTlsSettings` back to 1.2 refuses the next
 * connection again. The certificate is still verified against the trunk's CA either way. On the TLS engine where it
 * is built (the transports listen, so their dial-out runs there); test/tls/sip-dial.test.ts runs it on node:tls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamTransport } from '../../../src/sip/transports/stream-transport.js';
import { have } from './harness.js';
import { dialPath } from './dial-path.js';

const skip = have('openssl') ? false : 'openssl is not installed';

const options = (s: string) =>
  Buffer.from(
    [
      'OPTIONS sip:gw SIP/2.0',
      `Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-${s}`,
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

test('TLS 1.0 gateway: refused at the default minimum, reached at TLSMinVersion 1.0, refused again after the swap back', {
  skip,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-oldgw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'gw.key',
      '-out',
      'gw.pem',
      '-days',
      '2',
      '-subj',
      '/CN=Old gateway',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { cwd: dir, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const gw = { cert: readFileSync(join(dir, 'gw.pem'), 'utf8'), key: readFileSync(join(dir, 'gw.key'), 'utf8') };

  const got: Array<{ protocol: string | null; cipher: string; bytes: number }> = [];
  const refused: string[] = [];
  const far = createTlsServer({ ...gw, minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'AES128-SHA:@SECLEVEL=0' }, (s: TLSSocket) =>
    s.once('data', (d: Buffer) => got.push({ protocol: s.getProtocol(), cipher: s.getCipher().name, bytes: d.length })),
  );
  far.on('tlsClientError', (e) => refused.push(e.message));
  await new Promise<void>((resolve) => far.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => far.close(() => resolve())));
  const port = (far.address() as { port: number }).port;

  const errors: string[] = [];
  const sbd = new StreamTransport(() => {}, {
    host: '127.0.0.1',
    port: 0,
    tls: { cert: gw.cert, key: gw.key },
    onConnectError: (_t, e) => errors.push(e.message),
    tlsEngine: dialPath === 'engine' ? 'native' : 'node',
  });
  t.after(() => sbd.close());
  if (dialPath === 'engine') await sbd.listen();
  assert.equal(sbd.tlsDialPath, dialPath);
  const waitFor = async (done: () => boolean) => {
    for (let i = 0; i < 400 && !done(); i++) await new Promise((res) => setTimeout(res, 25));
  };

  // Default minimum (1.2): no handshake with the gateway.
  assert.equal(sbd.send('127.0.0.1', port, options('a'), { ca: gw.cert }), true);
  await waitFor(() => errors.length > 0);
  assert.equal(errors.length, 1);
  assert.equal(got.length, 0);

  // The owner lowered TLSMinVersion: the same gateway is reached over TLS 1.0 with AES128-SHA.
  sbd.setTlsSettings({ cert: gw.cert, key: gw.key, minVersion: '1.0' });
  assert.equal(sbd.send('127.0.0.1', port, options('b'), { ca: gw.cert }), true);
  await waitFor(() => got.length > 0);
  assert.deepEqual(got, [{ protocol: 'TLSv1', cipher: 'AES128-SHA', bytes: options('b').length }]);
  assert.equal(errors.length, 1);

  // Back to 1.2 (a transport started at 1.0, then swapped, as sipd does on reload): a new connection is refused.
  await sbd.close();
  const again = new StreamTransport(() => {}, {
    host: '127.0.0.1',
    port: 0,
    tls: { cert: gw.cert, key: gw.key, minVersion: '1.0' },
    onConnectError: (_t, e) => errors.push(e.message),
    tlsEngine: dialPath === 'engine' ? 'native' : 'node',
  });
  t.after(() => again.close());
  if (dialPath === 'engine') await again.listen();
  again.setTlsSettings({ cert: gw.cert, key: gw.key, minVersion: '1.2' });
  assert.equal(again.send('127.0.0.1', port, options('c'), { ca: gw.cert }), true);
  await waitFor(() => errors.length > 1);
  assert.equal(errors.length, 2);
  assert.equal(got.length, 1);
});
