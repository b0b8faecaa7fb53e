/**
 * TLSMinVersion (issue 18 item 9) on the TVS, CAPF and SIP (5061) listeners, with `openssl s_client` as the old peer: at the
 * default (1.2) a TLS 1.0 client offering only AES128-SHA is refused; with the parameter at 1.0 the daemons
 * accept it after their store reload (no restart), TLS 1.2 clients still get the ECDHE-GCM suite first, and back
 * at 1.2 TLS 1.0 is refused again. The client needs `@SECLEVEL=0` too: Debian 12's OpenSSL 3 will not speak
 * TLS 1.0 otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tlsProtocolDefaults, tlsProtocolSettings } from '../../src/lib/tls-service.js';
import { TvsServer } from '../../src/tvs/server.js';
import { capfOperations } from '../../src/daemons/adapters/capf-store.js';
import { CapfServer } from '../../src/capf/server.js';
import { captureLogger, sClient, tempState } from '../tvs/helpers.js';
import { startDaemon } from '../sip/interop/harness.js';

const tls10 = (port: number) =>
  sClient(['-connect', `127.0.0.1:${port}`, '-noservername', '-tls1', '-cipher', 'AES128-SHA:@SECLEVEL=0'], Buffer.alloc(0));
const tls12 = (port: number) => sClient(['-connect', `127.0.0.1:${port}`, '-noservername', '-tls1_2'], Buffer.alloc(0));
// s_client's session block: "Protocol  : TLSv1" then "Cipher    : AES128-SHA" (its "New, ..." line says SSLv3 for this suite).
const accepted = (r: { stdout: Buffer }) => /Protocol\s*: TLSv1\n\s*Cipher\s*: AES128-SHA\n/.test(r.stdout.toString('latin1'));

test('tlsProtocolSettings: 1.2 leaves the list alone; below it AES128-SHA goes last at security level 0, once', () => {
  assert.deepEqual(tlsProtocolSettings(), { minVersion: 'TLSv1.2', ciphers: tlsProtocolDefaults.ciphers });
  assert.deepEqual(tlsProtocolSettings({ minVersion: '1.0', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }), {
    minVersion: 'TLSv1',
    ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:@SECLEVEL=0',
  });
  assert.deepEqual(tlsProtocolSettings({ minVersion: '1.1', ciphers: 'AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=1' }), {
    minVersion: 'TLSv1.1',
    ciphers: 'AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0',
  });
});

for (const service of ['TVS', 'CAPF'] as const) {
  test(`${service}: TLS 1.0 with AES128-SHA refused at the default, accepted at TLSMinVersion 1.0 after reload, refused again at 1.2`, async (t) => {
    const state = tempState(t);
    const { logger } = captureLogger(service);
    const opts = { store: state.store, host: '127.0.0.1', port: 0, logger, reloadIntervalMs: 0 };
    const server = service === 'TVS' ? new TvsServer(opts) : new CapfServer({ ...opts, store: capfOperations(state.store) });
    const { port } = await server.listen();
    t.after(() => server.close());

    const before = await tls10(port);
    assert.equal(accepted(before), false, before.stdout.toString());
    assert.equal(server.reload(), false, 'nothing changed yet');

    state.store.setParam('TLSMinVersion', '1.0');
    assert.equal(server.reload(), true, 'a new minimum swaps the context');
    const old = await tls10(port);
    assert.ok(accepted(old), old.stdout.toString() + old.stderr);
    // A modern client still gets the first suite of TLSCiphers: the legacy one is only added, last.
    assert.match((await tls12(port)).stdout.toString(), /New, TLSv1\.2, Cipher is ECDHE-RSA-AES256-GCM-SHA384/);

    state.store.setParam('TLSMinVersion', '1.2');
    assert.equal(server.reload(), true);
    assert.equal(accepted(await tls10(port)), false);
  });
}

test('SIP 5061: the same, through sbd-sipd following the store (reloadTls)', { timeout: 120_000 }, async (t) => {
  const h = await startDaemon({ tlsReloadIntervalMs: 0 });
  t.after(() => h.close());
  const port = h.ports.tls!;
  assert.equal(accepted(await tls10(port)), false);
  h.state.store.setParam('TLSMinVersion', '1.0');
  assert.equal(h.daemon.reloadTls(), true);
  const old = await tls10(port);
  assert.ok(accepted(old), old.stdout.toString('latin1') + old.stderr);
  assert.match((await tls12(port)).stdout.toString(), /New, TLSv1\.2, Cipher is ECDHE-RSA-AES256-GCM-SHA384/);
  h.state.store.setParam('TLSMinVersion', '1.2');
  assert.equal(h.daemon.reloadTls(), true);
  assert.equal(accepted(await tls10(port)), false);
});
