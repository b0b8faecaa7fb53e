import assert from 'node:assert/strict';
import crypto, { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { enrollWithCapf, capfCertificatesFromTrustList } from '../../src/capf/client.js';
import { CapfError } from '../../src/capf/core/errors.js';
import { pendingStatus } from '../../src/capf/operation-status.js';
import { buildItl } from '../../src/trust/cluster-lists.js';
import { systemClock } from '../../src/lib/clock.js';
import type { Store } from '../../src/store/index.js';
import { verify } from '../pki/openssl.js';
import { tempDir } from '../tvs/helpers.js';
import { micFactory, startCapf } from './helpers.js';

const MAC = '001122334455';
const DEVICE = `SEP${MAC}`;
const refused = (reason: number) => (e: unknown) =>
  e instanceof CapfError && e.code === 'ERR_CAPF_SERVER_REFUSED' && e.message.includes(`reason ${reason}`);

function schedule(
  store: Store,
  device: string,
  op: 'install' | 'fetch' | 'delete',
  auth: 'none' | 'password' | 'lsc' | 'mic',
  extra: { password?: string; key?: Parameters<typeof pendingStatus>[1] } = {},
) {
  if (!store.getDevice(device)) store.addDevice({ name: device, model: '8845' });
  store.updateDevice(device, {
    capfOperation: op,
    capfAuthMode: auth,
    capfAuthString: extra.password ?? null,
    capfStatus: pendingStatus(op, extra.key),
  });
}

/** The LSC verifies against the CAPF certificate with openssl, and carries the phone's own key. */
function assertLsc(t: { after: (fn: () => void) => void }, lscPem: string, privateKeyPem: string, capfPem: string) {
  const v = verify(tempDir(t, 'sbd-capf-'), capfPem, lscPem);
  assert.ok(v.ok, v.output);
  const lsc = new X509Certificate(lscPem);
  assert.ok(
    lsc.publicKey
      .export({ type: 'spki', format: 'der' })
      .equals(crypto.createPublicKey(privateKeyPem).export({ type: 'spki', format: 'der' })),
  );
  return lsc;
}

test('install with an auth string (RSA 2048, the default): LSC stored, operation cleared; the string is single use', async (t) => {
  const { store, port, capfCert, server } = await startCapf(t);
  schedule(store, DEVICE, 'install', 'password', { password: '47114711' });
  // The phone trusts the CAPF record of its ITL.
  const trusted = capfCertificatesFromTrustList(buildItl(store, systemClock));
  assert.ok(trusted[0]!.equals(capfCert.der));
  const r = await enrollWithCapf({
    host: '127.0.0.1',
    port,
    deviceName: DEVICE,
    auth: { type: 'password', password: '47114711' },
    trustedServerCerts: trusted,
  });
  assert.equal(r.operation, 'install');
  if (r.operation !== 'install') return;
  assert.deepEqual(r.keySpec, { type: 'rsa', bits: 2048 });
  const lsc = assertLsc(t, r.lscPem, r.privateKeyPem, capfCert.pem);
  assert.match(lsc.subject, /CN=SEP001122334455/);
  const d = store.getDevice(DEVICE)!;
  assert.equal(d.lscPem, lsc.toString());
  assert.equal(d.capfOperation, 'none');
  assert.equal(d.capfAuthString, null, 'the auth string is spent');
  assert.match(d.capfStatus!, new RegExp(`^Upgrade Success .*: LSC serial ${lsc.serialNumber.toLowerCase()}$`));
  // The administrator schedules another install without a new string: the old one no longer opens it.
  store.updateDevice(DEVICE, { capfOperation: 'install', capfStatus: pendingStatus('install', { type: 'rsa', bits: 2048 }) });
  await assert.rejects(
    enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'password', password: '47114711' },
      trustedServerCerts: trusted,
    }),
    refused(7),
  );
  const after = store.getDevice(DEVICE)!;
  assert.equal(after.lscPem, lsc.toString(), 'the LSC is untouched');
  assert.match(
    after.capfStatus!,
    /^Operation Pending: install rsa-2048; last attempt .*: Authentication Failed \(1 of 5\): the authentication string was already used or never set$/,
  );
  // A wrong string fails the same way, and spends nothing.
  store.updateDevice(DEVICE, { capfAuthString: '99999999' });
  await assert.rejects(
    enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'password', password: '11111111' },
      trustedServerCerts: trusted,
    }),
    refused(7),
  );
  assert.equal(store.getDevice(DEVICE)!.capfAuthString, '99999999');
  assert.deepEqual({ installed: server.stats.installed, rejected: server.stats.rejected }, { installed: 1, rejected: 2 });
});

