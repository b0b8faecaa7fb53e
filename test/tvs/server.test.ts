import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { test } from 'node:test';
import { regenerateCertificate } from '../../src/cluster/certs.js';
import { buildItl } from '../../src/trust/cluster-lists.js';
import { systemClock } from '../../src/lib/clock.js';
import { generateIdentity } from '../../src/pki/profiles.js';
import { Role } from '../../src/trust/tags.js';
import { queryTvs, tvsCertificatesFromTrustList } from '../../src/tvs/client.js';
import { TvsError } from '../../src/tvs/core/errors.js';
import { TvsFrameReader } from '../../src/tvs/core/frame-reader.js';
import { buildVerifyRequest, parseVerifyResponse } from '../../src/tvs/core/verify.js';
import { TvsServer } from '../../src/tvs/server.js';
import { captureLogger, holdHalfOpen, once, sClient, tempState } from './helpers.js';

const device = 'CP-8845-SEP001122334455';

async function start(
  t: { after: (fn: () => Promise<void> | void) => void },
  extra: Partial<ConstructorParameters<typeof TvsServer>[0]> = {},
) {
  const state = tempState(t);
  const { logger, lines } = captureLogger('tvsd');
  // test/tls/tvs-server.test.ts runs this file again with SBD_TLS_ENGINE=node (node:tls; the default is the C engine).
  const e = process.env.SBD_TLS_ENGINE;
  const tlsEngine = e === 'native' || e === 'node' ? e : undefined;
  const server = new TvsServer({ store: state.store, host: '127.0.0.1', port: 0, logger, reloadIntervalMs: 0, tlsEngine, ...extra });
  const { port } = await server.listen();
  t.after(() => server.close());
  const tvsCert = state.store.currentCertificate('TVS', 'cucm-pub')!;
  return { state, server, port, lines, tvsCert };
}

test('TLS end to end with queryTvs: valid with roles and TTL, invalid for a stranger, server certificate = the store TVS certificate', async (t) => {
  const { state, port, tvsCert, server } = await start(t);
  const cm = state.store.currentCertificate('CallManager', 'cucm-pub')!;
  // The phone trusts the TVS records of its ITL, as built from the same store.
  const trusted = tvsCertificatesFromTrustList(buildItl(state.store, systemClock));
  assert.equal(trusted.length, 1);
  assert.ok(trusted[0]!.equals(tvsCert.der));
  const a = await queryTvs({ host: '127.0.0.1', port, deviceName: device, certDer: cm.der, trustedServerCerts: trusted });
  assert.deepEqual({ status: a.status, roles: a.roles, ttl: a.ttl }, { status: 'valid', roles: [Role.CCM_TFTP, Role.SAST], ttl: 86400 });
  assert.ok(a.serverCert.equals(tvsCert.der));
  const stranger = generateIdentity({ name: 'tomcat', hostname: 'rogue', now: new Date() });
  const b = await queryTvs({ host: '127.0.0.1', port, deviceName: device, certDer: stranger.certDer, trustedServerCerts: trusted });
  assert.deepEqual({ status: b.status, roles: b.roles }, { status: 'invalid', roles: [] });
  assert.deepEqual({ valid: server.stats.valid, invalid: server.stats.invalid }, { valid: 1, invalid: 1 });
  // A client that does not trust this TVS refuses it before asking anything.
  await assert.rejects(
    queryTvs({ host: '127.0.0.1', port, deviceName: device, certDer: cm.der, trustedServerCerts: [stranger.certDer] }),
    (e: unknown) => e instanceof TvsError && e.code === 'ERR_TVS_SERVER_CERT',
  );
  await assert.rejects(
    queryTvs({ host: '127.0.0.1', port, deviceName: device, certDer: cm.der }),
    (e: unknown) => e instanceof TvsError && e.code === 'ERR_TVS_ARGUMENT',
  );
});

test('openssl s_client (third-party TLS peer): handshake without SNI, the store TVS certificate, a raw VERIFY_REQUEST answered byte-exactly', async (t) => {
  const { state, port, tvsCert } = await start(t);
  const hs = await sClient(['-connect', `127.0.0.1:${port}`, '-noservername', '-showcerts'], Buffer.alloc(0));
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(hs.stdout.toString())?.[0];
  assert.ok(pem, hs.stdout.toString() + hs.stderr);
  assert.ok(new X509Certificate(pem).raw.equals(tvsCert.der), 'the presented certificate is the store TVS certificate');
  assert.match(hs.stdout.toString(), /New, TLSv1\.3, Cipher is/);
  // TLS 1.2 (what phones speak): the first suite of the store's TLSCiphers parameter is chosen.
  const v12 = await sClient(['-connect', `127.0.0.1:${port}`, '-noservername', '-tls1_2'], Buffer.alloc(0));
  assert.match(v12.stdout.toString(), /New, TLSv1\.2, Cipher is ECDHE-RSA-AES256-GCM-SHA384/);
  // The request bytes go through openssl's TLS; what comes back is printed raw (-quiet) and parsed by our codec.
  const capf = state.store.currentCertificate('CAPF', 'cucm-pub')!;
  const req = buildVerifyRequest({ sessionId: 0xc0ffee, deviceName: device, certificate: capf.der });
  const r = await sClient(['-connect', `127.0.0.1:${port}`, '-noservername', '-quiet', '-ign_eof'], req);
  assert.equal(r.stdout.length, 10 + 4 + 4 + 7, r.stderr); // header, STATUS, ROLES (one role), TTL
  const res = parseVerifyResponse(new TvsFrameReader().push(r.stdout)[0]!);
  assert.deepEqual(res, { sessionId: 0xc0ffee, status: 0, roles: [Role.CAPF], ttl: 86400 });
  // With SNI too (phones send none, browsers-like clients do): same certificate.
  const sni = await sClient(['-connect', `127.0.0.1:${port}`, '-servername', 'cucm-pub', '-quiet', '-ign_eof'], req);
  assert.equal(parseVerifyResponse(new TvsFrameReader().push(sni.stdout)[0]!).status, 0);
});

