/**
 * Seed procedure: Prepare Cluster for Rollback — `set param PrepareClusterForRollback true`, then false — from the
 * console. As CUCM 10.5+ does, sbd resets every phone by itself after each change (no question asked); the phones
 * (procedure-stage.ts) obey the NOTIFY on their own. What each phone decided at its own boots is asserted: with
 * rollback on it takes the empty ITL and then an unsigned config; back off, it takes the normal ITL (any ITL is taken
 * after the empty one) and authenticates its signed config again; the boot after that changes nothing.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Verdict } from '../../src/sim/decisions.js';
import { about, story } from './harness.js';
import { assertWaveDone, startStage } from './procedure-stage.js';

const PHONES = 3;

test('Prepare Cluster for Rollback on, off: the phones restart by themselves, take the empty ITL, then signed configs again', async () => {
  const stage = await startStage(0x00ee00000400, PHONES);

  const on = await stage.console('set param PrepareClusterForRollback true');
  assert.deepEqual(on.questions, [], 'no question: the reset is part of the change');
  assert.match(on.out, /HTTPS phone services .* stop working/);
  assertWaveDone(on.out, PHONES);
  for (const r of await stage.bootsAfter(1)) {
    assert.match(
      about(r, 'ITL').text,
      /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example, serial [0-9a-f]+ \(in the installed ITL\); it is the empty \(rollback\) ITL: configs are no longer authenticated$/i,
      story(r),
    );
    const config = about(r, 'config');
    assert.equal(config.file, `${r.deviceName}.cnf.xml`, 'the phone asks for the unsigned config first');
    assert.equal(config.text, 'unsigned config accepted: the installed ITL is empty (rollback)');
  }

  const off = await stage.console('set param PrepareClusterForRollback false');
  assert.deepEqual(off.questions, []);
  assertWaveDone(off.out, PHONES);
  for (const r of await stage.bootsAfter(2)) {
    assert.match(about(r, 'ITL').text, /^ITL accepted: the installed ITL is empty \(rollback\), so any new ITL is taken$/, story(r));
    const config = about(r, 'config');
    assert.equal(config.file, `${r.deviceName}.cnf.xml.sgn`, 'signed configs again');
    assert.match(config.text, /^config signature valid \(signed by sbd\.example/, story(r));
  }

  // They hold a normal ITL again: a reset from the console now changes nothing and still verifies the config.
  const again = await stage.console('utils phone reset all', [true]);
  assertWaveDone(again.out, PHONES);
  for (const r of await stage.bootsAfter(3)) {
    assert.equal(about(r, 'ITL').verdict, Verdict.unchanged, story(r));
    assert.match(about(r, 'config').text, /^config signature valid/, story(r));
  }
  // And the console sees it from the phones' own DeviceTLInfo reports.
  assert.match((await stage.console('show report itl-status')).out, /^Match: 3 {2}MisMatch: 0 {2}Not Installed: 0$/m);
});
