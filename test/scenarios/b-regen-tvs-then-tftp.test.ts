/**
 * Scenario b — regenerate TVS, then TFTP (CallManager): the order the documentation asks for. Phones are reset
 * after each step, as the warnings say, and accept every new ITL and config without anything being deleted on
 * them.
 *   1. The ITL signed by ITLRecovery (the normal case): neither regeneration touches the ITL signer, so every
 *      new ITL is signed by a SAST the phones hold.
 *   2. The ITL signed by the CallManager key (after `sbd itl reset localkey`, as every ITL was before CUCM 12):
 *      the TVS step changes only the TVS record (the ITL is still signed by the CallManager the phones know);
 *      the CallManager step changes the signer, and the phones verify it through TVS — whose new certificate
 *      they already hold from step one.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Verdict } from '../../src/sim/decisions.js';
import { checkTrustServices } from '../../src/sim/service-check.js';
import { about, bootAll, fleet, phoneNames, redirect, startCluster, story, type Cluster, type Fleet } from './harness.js';

async function setup(base: number): Promise<{ cluster: Cluster; phones: Fleet; names: string[] }> {
  const cluster = await startCluster();
  const names = phoneNames(base, 5);
  for (const name of names) await cluster.admin('device', 'add', name, '--model', '8845');
  const phones = fleet();
  for (const r of await bootAll(phones, cluster, names)) assert.equal(about(r, 'ITL').verdict, Verdict.trusted, story(r));
  return { cluster, phones, names };
}

function assertAllAccepted(reports: Awaited<ReturnType<typeof bootAll>>, itl: RegExp): void {
  for (const r of reports) {
    assert.equal(about(r, 'ITL').verdict, Verdict.accepted, story(r));
    assert.match(about(r, 'ITL').text, itl, story(r));
    assert.match(about(r, 'config').text, /^config signature valid \(signed by sbd\.example, ITL record/, story(r));
    assert.equal(r.configTrusted, true, story(r));
    // Nothing refused, so nothing had to be deleted from the phone to get it going.
    assert.ok(!r.decisions.some((d) => d.verdict === Verdict.rejected || d.verdict === Verdict.failed), story(r));
  }
}

test('ITL signed by ITLRecovery: regen TVS, reset, regen CallManager, reset — every phone accepts, nothing deleted', async () => {
  const { cluster, phones, names } = await setup(0x00bb00000100);
  const tvs = await cluster.admin('cert', 'regen', 'TVS');
  assert.match(
    tvs.out,
    /WARNING: If you also regenerate CallManager \(TFTP\), do it after TVS, never before: phones check the new ITL signer through TVS\./,
  );
  assert.match(tvs.out, /WARNING: Reset the phones so they download the new trust list, and take a new encrypted backup/);
  cluster.reloadServices();

  const afterTvs = await bootAll(phones, cluster, names);
  assertAllAccepted(afterTvs, /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example, serial [0-9a-f]+ \(in the installed ITL\)$/i);
  // The new TVS certificate is what the phones now pin.
  for (const name of names) {
    const [tvsCheck] = await checkTrustServices({ stateDir: phones.dir, deviceName: name, redirect });
    assert.equal(tvsCheck!.verdict, Verdict.accepted, tvsCheck!.text);
  }

  const cm = await cluster.admin('cert', 'regen', 'CallManager');
  assert.match(cm.out, /WARNING: Regenerate TVS before CallManager when both change/);
  cluster.reloadServices();
  const afterCm = await bootAll(phones, cluster, names);
  assertAllAccepted(afterCm, /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example/i);
  for (const [i, r] of afterCm.entries()) assert.notEqual(r.itlSha256, afterTvs[i]!.itlSha256, 'the phone holds the new ITL');
});

test('ITL signed by the CallManager key: regen TVS, reset, regen CallManager, reset — the new signer is vouched for by the new TVS', async () => {
  const { cluster, phones, names } = await setup(0x00bb00000200);
  const reset = await cluster.admin('itl', 'reset', 'localkey');
  assert.match(reset.out, /ITL signed by CallManager/);
  for (const r of await bootAll(phones, cluster, names)) {
    assert.match(
      about(r, 'ITL').text,
      /^ITL accepted: signed by known SAST sbd\.example, serial [0-9a-f]+ \(in the installed ITL\)$/,
      story(r),
    );
  }

  await cluster.admin('cert', 'regen', 'TVS');
  cluster.reloadServices();
  const afterTvs = await bootAll(phones, cluster, names);
  // Same CallManager signer: known; the ITL now carries the new TVS certificate.
  assertAllAccepted(afterTvs, /^ITL accepted: signed by known SAST sbd\.example, serial [0-9a-f]+ \(in the installed ITL\)$/);

  await cluster.admin('cert', 'regen', 'CallManager');
  cluster.reloadServices();
  const afterCm = await bootAll(phones, cluster, names);
  // A new signer the phones do not hold: TVS (the new one, pinned from the ITL of the previous step) vouches.
  assertAllAccepted(afterCm, /^ITL accepted: signer sbd\.example, serial [0-9a-f]+ vouched for by TVS \(roles CCM\+TFTP, SAST\)$/);

  await cluster.admin('itl', 'reset', 'complete');
  const complete = await bootAll(phones, cluster, names);
  assertAllAccepted(complete, /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example/i);
});
