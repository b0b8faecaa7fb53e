/**
 * sbd-sipd follows certificate changes without a restart (issue 18 item 6), as capfd and tvsd do: after
 * `set cert regen CAPF` and `set cert regen CallManager`, with simulated phones registered over TLS with their
 * LSCs, the daemon sees the store generation move and swaps the 5061 context. Open flows stay up and keep
 * registering; new TLS connections get the new CallManager certificate (a phone that trusts only the old one
 * cannot connect); an LSC from the new CAPF verifies (the registrar admits that phone by it), and an LSC from the
 * old CAPF still does (as CAPF itself accepts history CAPF certificates: phones keep their LSC until re-enrolled).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { regenerateCertificate } from '../../../src/cluster/certs.js';
import { systemClock } from '../../../src/lib/clock.js';
import { SipPhone } from '../../../src/sim/sip-ua/user-agent.js';
import { SipUaError } from '../../../src/sim/sip-ua/errors.js';
import { addPhoneWithLsc, issueTestLsc } from '../lsc.js';
import { makeState, startDaemon } from '../interop/harness.js';

/** The certificate a fresh TLS connection to the listener is shown (SHA-256, colon-separated hex as Node prints it). */
async function presented(port: number): Promise<string> {
  const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', () => resolve());
    s.once('error', reject);
  });
  const fp = s.getPeerCertificate().fingerprint256;
  s.destroy();
  return fp.replaceAll(':', '').toLowerCase();
}

test('CAPF and CallManager regenerated under registered TLS phones: new connections see the new certificates, old flows stay', {
  timeout: 180_000,
}, async () => {
  const made = makeState();
  const store = made.state.store;
  // 'Authenticated Profile': TLS with the device's LSC, no digest (the LSC alone admits the phone).
  const lscA = addPhoneWithLsc(made.state, 'SEP00AABBCC2001', '2001');
  const lscB = addPhoneWithLsc(made.state, 'SEP00AABBCC2002', '2002');
  const cm1 = store.currentCertificate('CallManager', 'sbd1')!;
  const capf1 = store.currentCertificate('CAPF', 'sbd1')!;
  // Driven by hand (reloadTls) so the test counts swaps instead of waiting on the timer.
  const h = await startDaemon({ tlsReloadIntervalMs: 0 }, made);
  const phones: SipPhone[] = [];
  const phone = async (ca: string, lsc: { cert: string; key: string }, line: string) => {
    const p = await SipPhone.connect({ flow: { transport: 'tls', host: '127.0.0.1', port: h.ports.tls!, ca, ...lsc }, line });
    phones.push(p);
    return p;
  };
  try {
    const tls = h.ports.tls!;
    const a = await phone(cm1.pem, lscA, '2001');
    assert.equal((await a.register()).status, 200);
    assert.equal(await presented(tls), cm1.sha256Hex);
    assert.equal(h.daemon.reloadTls(), false, 'nothing changed yet');

    regenerateCertificate(made.state, 'CAPF', systemClock);
    regenerateCertificate(made.state, 'CallManager', systemClock);
    const cm2 = store.currentCertificate('CallManager', 'sbd1')!;
    const capf2 = store.currentCertificate('CAPF', 'sbd1')!;
    assert.notEqual(cm2.sha256Hex, cm1.sha256Hex);
    assert.notEqual(capf2.sha256Hex, capf1.sha256Hex);

    assert.equal(h.daemon.reloadTls(), true, 'the store moved: the 5061 context is swapped');
    assert.equal(h.daemon.reloadTls(), false, 'once');
    assert.equal(h.daemon.tlsReloads, 1);

    // Phone A's flow, opened before, is still up and still registers on it (its handshake is not redone).
    assert.equal(h.daemon.registrar.bindings.lookup('2001', Date.now()).length, 1);
    assert.equal((await a.register()).status, 200);

    // New connections: the new CallManager certificate; a phone that trusts only the old one cannot connect.
    assert.equal(await presented(tls), cm2.sha256Hex);
    await assert.rejects(phone(cm1.pem, lscB, '2002'), (e: unknown) => e instanceof SipUaError);

    // A phone that re-enrolled with the new CAPF: its LSC verifies against the new CAPF and admits it.
    const lscB2 = issueTestLsc(made.state, 'SEP00AABBCC2002');
    assert.match(lscB2.cert, /BEGIN CERTIFICATE/);
    store.updateDevice('SEP00AABBCC2002', { lscPem: lscB2.cert });
    const b = await phone(cm2.pem, lscB2, '2002');
    assert.equal((await b.register()).status, 200, 'LSC from the regenerated CAPF');
    assert.match(h.daemon.registrar.bindings.lookup('2002', Date.now())[0]!.source.peerCertificate!.issuer, /CN=CAPF/);

    // Phone A reconnects (new ITL: trusts the new CallManager) with the LSC the old CAPF issued: still admitted.
    const a2 = await phone(cm2.pem, lscA, '2001');
    assert.equal((await a2.register()).status, 200, 'LSC from the previous CAPF');
  } finally {
    for (const p of phones) p.close();
    await h.close();
  }
});

test('the daemon swaps the context on its own when the store changes (timer), and counts one swap per change', {
  timeout: 120_000,
}, async () => {
  const made = makeState();
  const h = await startDaemon({ tlsReloadIntervalMs: 50 }, made);
  try {
    regenerateCertificate(made.state, 'CallManager', systemClock);
    const cm2 = made.state.store.currentCertificate('CallManager', 'sbd1')!;
    // Wait for the swap by its count (no duration asserted); then the listener shows the new certificate.
    while (h.daemon.tlsReloads === 0) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await presented(h.ports.tls!), cm2.sha256Hex);
    assert.equal(h.daemon.tlsReloads, 1);
  } finally {
    await h.close();
  }
});
