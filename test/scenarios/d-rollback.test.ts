/**
 * Scenario d — Prepare Cluster for Rollback (spec §1.7, DESIGN §2). With the parameter True, TFTP serves the
 * "empty" ITL (TVS and TFTP records without certificates), still signed by ITLRecovery, so phones take it; from
 * then on they accept unsigned configs and any new ITL — that is how phones move to another cluster (here a
 * second appliance on 127.0.0.2). Set back to False, the phones that stayed take the normal ITL (any ITL is taken
 * after the empty one) and authenticate their configs again; the phones that moved belong to the other cluster.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Verdict } from '../../src/sim/decisions.js';
import { about, bootAll, fleet, phoneNames, startCluster, story } from './harness.js';

test("rollback True: empty ITL, unsigned config, a foreign cluster's ITL taken; False restores signing for phones that stayed", async () => {
  const home = await startCluster();
  const foreign = await startCluster({ hostname: 'other.example', ipv4: '127.0.0.2' });
  const names = phoneNames(0x00dd00000100, 6);
  const movers = names.slice(0, 3);
  const stayers = names.slice(3);
  for (const name of names) await home.admin('device', 'add', name, '--model', '8845');
  for (const name of movers) await foreign.admin('device', 'add', name, '--model', '8845');
  const phones = fleet();
  for (const r of await bootAll(phones, home, names)) assert.equal(about(r, 'ITL').verdict, Verdict.trusted, story(r));

  // Before rollback a foreign cluster's ITL is refused: its signer is unknown, and the home TVS does not vouch.
  const early = (await bootAll(phones, foreign, [movers[0]!]))[0]!;
  assert.match(
    about(early, 'ITL').text,
    /^rejected ITL: signer not trusted \(ITLRECOVERY_other\.example, serial [0-9a-f]+: not a SAST the phone knows, and TVS does not vouch for it\)$/i,
    story(early),
  );

  const set = await home.admin('param', 'set', 'PrepareClusterForRollback', 'true');
  assert.match(set.out, /PrepareClusterForRollback = true/);
  for (const r of await bootAll(phones, home, names)) {
    assert.match(
      about(r, 'ITL').text,
      /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example, serial [0-9a-f]+ \(in the installed ITL\); it is the empty \(rollback\) ITL: configs are no longer authenticated$/i,
      story(r),
    );
    const config = about(r, 'config');
    assert.equal(config.file, `${r.deviceName}.cnf.xml`, 'the phone asks for the unsigned config first');
    assert.equal(config.text, 'unsigned config accepted: the installed ITL is empty (rollback)');
    assert.equal(r.configTrusted, true);
  }

  // Migration: the movers boot from the other cluster and take its ITL and its signed config.
  for (const r of await bootAll(phones, foreign, movers)) {
    assert.match(about(r, 'ITL').text, /^ITL accepted: the installed ITL is empty \(rollback\), so any new ITL is taken$/, story(r));
    assert.match(about(r, 'config').text, /^config signature valid \(signed by other\.example, ITL record/, story(r));
    assert.equal(r.configTrusted, true);
  }

  await home.admin('param', 'set', 'PrepareClusterForRollback', 'false');
  for (const r of await bootAll(phones, home, stayers)) {
    assert.match(about(r, 'ITL').text, /^ITL accepted: the installed ITL is empty \(rollback\), so any new ITL is taken$/, story(r));
    assert.equal(about(r, 'config').file, `${r.deviceName}.cnf.xml.sgn`, 'signed configs again');
    assert.match(about(r, 'config').text, /^config signature valid \(signed by sbd\.example/, story(r));
  }
  // And they hold a normal ITL again: the next boot changes nothing, and a foreign ITL is refused once more.
  for (const r of await bootAll(phones, home, stayers)) {
    assert.equal(about(r, 'ITL').verdict, Verdict.unchanged, story(r));
    assert.match(about(r, 'config').text, /^config signature valid/, story(r));
  }
  const tempted = (await bootAll(phones, foreign, [stayers[0]!]))[0]!;
  assert.equal(about(tempted, 'ITL').verdict, Verdict.rejected, story(tempted));

  // The movers now belong to the other cluster: the home ITL is not theirs, and the other cluster's TVS
  // (pinned from their new ITL) does not vouch for the home ITLRecovery.
  for (const r of await bootAll(phones, home, movers)) {
    assert.match(
      about(r, 'ITL').text,
      /^rejected ITL: signer not trusted \(ITLRECOVERY_sbd\.example, serial [0-9a-f]+: not a SAST the phone knows, and TVS does not vouch for it\)$/i,
      story(r),
    );
  }
});
