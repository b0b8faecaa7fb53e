/**
 * `clientCertificates.admitUnverified` (SIP's request mode, node:tls's `requestCert: true, rejectUnauthorized:
 * false`): a phone LSC that chains to the CAPF comes verified; a stranger's certificate and no certificate are let
 * in, reported as not verified, exactly as node:tls's `authorized` says for the same three clients.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { privateKeyOf } from '../../src/pki/identity-store.js';
import { issueLsc } from '../../src/pki/lsc.js';
import { generateIdentity } from '../../src/pki/profiles.js';
import type { EngineSocket } from '../../src/tls/engine-service.js';
import { echoService, engineMissing, roundTrip } from './helpers.js';

test('admitUnverified: an LSC is verified, a stranger and no certificate are admitted unverified, as node:tls says', {
  skip: engineMissing,
}, async (t) => {
  let lsc: { cert: string; key: string } | undefined;
  let capfPem = '';
  let identity: tls.SecureContextOptions = {};
  const { port, sockets, errors } = await echoService(t, 'engine', (state) => {
    const capf = state.store.currentCertificate('CAPF', 'cucm-pub')!;
    const tvs = state.store.currentCertificate('TVS', 'cucm-pub')!;
    identity = { cert: tvs.pem, key: privateKeyOf(tvs) };
    capfPem = capf.pem;
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
    return { clientCertificates: { ca: capf.pem, require: false, admitUnverified: true } };
  });
  // The reference: node:tls as the SIP transport configures it for request mode.
  const told: boolean[] = [];
  const node = tls.createServer({ ...identity, ca: capfPem, requestCert: true, rejectUnauthorized: false }, (s) => {
    told.push(s.authorized);
    s.on('data', (d: Buffer) => s.write(d));
    s.on('end', () => s.end());
  });
  node.listen(0, '127.0.0.1');
  await once(node, 'listening');
  t.after(() => void node.close());
  const nodePort = (node.address() as AddressInfo).port;

  const stranger = generateIdentity({ name: 'tomcat', hostname: 'rogue', now: new Date() });
  const clients: Array<[string, tls.ConnectionOptions, boolean, string | undefined]> = [
    ['LSC, TLS 1.3', { cert: lsc!.cert, key: lsc!.key }, true, lsc!.cert],
    ['LSC, TLS 1.2', { cert: lsc!.cert, key: lsc!.key, maxVersion: 'TLSv1.2' }, true, lsc!.cert],
    ['stranger, TLS 1.3', { cert: stranger.certPem, key: stranger.privateKeyPem }, false, stranger.certPem],
    ['stranger, TLS 1.2', { cert: stranger.certPem, key: stranger.privateKeyPem, maxVersion: 'TLSv1.2' }, false, stranger.certPem],
    ['no certificate', {}, false, undefined],
  ];
  for (const [name, opts, verified, cert] of clients) {
    const r = await roundTrip(port, Buffer.from(name), opts);
    assert.equal(r.data.toString(), name, `${name}: admitted and echoed`);
    const info = (sockets.at(-1) as unknown as EngineSocket).tls;
    assert.equal(info.peerVerified, verified, `${name}: engine`);
    assert.ok(cert === undefined ? info.peerCertificate === undefined : new X509Certificate(cert).raw.equals(info.peerCertificate!), name);
    assert.equal((await roundTrip(nodePort, Buffer.from(name), opts)).data.toString(), name);
    assert.equal(told.at(-1), verified, `${name}: node:tls agrees`);
  }
  assert.equal(sockets.length, clients.length);
  assert.deepEqual(errors, []);
});
