/**
 * The TLS engine (native/tls-*.c through src/tls/engine-service.ts) on its own: bytes both ways and the close,
 * versions and suites, resumption with rotating ticket keys, client certificates (a phone LSC issued by the
 * store's CAPF), the caps counted from accept, and the handshake deadline. Each policy check runs against node:tls
 * too where node:tls is the reference.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import type tls from 'node:tls';
import { privateKeyOf } from '../../src/pki/identity-store.js';
import { issueLsc } from '../../src/pki/lsc.js';
import { generateIdentity } from '../../src/pki/profiles.js';
import type { TlsEngineService } from '../../src/tls/engine-service.js';
import { echoService, engineMissing, roundTrip } from './helpers.js';

const skip = engineMissing;

test('bytes both ways: 4 MiB echoed byte-exactly through the relay (both directions flow-controlled), then a clean close', {
  skip,
}, async (t) => {
  const { port, service } = await echoService(t, 'engine');
  const big = randomBytes(4 << 20);
  const r = await roundTrip(port, big);
  assert.equal(r.data.length, big.length);
  assert.ok(r.data.equals(big));
  // The connection is gone on the engine's side too once both ends closed.
  for (let i = 0; i < 500 && (await service.connectionCount()) > 0; i++) await new Promise((x) => setTimeout(x, 10));
  assert.equal(await service.connectionCount(), 0);
});

test('versions and suites: TLS 1.3 and 1.2 with the store cipher order; TLS 1.1 and non-ECDHE or non-GCM suites refused, as node:tls', {
  skip,
}, async (t) => {
  for (const path of ['engine', 'node'] as const) {
    const { port, errors, sockets } = await echoService(t, path);
    const v13 = await roundTrip(port, Buffer.from('x'));
    assert.equal(v13.protocol, 'TLSv1.3', path);
    assert.match(v13.cipher, /^TLS_AES_(256|128)_GCM_SHA(384|256)$/, path);
    const v12 = await roundTrip(port, Buffer.from('x'), { maxVersion: 'TLSv1.2' });
    assert.equal(v12.protocol, 'TLSv1.2', path);
    assert.equal(v12.cipher, 'ECDHE-RSA-AES256-GCM-SHA384', path);
    const before = errors.length;
    await assert.rejects(
      roundTrip(port, Buffer.from('x'), { maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0' }),
      path,
    );
    await assert.rejects(
      roundTrip(port, Buffer.from('x'), { maxVersion: 'TLSv1.2', ciphers: 'AES256-GCM-SHA384:ECDHE-RSA-AES256-SHA384' }),
      path,
    );
    // TLS 1.3 with ChaCha20 only: the engine keeps to AES-GCM; node:tls's default TLS 1.3 suites include ChaCha20.
    const chacha = roundTrip(port, Buffer.from('x'), { ciphers: 'TLS_CHACHA20_POLY1305_SHA256', minVersion: 'TLSv1.3' });
    if (path === 'engine') await assert.rejects(chacha);
    else assert.equal((await chacha).cipher, 'TLS_CHACHA20_POLY1305_SHA256');
    const refused = path === 'engine' ? 3 : 2;
    for (let i = 0; i < 500 && errors.length < before + refused; i++) await new Promise((x) => setTimeout(x, 10));
    assert.equal(errors.length, before + refused, `${path}: one TLS error reported per refused handshake`);
    assert.equal(sockets.length, path === 'engine' ? 2 : 3, `${path}: only the good handshakes reached the daemon`);
  }
});

test('resumption: a ticket resumes; after one key rotation it still resumes and is renewed, two keys old it makes a full handshake', {
  skip,
}, async (t) => {
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const { port, service, sockets } = await echoService(t, 'engine');
    const engine = service as TlsEngineService;
    const first = await roundTrip(port, Buffer.from('a'), { maxVersion });
    assert.ok(first.session, maxVersion);
    const again = await roundTrip(port, Buffer.from('b'), { maxVersion, session: first.session! });
    assert.equal(again.reused, true, `${maxVersion}: resumed`);
    // TLS 1.3 tickets are single-use (RFC 8446 §C.4): each resumption gets a fresh one.
    if (maxVersion === 'TLSv1.3') assert.ok(again.session && !again.session.equals(first.session!), 'TLSv1.3: a new ticket');
    engine.rotateTicketKeys();
    const afterOne = await roundTrip(port, Buffer.from('c'), { maxVersion, session: first.session! });
    assert.equal(afterOne.reused, true, `${maxVersion}: the previous key still decrypts`);
    assert.ok(afterOne.session, `${maxVersion}: and a ticket under the current key is issued`);
    engine.rotateTicketKeys();
    const renewed = await roundTrip(port, Buffer.from('d'), { maxVersion, session: afterOne.session! });
    assert.equal(renewed.reused, true, `${maxVersion}: the renewed ticket resumes one rotation later`);
    const old = await roundTrip(port, Buffer.from('e'), { maxVersion, session: first.session! });
    assert.equal(old.reused, false, `${maxVersion}: a ticket two keys old makes a full handshake`);
    // The daemon side is told too.
    const told = sockets.map((s) => (s as unknown as { tls: { resumed: boolean } }).tls.resumed);
    assert.deepEqual(told, [false, true, true, true, false], maxVersion);
    const st = engine.stats();
    assert.deepEqual({ handshakes: st.handshakes, resumed: st.resumed }, { handshakes: 5, resumed: 3 });
  }
});

test('mutual TLS: a phone LSC issued by the store CAPF is verified and handed to the daemon; no certificate or a stranger is refused', {
  skip,
}, async (t) => {
  let lsc: { cert: string; key: string } | undefined;
  const { port, sockets, errors } = await echoService(t, 'engine', (state) => {
    const capf = state.store.currentCertificate('CAPF', 'cucm-pub')!;
    const kp = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const cert = issueLsc({
      capfCertPem: capf.pem,
      capfKeyPem: privateKeyOf(capf),
      deviceName: 'SEP001122334455',
      subjectPublicKey: kp.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      serial: randomBytes(8),
      now: new Date(Date.now() - 60_000),
    });
    lsc = { cert: cert.pem, key: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
    return { clientCertificates: { ca: capf.pem, require: true } };
  });
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const ok = await roundTrip(port, Buffer.from('phone'), { maxVersion, cert: lsc!.cert, key: lsc!.key });
    assert.equal(ok.data.toString(), 'phone', maxVersion);
    const peer = (sockets.at(-1) as unknown as { tls: { peerCertificate?: Buffer } }).tls.peerCertificate;
    assert.ok(peer && new X509Certificate(lsc!.cert).raw.equals(peer), `${maxVersion}: the daemon sees the LSC`);
  }
  const stranger = generateIdentity({ name: 'tomcat', hostname: 'rogue', now: new Date() });
  const before = sockets.length;
  // TLS 1.3: the server checks the client certificate after the client has finished, so the refusal may come as an
  // alert after 'secureConnect'; either way no byte comes back and the daemon never sees the connection.
  for (const opts of [{}, { cert: stranger.certPem, key: stranger.privateKeyPem }, { maxVersion: 'TLSv1.2' as const }]) {
    const r = await roundTrip(port, Buffer.from('x'), opts).catch(() => undefined);
    assert.equal(r?.data.length ?? 0, 0);
  }
  assert.equal(sockets.length, before, 'no refused client reached the daemon');
  for (let i = 0; i < 500 && errors.length < 3; i++) await new Promise((x) => setTimeout(x, 10));
  assert.equal(errors.length, 3);
});

test('caps from accept: 32 connections per address (the 33rd is closed unanswered, another address still served) and the handshake deadline', {
  skip,
}, async (t) => {
  const { port, service, errors } = await echoService(t, 'engine', { handshakeTimeoutMs: 300 });
  const engine = service as TlsEngineService;
  const idle: net.Socket[] = [];
  t.after(() => idle.forEach((s) => s.destroy()));
  await Promise.all(
    Array.from({ length: 33 }, () => new Promise<void>((r) => idle.push(net.connect(port, '127.0.0.1', () => r()).on('error', () => {})))),
  );
  for (let i = 0; i < 500 && engine.stats().refusedPerSource! < 1; i++) await new Promise((x) => setTimeout(x, 10));
  assert.equal(engine.stats().refusedPerSource, 1);
  const other = await roundTrip(port, Buffer.from('ok'), { localAddress: '127.0.0.2' } as tls.ConnectionOptions);
  assert.equal(other.data.toString(), 'ok');
  // Nothing was sent on the 32: each ends at the handshake deadline with one TLS error, and the slots come back.
  for (let i = 0; i < 1000 && engine.stats().handshakeTimeouts! < 32; i++) await new Promise((x) => setTimeout(x, 10));
  assert.equal(engine.stats().handshakeTimeouts, 32);
  assert.equal(errors.filter((e) => e.message === 'handshake timeout').length, 32);
  assert.equal((await roundTrip(port, Buffer.from('again'))).data.toString(), 'again');
});