/** A raw TLS client that sends `bytes` and reports whether the server closed the connection. */
function rawTls(port: number, bytes: Buffer, endAfter = true): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    const got: Buffer[] = [];
    s.on('secureConnect', () => (endAfter ? s.end(bytes) : s.write(bytes)));
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => {});
    s.on('close', () => resolve({ data: Buffer.concat(got), closed: true }));
    setTimeout(() => reject(new Error('server did not close')), 60000).unref();
  });
}

test('robustness: truncated frame, wrong protocol id, 64 KiB garbage body — each closes with one log line, the server keeps answering', async (t) => {
  const { state, port, server, lines, tvsCert } = await start(t);
  const cm = state.store.currentCertificate('CallManager', 'cucm-pub')!.der;
  const good = buildVerifyRequest({ sessionId: 5, deviceName: device, certificate: cm });
  const cases: Array<[string, Buffer, string]> = [
    ['truncated frame', good.subarray(0, good.length - 7), 'ERR_TVS_TRUNCATED'],
    ['wrong protocol id', Buffer.concat([Buffer.of(85), good.subarray(1)]), 'ERR_TVS_PROTOCOL_ID'],
    [
      '64 KiB garbage body',
      Buffer.concat([Buffer.from('5701010000000001ffff', 'hex'), Buffer.alloc(65535, 0xa5)]),
      'ERR_TVS_FRAME_TOO_LARGE',
    ],
    [
      'garbage elements in a small body',
      Buffer.concat([Buffer.from('5701010000000001000a', 'hex'), Buffer.alloc(10, 0xff)]),
      'ERR_TVS_TRUNCATED',
    ],
  ];
  for (const [label, bytes, code] of cases) {
    const before = lines.filter((l) => l.event === 'request-rejected').length;
    const rejected = once<{ code: string }>(server, 'rejected');
    const r = await rawTls(port, bytes);
    assert.equal(r.data.length, 0, `${label}: no answer`);
    assert.equal((await rejected).code, code, label);
    const after = lines.filter((l) => l.event === 'request-rejected');
    assert.equal(after.length, before + 1, `${label}: exactly one log line`);
    assert.equal(after.at(-1)!.code, code);
    const ok = await queryTvs({ host: '127.0.0.1', port, deviceName: device, certDer: cm, trustedServerCerts: [tvsCert.der] });
    assert.equal(ok.status, 'valid', `still serving after ${label}`);
  }
  // Not TLS at all on the TVS port: a TLS error line, and still serving.
  const plain = net.connect(port, '127.0.0.1');
  const tlsErr = once(server, 'tlsError');
  plain.on('error', () => {});
  plain.end(good);
  await tlsErr;
  assert.equal(
    (await queryTvs({ host: '127.0.0.1', port, deviceName: device, certDer: cm, trustedServerCerts: [tvsCert.der] })).status,
    'valid',
  );
});

test('robustness: 1,000 half-open connections (TCP only, no ClientHello) leave the server answering', async (t) => {
  const { state, port, server, tvsCert } = await start(t, { handshakeTimeoutMs: 120000, requestTimeoutMs: 1500 });
  const cm = state.store.currentCertificate('CallManager', 'cucm-pub')!.der;
  assert.ok((await holdHalfOpen(t, port, 1000, () => server.connectionCount())) >= 1000);
  const a = await queryTvs({
    host: '127.0.0.1',
    port,
    deviceName: device,
    certDer: cm,
    trustedServerCerts: [tvsCert.der],
    timeoutMs: 60000,
  });
  assert.equal(a.status, 'valid');
  // Half-open at the TVS layer (handshake done, request never completed) is cut by the request timeout.
  const timedOut = once<{ code: string }>(server, 'rejected');
  const half = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  half.on('error', () => {});
  half.write(Buffer.from('570101', 'hex'));
  assert.equal((await timedOut).code, 'ERR_TVS_TIMEOUT');
  assert.equal(server.stats.timeouts, 1);
});

test('reload: after `sbd cert regen TVS` new connections get the new certificate, and the old one is still vouched for', async (t) => {
  const { state, port, server, tvsCert } = await start(t);
  regenerateCertificate(state, 'TVS', systemClock);
  assert.equal(server.reload(), true);
  assert.equal(server.reload(), false, 'nothing changed since');
  const fresh = state.store.currentCertificate('TVS', 'cucm-pub')!;
  const a = await queryTvs({ host: '127.0.0.1', port, deviceName: device, certDer: tvsCert.der, trustedServerCerts: [fresh.der] });
  assert.ok(a.serverCert.equals(fresh.der));
  assert.deepEqual({ status: a.status, roles: a.roles }, { status: 'valid', roles: [Role.TVS] });
  await assert.rejects(
    queryTvs({ host: '127.0.0.1', port, deviceName: device, certDer: tvsCert.der, trustedServerCerts: [tvsCert.der] }),
    (e: unknown) => e instanceof TvsError && e.code === 'ERR_TVS_SERVER_CERT',
  );
});
