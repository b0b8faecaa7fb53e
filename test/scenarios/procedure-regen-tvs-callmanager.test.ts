/**
 * Seed procedure: regenerate TVS, then CallManager, resetting the phones after each — from the console, the phones
 * resetting on their own when sbd's NOTIFY reaches them (procedure-stage.ts). `set cert regen NAME` asks to
 * regenerate, then "Reset all phones now?"; before the yes the test lets sbd-tvsd take up the new certificate (as
 * its reload interval would). What each phone decided at its own boots is asserted:
 *  - ITL signed by ITLRecovery (the default): both ITLs are signed by a SAST the phone holds; after TVS it pins the
 *    new TVS certificate, after CallManager its config is signed by the new CallManager.
 *  - ITL signed by the CallManager key (`utils itl reset localkey`, as before CUCM 12): the CallManager step brings
 *    an ITL signed by a new signer, which the phones trust because the new TVS vouches for it.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Verdict } from '../../src/sim/decisions.js';
import { checkTrustServices } from '../../src/sim/service-check.js';
import { about, redirect, story } from './harness.js';
import { assertWaveDone, startStage, type Stage } from './procedure-stage.js';

const PHONES = 3;

/** `set cert regen NAME` answered yes twice; the TVS daemon reloads before the phones are reset. Serial of the new certificate. */
async function regen(stage: Stage, name: 'TVS' | 'CallManager'): Promise<string> {
  const r = await stage.console(`set cert regen ${name}`, [
    true,
    () => {
      stage.cluster.reloadServices();
      return true;
    },
  ]);
  assert.deepEqual(r.questions, [`Regenerate the ${name} certificate? Phones must then be reset.`, 'Reset all phones now?']);
  assertWaveDone(r.out, PHONES);
  const serial = /Regenerated \S+: serial ([0-9a-f]+)/i.exec(r.out)?.[1];
  assert.ok(serial, r.out);
  return serial.toLowerCase().replace(/^0+/, '');
}

const serialIn = (text: string) => /serial ([0-9a-f]+)/.exec(text)?.[1]?.replace(/^0+/, '');

async function assertPinsNewTvs(stage: Stage): Promise<void> {
  for (const p of stage.phones) {
    const [tvs] = await checkTrustServices({ stateDir: stage.fleet.dir, deviceName: p.name, redirect });
    assert.equal(tvs!.verdict, Verdict.accepted, tvs!.text);
    assert.equal(serialIn(tvs!.text), serialIn(`serial ${stage.cluster.state.store.currentCertificate('TVS', 'sbd')?.serialHex}`));
  }
}

test('regen TVS then CallManager, ITL signed by ITLRecovery: every phone resets by itself and takes both', async () => {
  const stage = await startStage(0x00ee00000100, PHONES);
  await regen(stage, 'TVS');
  for (const r of await stage.bootsAfter(1)) {
    assert.match(
      about(r, 'ITL').text,
      /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example, serial [0-9a-f]+ \(in the installed ITL\)$/i,
      story(r),
    );
    assert.match(about(r, 'config').text, /^config signature valid \(signed by sbd\.example/, story(r));
  }
  await assertPinsNewTvs(stage);

  await regen(stage, 'CallManager');
  const afterTvs = stage.phones.map((p) => p.boots[0]!.itlSha256);
  for (const [i, r] of (await stage.bootsAfter(2)).entries()) {
    assert.match(about(r, 'ITL').text, /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example/i, story(r));
    assert.notEqual(r.itlSha256, afterTvs[i], 'the phone holds the ITL with the new CallManager');
    const config = about(r, 'config');
    assert.equal(config.file, `${r.deviceName}.cnf.xml.sgn`);
    // Signed by the new CallManager: the only CCM+TFTP record of the new ITL the phone just took.
    assert.match(config.text, /^config signature valid \(signed by sbd\.example, ITL record \d+ \(CCM\+TFTP/, story(r));
    assert.ok(!r.decisions.some((d) => d.verdict === Verdict.rejected || d.verdict === Verdict.failed), story(r));
  }
  // The console's ITL File Status, from the phones' own DeviceTLInfo reports: every phone holds what TFTP serves.
  assert.match((await stage.console('show report itl-status')).out, /^Match: 3 {2}MisMatch: 0 {2}Not Installed: 0$/m);
});

test('regen TVS then CallManager, ITL signed by CallManager: the new signer is trusted through the new TVS', async () => {
  const stage = await startStage(0x00ee00000200, PHONES);
  const reset = await stage.console('utils itl reset localkey', [true]);
  assert.match(reset.out, /ITL signed by CallManager/);
  assertWaveDone(reset.out, PHONES);
  for (const r of await stage.bootsAfter(1))
    assert.match(
      about(r, 'ITL').text,
      /^ITL accepted: signed by known SAST sbd\.example, serial [0-9a-f]+ \(in the installed ITL\)$/,
      story(r),
    );

  await regen(stage, 'TVS');
  for (const r of await stage.bootsAfter(2))
    assert.match(
      about(r, 'ITL').text,
      /^ITL accepted: signed by known SAST sbd\.example, serial [0-9a-f]+ \(in the installed ITL\)$/,
      story(r),
    );
  await assertPinsNewTvs(stage);

  const cm = await regen(stage, 'CallManager');
  for (const r of await stage.bootsAfter(3)) {
    const itl = about(r, 'ITL');
    assert.match(itl.text, /^ITL accepted: signer sbd\.example, serial [0-9a-f]+ vouched for by TVS \(roles CCM\+TFTP, SAST\)$/, story(r));
    assert.equal(serialIn(itl.text), cm, 'the new CallManager signs the ITL');
    assert.match(about(r, 'config').text, /^config signature valid \(signed by sbd\.example/, story(r));
    assert.equal(r.configTrusted, true);
  }

  const complete = await stage.console('utils itl reset complete', [true]);
  assertWaveDone(complete.out, PHONES);
  for (const r of await stage.bootsAfter(4))
    assert.match(about(r, 'ITL').text, /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example/i, story(r));
});