test("install without authentication for EC P-256, then re-key to EC P-384 proving the first LSC; another phone's LSC does not work", async (t) => {
  const { store, port, capfCert } = await startCapf(t);
  const trustedServerCerts = [capfCert.der];
  schedule(store, DEVICE, 'install', 'none', { key: { type: 'ec', curve: 'P-256' } });
  const first = await enrollWithCapf({ host: '127.0.0.1', port, deviceName: DEVICE, auth: { type: 'none' }, trustedServerCerts });
  assert.equal(first.operation, 'install');
  if (first.operation !== 'install') return;
  const lsc1 = assertLsc(t, first.lscPem, first.privateKeyPem, capfCert.pem);
  assert.equal(lsc1.publicKey.asymmetricKeyDetails!.namedCurve, 'prime256v1');
  schedule(store, DEVICE, 'install', 'lsc', { key: { type: 'ec', curve: 'P-384' } });
  const second = await enrollWithCapf({
    host: '127.0.0.1',
    port,
    deviceName: DEVICE,
    auth: { type: 'lsc', certPem: first.lscPem, keyPem: first.privateKeyPem },
    trustedServerCerts,
  });
  assert.equal(second.operation, 'install');
  if (second.operation !== 'install') return;
  const lsc2 = assertLsc(t, second.lscPem, second.privateKeyPem, capfCert.pem);
  assert.equal(lsc2.publicKey.asymmetricKeyDetails!.namedCurve, 'secp384r1');
  assert.equal(store.getDevice(DEVICE)!.lscPem, lsc2.toString());
  // Phone B schedules an install with LSC authentication and presents phone A's LSC (and key): refused.
  const other = 'SEP00112233AABB';
  schedule(store, other, 'install', 'lsc');
  await assert.rejects(
    enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: other,
      auth: { type: 'lsc', certPem: second.lscPem, keyPem: second.privateKeyPem },
      trustedServerCerts,
    }),
    refused(7),
  );
  assert.match(store.getDevice(other)!.capfStatus!, /do not name SEP00112233AABB's MAC/);
  // A certificate with the right name but signatures by another key: refused.
  const wrongKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  schedule(store, DEVICE, 'install', 'lsc');
  await assert.rejects(
    enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'lsc', certPem: second.lscPem, keyPem: wrongKey },
      trustedServerCerts,
    }),
    refused(7),
  );
});

test('MIC authentication: MIC-CA in the store opens it; "lsc" mode falls back to the MIC; a MIC of an unknown CA is refused', async (t) => {
  const { store, port, capfCert } = await startCapf(t);
  const trustedServerCerts = [capfCert.der];
  const cisco = micFactory(t);
  const mic = cisco.mic(MAC);
  schedule(store, DEVICE, 'install', 'mic', { key: { type: 'rsa', bits: 3072 } });
  // No MIC-CA imported yet: refused.
  await assert.rejects(
    enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'mic', certPem: mic.certPem, keyPem: mic.keyPem },
      trustedServerCerts,
    }),
    refused(7),
  );
  store.addTrustedCertificate({ name: 'MIC-CA', node: null, pem: cisco.caPem });
  const r = await enrollWithCapf({
    host: '127.0.0.1',
    port,
    deviceName: DEVICE,
    auth: { type: 'mic', certPem: mic.certPem, keyPem: mic.keyPem },
    trustedServerCerts,
  });
  assert.equal(r.operation, 'install');
  if (r.operation !== 'install') return;
  assert.equal(assertLsc(t, r.lscPem, r.privateKeyPem, capfCert.pem).publicKey.asymmetricKeyDetails!.modulusLength, 3072);
  // capfAuthMode 3: LSC falling back to MIC — a phone without an LSC proves itself with its MIC.
  const phone2 = 'SEP0011223344AA';
  const mic2 = cisco.mic('0011223344AA', '7841');
  schedule(store, phone2, 'install', 'lsc', { key: { type: 'ec', curve: 'P-256' } });
  assert.equal(
    (
      await enrollWithCapf({
        host: '127.0.0.1',
        port,
        deviceName: phone2,
        auth: { type: 'mic', certPem: mic2.certPem, keyPem: mic2.keyPem },
        trustedServerCerts,
      })
    ).operation,
    'install',
  );
  // A MIC from a CA the administrator never imported.
  const rogue = micFactory(t, 'Rogue Manufacturing CA').mic(MAC);
  schedule(store, DEVICE, 'install', 'mic');
  await assert.rejects(
    enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'mic', certPem: rogue.certPem, keyPem: rogue.keyPem },
      trustedServerCerts,
    }),
    refused(7),
  );
  // "mic" mode does not accept an LSC.
  await assert.rejects(
    enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'lsc', certPem: r.lscPem, keyPem: r.privateKeyPem },
      trustedServerCerts,
    }),
    refused(7),
  );
});

