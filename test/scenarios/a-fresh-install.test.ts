/**
 * Scenario a — fresh install. `sbd init`, phones added with `sbd device add`, the daemons started; phones that
 * have never seen the cluster trust the first ITL (no CTL: trust on first use), accept their signed configs,
 * and find that the TVS and CAPF servers their configs name present the TVS and CAPF certificates of that ITL.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Verdict } from '../../src/sim/decisions.js';
import { checkTrustServices } from '../../src/sim/service-check.js';
import { phoneConfigServices } from '../../src/sim/phone-config.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { about, bootAll, fleet, phoneNames, redirect, startCluster, story } from './harness.js';

test('fresh install: first ITL trusted, signed configs valid, TVS and CAPF servers match the ITL', async () => {
  const cluster = await startCluster();
  const names = phoneNames(0x00aa00000100, 5);
  const models = ['8845', '8865', '7841', '8851', '9971'];
  for (const [i, name] of names.entries()) await cluster.admin('device', 'add', name, '--model', models[i]!, '--dn', String(2000 + i));
  const phones = fleet();

  const reports = await Promise.all(names.map((name, i) => bootAll(phones, cluster, [name], { model: models[i]! }).then((r) => r[0]!)));
  for (const r of reports) {
    assert.deepEqual(
      r.decisions.map((d) => [d.subject, d.verdict]),
      [
        ['CTL', Verdict.absent],
        ['ITL', Verdict.trusted],
        ['config', Verdict.accepted],
      ],
      story(r),
    );
    assert.match(about(r, 'CTL').text, /^no CTL on the server \(cluster not in mixed mode\)$/);
    assert.match(about(r, 'ITL').text, /^ITL trusted \(first use\): signer ITLRECOVERY_sbd\.example, serial [0-9a-f]+$/i, story(r));
    assert.equal(about(r, 'ITL').file, `ITL${r.deviceName}.tlv`);
    assert.match(
      about(r, 'config').text,
      /^config signature valid \(signed by sbd\.example, ITL record \d+ \(CCM\+TFTP, CN=sbd\.example;/,
      story(r),
    );
    assert.equal(r.configFile, `${r.deviceName}.cnf.xml.sgn`);
    assert.equal(r.configTrusted, true);
  }
  // Every phone holds the very ITL sbd-tftpd serves and recorded for the ITL File Status report.
  const itls = new Set(reports.map((r) => r.itlSha256));
  assert.equal(itls.size, 1);
  assert.deepEqual(
    cluster.state.store.listServerItlHashes().map((h) => h.sha256Hex),
    [...itls],
  );

  // The config tells the phone where TVS and CAPF are; both present the certificates of its ITL.
  const config = readFileSync(join(phones.dir, names[0]!, 'config.xml'));
  const services = phoneConfigServices(config);
  assert.deepEqual(services.tvs, [{ host: '127.0.0.1', port: 2445 }]);
  assert.deepEqual(services.capf, [{ host: '127.0.0.1', port: 3804 }]);
  assert.equal(services.capfAuthMode, 0, 'no CAPF operation pending on a fresh install');
  for (const name of names) {
    const checks = await checkTrustServices({ stateDir: phones.dir, deviceName: name, redirect });
    assert.deepEqual(
      checks.map((d) => [d.subject, d.verdict]),
      [
        ['TVS', Verdict.accepted],
        ['CAPF', Verdict.accepted],
      ],
      checks.map((d) => d.text).join('\n'),
    );
    assert.match(checks[0]!.text, /^TVS 127\.0\.0\.1:2445 presents .*\(serial [0-9a-f]+\): the TVS record of the installed ITL$/);
    assert.match(checks[1]!.text, /^CAPF 127\.0\.0\.1:3804 presents CAPF-.*: the CAPF record of the installed ITL$/);
  }

  // A second boot changes nothing: same ITL, same verdicts.
  const again = await bootAll(phones, cluster, names);
  for (const r of again) {
    assert.equal(about(r, 'ITL').verdict, Verdict.unchanged, story(r));
    assert.equal(about(r, 'config').verdict, Verdict.accepted, story(r));
  }
});
