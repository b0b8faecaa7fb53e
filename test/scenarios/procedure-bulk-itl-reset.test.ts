/**
 * Seed procedure: bulk ITL reset — `utils itl reset localkey`, restart the TFTP service, `utils itl reset
 * complete` — from the console, the phones resetting on their own when sbd's NOTIFY reaches them
 * (procedure-stage.ts). The CallManager signing of localkey lasts until sbd-tftpd restarts (the seed); the phones
 * that took the CallManager-signed ITL hold ITLRecovery as a SAST in it and take the ITLRecovery-signed ITL again.
 * What each phone decided at its own boots is asserted, sbd-tftpd's log says when the signing ended, and the
 * console's ITL File Status report (from the phones' own DeviceTLInfo reports) shows every phone at Match.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Verdict } from '../../src/sim/decisions.js';
import { about, story } from './harness.js';
import { assertWaveDone, startStage } from './procedure-stage.js';

const PHONES = 3;

test('bulk ITL reset: localkey, TFTP restart, complete — the phones take each ITL by themselves', async () => {
  const stage = await startStage(0x00ee00000300, PHONES);
  const powerOn = stage.phones.map((p) => p.sip.currentRegisterCallId);

  const localkey = await stage.console('utils itl reset localkey', [true]);
  assert.deepEqual(localkey.questions, ['Reset all phones now?']);
  assert.match(localkey.out, /^ITL signed by CallManager: sha256 [0-9a-f]{64}$/m);
  assertWaveDone(localkey.out, PHONES);
  const cmSigned = await stage.bootsAfter(1);
  for (const r of cmSigned) {
    assert.match(
      about(r, 'ITL').text,
      /^ITL accepted: signed by known SAST sbd\.example, serial [0-9a-f]+ \(in the installed ITL\)$/,
      story(r),
    );
    assert.match(about(r, 'config').text, /^config signature valid \(signed by sbd\.example/, story(r));
  }
  for (const [i, p] of stage.phones.entries()) assert.notEqual(p.sip.currentRegisterCallId, powerOn[i], `${p.name} registered anew`);
  // What the seed waits for before "complete": every phone reports the ITL TFTP serves (DeviceTLInfo, ITL File Status).
  const status = await stage.console('show report itl-status');
  assert.match(status.out, /^Match: 3 {2}MisMatch: 0 {2}Not Installed: 0$/m, status.out);

  // The TFTP service restarts: ITLRecovery signs again (the phones are not told; they take it at their next reset).
  await stage.restartTftp();
  assert.equal(stage.tftpd.lines.filter((l) => l.event === 'itl-reset-ended').length, 1, 'sbd-tftpd ended the CallManager signing');
  assert.equal(stage.cluster.state.store.getParam('ItlResetSigner'), 'ITLRecovery');

  const complete = await stage.console('utils itl reset complete', [true]);
  assert.match(complete.out, /^ITL signed by ITLRecovery: sha256 [0-9a-f]{64}$/m);
  assertWaveDone(complete.out, PHONES);
  for (const [i, r] of (await stage.bootsAfter(2)).entries()) {
    // ITLRecovery is a SAST record of the CallManager-signed ITL the phone took at localkey.
    assert.match(
      about(r, 'ITL').text,
      /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example, serial [0-9a-f]+ \(in the installed ITL\)$/i,
      story(r),
    );
    assert.notEqual(r.itlSha256, cmSigned[i]!.itlSha256);
    assert.equal(r.configTrusted, true);
    assert.ok(!r.decisions.some((d) => d.verdict === Verdict.rejected || d.verdict === Verdict.failed), story(r));
  }
  assert.deepEqual(
    stage.phones.map((p) => p.sip.control.resets),
    [2, 2, 2],
  );
  assert.match((await stage.console('show report itl-status')).out, /^Match: 3 {2}MisMatch: 0 {2}Not Installed: 0$/m);
});
