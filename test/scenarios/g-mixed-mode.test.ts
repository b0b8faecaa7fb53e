/**
 * Scenario g — mixed mode. `sbd param set ClusterSecurityMode mixed`: sbd-tftpd serves a CTL (signed by the
 * publisher's CallManager key, which the phones already hold as SAST in their ITL), and from then on phones
 * authenticate the ITL through the CTL. Autoregistration still works: an unknown phone trusts the CTL on first
 * use, takes the ITL through it and boots on the signed default config; when it registers, the registrar's
 * `autoRegisterPhone` (AutoRegistration on; the phone REGISTERs with sbd-sipd under its device name) gives it the next directory number, and at its next boot it gets a
 * config of its own, signed.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { after } from 'node:test';
import { silentLogger } from '../../src/lib/log.js';
import { SipDaemon } from '../../src/daemons/sipd.js';
import { sipRegister } from './sip-register.js';
import { Verdict } from '../../src/sim/decisions.js';
import { PhoneFiles } from '../../src/sim/phone-folder.js';
import { about, bootAll, fleet, phoneNames, startCluster, story } from './harness.js';

test('mixed mode: CTL served and trusted, ITL authenticated through the CTL, autoregistration still works', async () => {
  const cluster = await startCluster();
  const known = phoneNames(0x001100000100, 3);
  const fresh = phoneNames(0x001100000200, 2);
  for (const name of known) await cluster.admin('device', 'add', name, '--model', '8845');
  const phones = fleet();
  for (const r of await bootAll(phones, cluster, known)) assert.equal(about(r, 'CTL').verdict, Verdict.absent, story(r));

  await cluster.admin('param', 'set', 'ClusterSecurityMode', 'mixed');
  await cluster.admin('param', 'set', 'AutoRegistration', 'true');

  // Phones holding an ITL take the CTL: its signer (CallManager) is a SAST of their ITL.
  for (const r of await bootAll(phones, cluster, known)) {
    assert.equal(about(r, 'CTL').file, `CTL${r.deviceName}.tlv`);
    assert.match(
      about(r, 'CTL').text,
      /^CTL accepted: signed by known SAST sbd\.example, serial [0-9a-f]+ \(in the installed ITL\)$/,
      story(r),
    );
    assert.equal(about(r, 'ITL').verdict, Verdict.unchanged, 'the mode does not change the ITL itself');
    assert.match(about(r, 'config').text, /^config signature valid/, story(r));
  }

  // With a CTL, a new ITL signer is checked against the CTL: after an ITLRecovery regeneration the rebuilt CTL
  // (signed by the CallManager the phones hold) brings the new ITLRecovery, and the ITL it signs is taken
  // without asking TVS.
  await cluster.admin('cert', 'regen', 'ITLRecovery');
  for (const r of await bootAll(phones, cluster, known)) {
    assert.match(
      about(r, 'CTL').text,
      /^CTL accepted: signed by known SAST sbd\.example, serial [0-9a-f]+ \(in the installed CTL\)$/,
      story(r),
    );
    assert.match(
      about(r, 'ITL').text,
      /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example, serial [0-9a-f]+ \(in the installed CTL\)$/i,
      story(r),
    );
    assert.match(about(r, 'config').text, /^config signature valid/, story(r));
  }

  // A phone the cluster does not know: CTL on first use, the ITL through the CTL, the signed default config.
  for (const r of await bootAll(phones, cluster, fresh)) {
    assert.deepEqual(
      r.decisions.map((d) => [d.file, d.verdict]),
      [
        ['CTLFile.tlv', Verdict.trusted],
        ['ITLFile.tlv', Verdict.accepted],
        ['XMLDefault.cnf.xml.sgn', Verdict.accepted],
      ],
      story(r),
    );
    assert.match(about(r, 'CTL').text, /^CTL trusted \(first use\): signer sbd\.example, serial [0-9a-f]+$/, story(r));
    assert.match(
      about(r, 'ITL').text,
      /^ITL accepted: signed by known SAST ITLRECOVERY_sbd\.example, serial [0-9a-f]+ \(in the installed CTL\)$/i,
      story(r),
    );
    assert.match(about(r, 'config').text, /^config signature valid \(signed by sbd\.example, CTL record/, story(r));
  }

  // It registers with sbd-sipd under its device name; the registrar's autoRegisterPhone adds it with the next
  // free number of AutoRegistrationDnRange and tells it that number.
  const sip = new SipDaemon({
    store: cluster.state.store,
    layout: cluster.state.layout,
    host: '127.0.0.1',
    port: 0,
    tlsPort: null,
    logger: silentLogger,
  });
  const { udp } = await sip.listen();
  after(() => sip.close());
  const numbers: string[] = [];
  for (const name of fresh) {
    const reg = await sipRegister({ host: '127.0.0.1', port: udp, user: name, model: '8845' });
    assert.equal(reg.status, 200, `${reg.status} ${reg.reason}`);
    const associated = /<sip:(\d+)@/.exec(reg.get('P-Associated-URI') ?? '');
    assert.ok(associated, 'the registrar tells the phone its number');
    numbers.push(associated[1]!);
  }
  assert.deepEqual(numbers, ['1000', '1001']);
  const list = await cluster.admin('device', 'list');
  for (const name of fresh) assert.match(list.out, new RegExp(`^${name}  8845  `, 'm'));

  // Reset: its own config now, signed, with its number; the per-device CTL/ITL are the same bytes it holds.
  for (const [i, r] of (await bootAll(phones, cluster, fresh)).entries()) {
    assert.deepEqual(
      r.decisions.map((d) => [d.file, d.verdict]),
      [
        [`CTL${r.deviceName}.tlv`, Verdict.unchanged],
        [`ITL${r.deviceName}.tlv`, Verdict.unchanged],
        [`${r.deviceName}.cnf.xml.sgn`, Verdict.accepted],
      ],
      story(r),
    );
    assert.match(about(r, 'config').text, /^config signature valid/, story(r));
    const config = readFileSync(join(phones.dir, r.deviceName, PhoneFiles.config), 'utf8');
    assert.match(config, new RegExp(`<featureLabel>${numbers[i]}</featureLabel>`));
    assert.match(config, new RegExp(`<name>${r.deviceName}</name>`));
  }
});