test("RSA 4096 and EC P-521 installs; fetch hands the phone's LSC to the store; delete clears it", async (t) => {
  const { store, port, capfCert, server } = await startCapf(t);
  const trustedServerCerts = [capfCert.der];
  schedule(store, DEVICE, 'install', 'none', { key: { type: 'rsa', bits: 4096 } });
  const big = await enrollWithCapf({ host: '127.0.0.1', port, deviceName: DEVICE, auth: { type: 'none' }, trustedServerCerts });
  if (big.operation !== 'install') assert.fail('install expected');
  assert.equal(assertLsc(t, big.lscPem, big.privateKeyPem, capfCert.pem).publicKey.asymmetricKeyDetails!.modulusLength, 4096);
  schedule(store, DEVICE, 'install', 'none', { key: { type: 'ec', curve: 'P-521' } });
  const ec = await enrollWithCapf({ host: '127.0.0.1', port, deviceName: DEVICE, auth: { type: 'none' }, trustedServerCerts });
  if (ec.operation !== 'install') assert.fail('install expected');
  assert.equal(assertLsc(t, ec.lscPem, ec.privateKeyPem, capfCert.pem).publicKey.asymmetricKeyDetails!.namedCurve, 'secp521r1');
  // The store lost track (say, a restore from an old backup): fetch takes the LSC the phone holds.
  store.updateDevice(DEVICE, { lscPem: big.lscPem });
  schedule(store, DEVICE, 'fetch', 'none');
  const f = await enrollWithCapf({
    host: '127.0.0.1',
    port,
    deviceName: DEVICE,
    auth: { type: 'none' },
    trustedServerCerts,
    currentLscPem: ec.lscPem,
  });
  assert.deepEqual({ op: f.operation, sent: f.operation === 'fetch' && f.sent }, { op: 'fetch', sent: true });
  assert.equal(store.getDevice(DEVICE)!.lscPem, new X509Certificate(ec.lscPem).toString());
  assert.match(store.getDevice(DEVICE)!.capfStatus!, /^Fetch Success /);
  schedule(store, DEVICE, 'delete', 'none');
  assert.equal(
    (await enrollWithCapf({ host: '127.0.0.1', port, deviceName: DEVICE, auth: { type: 'none' }, trustedServerCerts })).operation,
    'delete',
  );
  const d = store.getDevice(DEVICE)!;
  assert.deepEqual({ lsc: d.lscPem, op: d.capfOperation }, { lsc: null, op: 'none' });
  assert.match(d.capfStatus!, /^Delete Success /);
  // Nothing pending now: END_SESSION{0}; an unknown phone: END_SESSION{9}.
  assert.deepEqual(
    await enrollWithCapf({ host: '127.0.0.1', port, deviceName: DEVICE, auth: { type: 'none' }, trustedServerCerts }).then((r) => ({
      op: r.operation,
      reason: r.operation === 'none' && r.reason,
    })),
    { op: 'none', reason: 0 },
  );
  await assert.rejects(
    enrollWithCapf({ host: '127.0.0.1', port, deviceName: 'SEP999999999999', auth: { type: 'none' }, trustedServerCerts }),
    refused(9),
  );
  assert.deepEqual(
    { i: server.stats.installed, f: server.stats.fetched, d: server.stats.deleted, n: server.stats.none, r: server.stats.rejected },
    { i: 2, f: 1, d: 1, n: 1, r: 1 },
  );
  // A phone that does not trust this CAPF stops before authenticating.
  await assert.rejects(
    enrollWithCapf({
      host: '127.0.0.1',
      port,
      deviceName: DEVICE,
      auth: { type: 'none' },
      trustedServerCerts: [new X509Certificate(big.lscPem).raw],
    }),
    (e: unknown) => e instanceof CapfError && e.code === 'ERR_CAPF_SERVER_CERT',
  );
});
