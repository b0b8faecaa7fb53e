/**
 * Scenario c — regenerate TFTP (CallManager), then TVS: the order the documentation warns against, and the bulk
 * ITL reset that gets the phones back.
 *
 * How the situation really arises. The order only matters while the ITL is signed by the CallManager key: that
 * is every ITL before CUCM 12, and ours between `sbd itl reset localkey` and `sbd itl reset complete`. Here an
 * administrator ran `localkey` (phones took the ITL, signed by the CallManager key they hold) and did not run
 * `complete` yet. Then:
 *   1. `sbd cert regen CallManager`: the ITL is now signed by a CallManager certificate no phone holds. A phone
 *      reset now asks TVS (its ITL pins the TVS certificate), TVS vouches, the phone takes the ITL — the phone
 *      rebooted in this window is fine.
 *   2. `sbd cert regen TVS` before the others were reset: TVS now presents a certificate that is not in those
 *      phones' ITL. At their next boot the new ITL's signer is unknown, TVS cannot be asked (the phone refuses
 *      the TLS connection to a TVS it cannot pin), and the config, signed by the new CallManager, cannot be
 *      verified either: no config, the phone does not boot — and stays so at every reboot.
 * Recovery is the ITL signed by a key the stuck phones still hold: ITLRecovery. `sbd itl reset localkey` signs
 * with the CallManager key, which is the new one, so it does not help these phones (asserted); `sbd itl reset
 * complete` hands the ITL back to ITLRecovery, which every stuck phone holds as SAST: they take it, and with it
 * the new CallManager and TVS certificates.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Verdict } from '../../src/sim/decisions.js';
import { checkTrustServices } from '../../src/sim/service-check.js';
import { about, bootAll, fleet, phoneNames, redirect, startCluster, story } from './harness.js';

test('regen CallManager then TVS with the ITL signed by CallManager: phones stuck; itl reset localkey + complete recovers them', async () => {
  const cluster = await startCluster();
  const names = phoneNames(0x00cc00000100, 6);
  for (const name of names) await cluster.admin('device', 'add', name, '--model', '8865');
  const phones = fleet();
  for (const r of await bootAll(phones, cluster, names)) assert.equal(about(r, 'ITL').verdict, Verdict.trusted, story(r));

  // An earlier bulk reset left the ITL signed by the CallManager key.
  await cluster.admin('itl', 'reset', 'localkey');
  for (const r of await bootAll(phones, cluster, names))
    assert.match(about(r, 'ITL').text, /^ITL accepted: signed by known SAST sbd\.example/, story(r));

  const cm = await cluster.admin('cert', 'regen', 'CallManager');
  assert.match(
    cm.out,
    /WARNING: Regenerate TVS before CallManager when both change; if TVS was regenerated after, phones that cannot verify the new ITL need "utils itl reset localkey"\./,
  );
  // One phone happens to reboot now: TVS (still the certificate it pins) vouches for the new signer.
  const early = names[5]!;
  const stuck = names.slice(0, 5);
  const window = (await bootAll(phones, cluster, [early]))[0]!;
  assert.match(
    about(window, 'ITL').text,
    /^ITL accepted: signer sbd\.example, serial [0-9a-f]+ vouched for by TVS \(roles CCM\+TFTP, SAST\)$/,
    story(window),
  );

  await cluster.admin('cert', 'regen', 'TVS');
  cluster.reloadServices();
  for (let round = 0; round < 2; round++) {
    for (const r of await bootAll(phones, cluster, stuck)) {
      const itl = about(r, 'ITL');
      assert.equal(itl.verdict, Verdict.rejected, story(r));
      assert.match(
        itl.text,
        /^rejected ITL: signer not trusted \(sbd\.example, serial [0-9a-f]+: not a SAST the phone knows, and TVS could not be asked: 127\.0\.0\.1:2445: the TVS server presented a certificate that is not a trusted TVS certificate\)$/,
        story(r),
      );
      const config = about(r, 'config');
      assert.equal(config.verdict, Verdict.rejected, story(r));
      assert.match(
        config.text,
        /^config signature invalid: SEP[0-9A-F]{12}\.cnf\.xml\.sgn is signed by sbd\.example \(serial [0-9a-f]+\), which is not a TFTP or CCM\+TFTP record of the installed trust lists$/,
        story(r),
      );
      assert.equal(r.configTrusted, false, 'stuck: no config');
    }
  }
  const [tvsCheck] = await checkTrustServices({ stateDir: phones.dir, deviceName: stuck[0]!, redirect });
  assert.match(tvsCheck!.text, /which is not a TVS record of the installed trust lists: the phone would not talk to it$/);
  // The phone that took the ITL in the window holds the new CallManager: it is fine.
  const fine = (await bootAll(phones, cluster, [early]))[0]!;
  assert.equal(fine.configTrusted, true, story(fine));

  // Bulk ITL reset, step one: signed by the CallManager key — the new one, which the stuck phones never got.
  const localkey = await cluster.admin('itl', 'reset', 'localkey');
  assert.match(localkey.out, /ITL signed by CallManager/);
  for (const r of await bootAll(phones, cluster, stuck)) {
    assert.equal(about(r, 'ITL').verdict, Verdict.rejected, story(r));
    assert.equal(r.configTrusted, false, story(r));
  }
  // Step two: ITLRecovery signs again, a SAST every phone holds.
  const complete = await cluster.admin('itl', 'reset', 'complete');
  assert.match(complete.out, /ITL signed by ITLRecovery/);
  for (const r of await bootAll(phones, cluster, names)) {
    assert.match(
      about(r, 'ITL').text,
      /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example, serial [0-9a-f]+ \(in the installed ITL\)$/i,
      story(r),
    );
    assert.match(about(r, 'config').text, /^config signature valid/, story(r));
    assert.equal(r.configTrusted, true, story(r));
  }
  for (const name of names) {
    const checks = await checkTrustServices({ stateDir: phones.dir, deviceName: name, redirect });
    assert.ok(
      checks.every((d) => d.verdict === Verdict.accepted),
      checks.map((d) => d.text).join('\n'),
    );
  }
});
