/**
 * A simulated Security-by-Default phone booting against sbd-tftpd on loopback: first use, certificate
 * regeneration (CallManager keeps the ITLRecovery signer; ITLRecovery does not), and the rollback ITL.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { regenerateCertificate } from '../../src/cluster/certs.js';
import { systemClock } from '../../src/lib/clock.js';
import { Verdict } from '../../src/sim/decisions.js';
import { tvsHook } from '../../src/sim/tvs-hook.js';
import { TvsServer } from '../../src/tvs/server.js';
import { silentLogger } from '../../src/lib/log.js';
import { createServer, type AddressInfo } from 'node:net';
import { boot, startAppliance, tempDir, texts } from './helpers.js';

const PHONE = 'SEP001122334455';

test('first boot trusts the first ITL and validates the signed config; CallManager regen is accepted via ITLRecovery', async () => {
  const app = await startAppliance();
  app.state.store.addDevice({ name: PHONE, model: '8845', directoryNumber: '1001' });
  const phones = tempDir();

  const first = await boot(app, phones, PHONE);
  const t1 = texts(first);
  assert.equal(first.decisions.length, 3, t1.join('\n'));
  assert.deepEqual(
    first.decisions.map((d) => [d.subject, d.verdict]),
    [
      ['CTL', Verdict.absent],
      ['ITL', Verdict.trusted],
      ['config', Verdict.accepted],
    ],
    t1.join('\n'),
  );
  assert.match(t1[0]!, /^CTLFile\.tlv: no CTL on the server/);
  assert.match(t1[1]!, /^ITLSEP001122334455\.tlv: ITL trusted \(first use\): signer ITLRecovery/i);
  assert.match(t1[2]!, /^SEP001122334455\.cnf\.xml\.sgn: config signature valid \(signed by /);
  assert.equal(first.configTrusted, true);

  const again = await boot(app, phones, PHONE);
  assert.equal(again.decisions[1]!.verdict, Verdict.unchanged, texts(again).join('\n'));

  regenerateCertificate(app.state, 'CallManager', systemClock);
  const second = await boot(app, phones, PHONE);
  const t2 = texts(second);
  assert.equal(second.decisions[1]!.verdict, Verdict.accepted, t2.join('\n'));
  assert.match(t2[1]!, /ITL accepted: signed by known SAST ITLRecovery.* \(in the installed ITL\)/i);
  assert.match(t2[2]!, /config signature valid/);
  assert.notEqual(second.itlSha256, first.itlSha256);
  assert.equal(second.configTrusted, true);
});

test('after ITLRecovery regeneration the phone rejects the new ITL (no TVS) and keeps its ITL', async () => {
  const app = await startAppliance();
  app.state.store.addDevice({ name: PHONE, model: '8865' });
  const phones = tempDir();
  const first = await boot(app, phones, PHONE);
  assert.equal(first.decisions[1]!.verdict, Verdict.trusted, texts(first).join('\n'));

  regenerateCertificate(app.state, 'ITLRecovery', systemClock);
  const second = await boot(app, phones, PHONE);
  const t = texts(second);
  assert.equal(second.decisions[1]!.verdict, Verdict.rejected, t.join('\n'));
  assert.match(t[1]!, /rejected ITL: signer not trusted \(ITLRecovery.*not a SAST the phone knows, and no TVS to ask\)/i);
  assert.equal(second.itlSha256, first.itlSha256, 'the installed ITL stays');
  // CallManager did not change, so the config still verifies against the ITL the phone kept.
  assert.match(t[2]!, /config signature valid/);

  // TVS that cannot be reached: still rejected, and the phone says why.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const unreachable = await boot(app, phones, PHONE, {
    verifyUnknownSigner: tvsHook({ host: '127.0.0.1', port: deadPort }, { timeoutMs: 5000 }),
  });
  assert.match(texts(unreachable)[1]!, /rejected ITL: signer not trusted \(.*TVS could not be asked: /);

  // The appliance's own TVS (sbd-tvsd, pinned to the TVS record of the phone's ITL) vouches for the new
  // ITLRecovery as SAST: the same ITL is taken.
  const tvs = new TvsServer({ store: app.state.store, host: '127.0.0.1', port: 0, logger: silentLogger, reloadIntervalMs: 0 });
  const { port: tvsPort } = await tvs.listen();
  try {
    const third = await boot(app, phones, PHONE, { verifyUnknownSigner: tvsHook({ host: '127.0.0.1', port: tvsPort }) });
    assert.match(texts(third)[1]!, /ITL accepted: signer ITLRecovery.* vouched for by TVS \(roles SAST\)/i);
    assert.notEqual(third.itlSha256, first.itlSha256);

    // A foreign cluster's ITL is not the appliance's: TVS does not vouch for its signer.
    const other = await startAppliance({ hostname: 'foreign.example' });
    other.state.store.addDevice({ name: PHONE, model: '8865' });
    const foreign = await boot(other, phones, PHONE, { verifyUnknownSigner: tvsHook({ host: '127.0.0.1', port: tvsPort }) });
    assert.equal(foreign.decisions[1]!.verdict, Verdict.rejected, texts(foreign).join('\n'));
    assert.match(texts(foreign)[1]!, /not a SAST the phone knows, and TVS does not vouch for it/);
  } finally {
    await tvs.close();
  }
});

test("rollback: the phone takes the empty ITL, then an unsigned config, then a foreign cluster's ITL", async () => {
  const app = await startAppliance();
  app.state.store.addDevice({ name: PHONE, model: '8845' });
  const phones = tempDir();
  const r0 = await boot(app, phones, PHONE);
  assert.equal(r0.decisions[1]!.verdict, Verdict.trusted, texts(r0).join('\n'));

  app.state.store.setParam('PrepareClusterForRollback', 'true');
  const rb = await boot(app, phones, PHONE);
  const t = texts(rb);
  assert.equal(rb.decisions[1]!.verdict, Verdict.accepted, t.join('\n'));
  assert.match(t[1]!, /ITL accepted: signed by known SAST .*empty \(rollback\) ITL/);
  assert.equal(rb.decisions[2]!.file, `${PHONE}.cnf.xml`);
  assert.match(t[2]!, /unsigned config accepted: the installed ITL is empty \(rollback\)/);
  assert.equal(rb.configTrusted, true);

  const other = await startAppliance({ hostname: 'other.example', ipv4: '127.0.0.2' });
  other.state.store.addDevice({ name: PHONE, model: '8845' });
  const moved = await boot(other, phones, PHONE);
  const tm = texts(moved);
  assert.equal(moved.decisions[1]!.verdict, Verdict.accepted, tm.join('\n'));
  assert.match(tm[1]!, /ITL accepted: the installed ITL is empty \(rollback\), so any new ITL is taken/);
  assert.match(tm[2]!, /config signature valid/);

  // And the foreign cluster's ITL now binds the phone: its old cluster (still rolled back) is refused.
  app.state.store.setParam('PrepareClusterForRollback', 'false');
  const back = await boot(app, phones, PHONE);
  assert.equal(back.decisions[1]!.verdict, Verdict.rejected, texts(back).join('\n'));
});
