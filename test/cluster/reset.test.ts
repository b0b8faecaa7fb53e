/** ITL reset with a remote key, and CTL reset: who signs, that phones holding the old signer can verify, and refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { fixedClock } from '../../src/lib/clock.js';
import { initAppliance } from '../../src/cluster/init.js';
import { withState } from '../../src/store/state.js';
import { exportIdentityP12 } from '../../src/cluster/p12.js';
import { regenerateCertificate } from '../../src/cluster/certs.js';
import { ctlReset, itlReset } from '../../src/cluster/itl-reset.js';
import { buildCtl, buildItl } from '../../src/trust/cluster-lists.js';
import { verifyTrustFile } from '../../src/trust/verify.js';
import { candidateFromPem } from '../../src/trust/candidates.js';
import { PkiErrorCode } from '../../src/pki/errors.js';
import { LibErrorCode, SbdError } from '../../src/lib/errors.js';

const clock = fixedClock(Date.UTC(2026, 10, 25));

function fresh() {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-reset-'));
  initAppliance({ dir, hostname: 'sbd-r', ipv4: '127.0.0.1', clock });
  return dir;
}

test('itl reset remotekey: a lost ITLRecovery kept as .p12 signs the new ITL, so phones holding it accept; complete hands back', () => {
  const dir = fresh();
  const oldPem = withState(dir, (s) => s.store.currentCertificate('ITLRecovery', null)!.pem);
  const p12 = withState(dir, (s) => exportIdentityP12(s, 'ITLRecovery', 'backup-pass-1'));
  withState(dir, (s) => regenerateCertificate(s, 'ITLRecovery', clock));
  const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase();

  // A wrong password changes nothing.
  assert.throws(() => withState(dir, (s) => itlReset(s, 'remotekey', clock, { p12, password: 'wrong-pass' })), {
    code: PkiErrorCode.pkcs12Password,
  });
  assert.equal(
    withState(dir, (s) => s.store.getParam('ItlResetSigner')),
    'ITLRecovery',
  );

  const r = withState(dir, (s) => itlReset(s, 'remotekey', clock, { p12, password: 'backup-pass-1' }));
  assert.equal(r.signer, 'RemoteKey');
  const itl = withState(dir, (s) => buildItl(s.store, clock));
  const phoneWithOldItl = verifyTrustFile(itl, { candidates: [candidateFromPem(oldPem, 'old ITLRecovery held by the phone')] });
  assert.equal(phoneWithOldItl.valid, true);
  assert.equal(phoneWithOldItl.header.signerSerial.toString('hex'), serialOf(oldPem));
  const newPem = withState(dir, (s) => s.store.currentCertificate('ITLRecovery', null)!.pem);
  assert.ok(
    phoneWithOldItl.records.some(
      (x) => x.certificate && new X509Certificate(x.certificate).serialNumber === new X509Certificate(newPem).serialNumber,
    ),
    'the reset ITL carries the new ITLRecovery',
  );

  withState(dir, (s) => itlReset(s, 'complete', clock));
  const after = verifyTrustFile(withState(dir, (s) => buildItl(s.store, clock)));
  assert.equal(after.valid, true);
  assert.equal(after.header.signerSerial.toString('hex'), serialOf(newPem));
});

test('ctl reset localkey signs the CTL with ITLRecovery (a SAST record of the CTL), complete with CallManager; refused outside mixed mode', () => {
  const dir = fresh();
  assert.throws(
    () => withState(dir, (s) => ctlReset(s, 'localkey', clock)),
    (e: unknown) => e instanceof SbdError && e.code === LibErrorCode.usage && /mixed mode/.test(e.message),
  );
  withState(dir, (s) => s.store.setParam('ClusterSecurityMode', 'mixed'));
  const serial = (name: string) => withState(dir, (s) => s.store.listCertificates({ name }).find((c) => c.current)!.serialHex);
  withState(dir, (s) => ctlReset(s, 'localkey', clock));
  let ctl = verifyTrustFile(withState(dir, (s) => buildCtl(s.store, clock)!));
  assert.equal(ctl.valid, true);
  assert.equal(ctl.header.signerSerial.toString('hex'), serial('ITLRecovery'));
  withState(dir, (s) => ctlReset(s, 'complete', clock));
  ctl = verifyTrustFile(withState(dir, (s) => buildCtl(s.store, clock)!));
  assert.equal(ctl.valid, true);
  assert.equal(ctl.header.signerSerial.toString('hex'), serial('CallManager'));
});
