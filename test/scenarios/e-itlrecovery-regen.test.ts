/**
 * Scenario e — ITLRecovery regeneration, with a few hundred phones. `sbd cert regen ITLRecovery` prints its
 * warnings (TVS must stay reachable and unchanged; export the new key; reset phones; new backup). The new ITL is
 * signed by a SAST no phone holds, so each phone asks TVS — the `<TVS>` server of its config, pinned to the TVS
 * record of its ITL — which vouches for the new ITLRecovery as SAST. Phones that boot while TVS is down keep
 * their ITL (and, CallManager unchanged, still boot on their config) and take the new ITL once TVS is back.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { about, bootAll, fleet, phoneNames, startCluster, story, tally } from './harness.js';

const FLEET = 300;

test(`ITLRecovery regeneration: warnings, then ${FLEET} phones take the new ITL through TVS`, async () => {
  const cluster = await startCluster();
  const names = phoneNames(0x00ee00000000, FLEET);
  for (const name of names) await cluster.admin('device', 'add', name, '--model', '8845');
  const phones = fleet();
  const first = await bootAll(phones, cluster, names);
  assert.deepEqual(tally(first, 'ITL'), { [`trusted: ITL trusted (first use): signer ITLRECOVERY_sbd.example, serial …`]: FLEET });
  const oldItl = first[0]!.itlSha256;

  const regen = await cluster.admin('cert', 'regen', 'ITLRecovery');
  const warnings = regen.out.split('\n').filter((l) => l.startsWith('WARNING: '));
  assert.deepEqual(warnings, [
    'WARNING: ITLRecovery signs the ITL and is what phones hold to accept a new ITL. Phones that have the old ITLRecovery verify the new ITL only through TVS; keep TVS reachable and unchanged until every phone has the new ITL.',
    'WARNING: Export the new key with "file get tftp ITLRecovery.p12" and keep it safe: without it, an ITL reset is not possible.',
    'WARNING: Reset the phones so they download the new trust list, and take a new encrypted backup (utils disaster_recovery backup).',
  ]);
  assert.match(regen.out, /^BACKUP: A new backup is required now: the ITLRecovery key changed and earlier backups hold the old one\./m);
  assert.match(regen.out, /previous certificate \(serial [0-9a-f]+\) kept as history/);

  // A few phones reset while TVS is down: they keep their ITL and say why.
  const unlucky = names.slice(0, 3);
  await cluster.stopTvs();
  for (const r of await bootAll(phones, cluster, unlucky)) {
    assert.match(
      about(r, 'ITL').text,
      /^rejected ITL: signer not trusted \(ITLRECOVERY_sbd\.example, serial [0-9a-f]+: not a SAST the phone knows, and TVS could not be asked: 127\.0\.0\.1:2445: TVS 127\.0\.0\.1: connect ECONNREFUSED/i,
      story(r),
    );
    assert.equal(r.itlSha256, oldItl, 'the installed ITL stays');
    assert.match(about(r, 'config').text, /^config signature valid/, 'CallManager did not change: the config still verifies');
  }
  await cluster.startTvs();

  const second = await bootAll(phones, cluster, names);
  assert.deepEqual(tally(second, 'ITL'), {
    [`accepted: ITL accepted: signer ITLRECOVERY_sbd.example, serial … vouched for by TVS (roles SAST)`]: FLEET,
  });
  for (const r of second) {
    assert.notEqual(r.itlSha256, oldItl, story(r));
    assert.match(about(r, 'config').text, /^config signature valid/, story(r));
  }
  // The new ITLRecovery is now a SAST the phones hold: the next ITL change needs no TVS.
  await cluster.admin('cert', 'regen', 'CallManager');
  const third = await bootAll(phones, cluster, names.slice(0, 20));
  assert.deepEqual(tally(third, 'ITL'), {
    [`accepted: ITL accepted: signed by known SAST ITLRECOVERY_sbd.example, serial … (in the installed ITL)`]: 20,
  });
  assert.ok(
    third.every((r) => r.configTrusted),
    third.map(story).join('\n'),
  );
});
