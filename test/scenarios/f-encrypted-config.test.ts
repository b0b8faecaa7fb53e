/**
 * Scenario f — encrypted configs with the phone's own key, the full loop. The administrator schedules CAPF
 * installs (`sbd capf install`); at its next boot each phone reads `<capfAuthMode>`/`<capfList>` from its config,
 * connects to sbd-capfd (pinned to the CAPF record of its ITL), proves itself (auth string typed on the phone, or
 * the empty string), makes its key and keeps the LSC CAPF issues. With the LSC in place the administrator turns
 * on config encryption (Cisco's checklist: LSC first, then the "TFTP Encrypted Config" profile); the phones then
 * get the signed stub and `SEP<MAC>.cnf.xml.enc.sgn`, which only their own key opens.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decryptEncryptedConfig } from '../../src/trust/enc-sgn.js';
import { privateKeyOpener } from '../../src/pki/config-key.js';
import { Verdict } from '../../src/sim/decisions.js';
import { PhoneFiles } from '../../src/sim/phone-folder.js';
import { phoneConfigServices } from '../../src/sim/phone-config.js';
import { about, bootAll, bootOne, fleet, phoneNames, startCluster, story, tempDir } from './harness.js';
import { cpSync } from 'node:fs';

test('CAPF install with an auth string, the phone enrolls, its encrypted config opens only with its own key', async () => {
  const cluster = await startCluster();
  const [a, b, c] = phoneNames(0x00ff00000100, 3) as [string, string, string];
  for (const name of [a, b, c])
    await cluster.admin('device', 'add', name, '--model', '8865', '--security-profile', 'Authenticated Profile', '--dn', '3001');
  const phones = fleet();
  for (const r of await bootAll(phones, cluster, [a, b, c], { capf: {} })) {
    assert.equal(about(r, 'config').verdict, Verdict.accepted, story(r));
    assert.ok(!r.decisions.some((d) => d.subject === 'CAPF'), 'no CAPF operation pending: the phone does not contact CAPF');
  }

  const install = await cluster.admin('capf', 'install', a, '--auth', 'password', '--password', '12345678');
  assert.match(install.out, new RegExp(`^${a}: Operation Pending: install rsa-2048 \\(authentication password\\)$`));
  await cluster.admin('capf', 'install', b, '--auth', 'none');
  await cluster.admin('capf', 'install', c, '--auth', 'password', '--password', '65432187');

  const ra = await bootOne(phones, cluster, a, { capf: { authString: '12345678' } });
  assert.equal(
    phoneConfigServices(readFileSync(join(phones.dir, a, PhoneFiles.config))).capfAuthMode,
    1,
    'the config asks for a password install',
  );
  assert.match(
    about(ra, 'CAPF').text,
    /^LSC installed by CAPF 127\.0\.0\.1:3804: serial [0-9a-f]+, issuer CAPF-[^,]+, key rsa-2048 made by the phone \(authenticated with the authentication string\)$/,
    story(ra),
  );
  assert.equal(ra.lscInstalled, true);
  const rb = await bootOne(phones, cluster, b, { capf: {} });
  assert.match(about(rb, 'CAPF').text, /^LSC installed by CAPF .*\(authenticated with the empty authentication string\)$/, story(rb));
  // The installer typed the wrong string on phone c: CAPF refuses, nothing is stored on the phone.
  const rc = await bootOne(phones, cluster, c, { capf: { authString: '11111111' } });
  assert.equal(about(rc, 'CAPF').verdict, Verdict.rejected, story(rc));
  assert.match(about(rc, 'CAPF').text, /^CAPF enrollment failed: 127\.0\.0\.1:3804: CAPF ended the session with reason 7/, story(rc));
  assert.equal(rc.lscInstalled, false);

  const shown = await cluster.admin('capf', 'show', a);
  assert.match(shown.out, /status: Upgrade Success .*LSC serial/);
  assert.match(shown.out, /LSC: serial [0-9a-f]+, issuer .*CAPF/);
  // The LSC the store holds is the one the phone keeps, and it certifies the phone's own key.
  const lscA = readFileSync(join(phones.dir, a, PhoneFiles.lsc), 'utf8');
  assert.equal(cluster.state.store.getDevice(a)!.lscPem!.trim(), lscA.trim());

  // Config encryption on (no `sbd` command changes a device's profile yet: the store call the admin page makes).
  for (const name of [a, b, c]) cluster.state.store.updateDevice(name, { securityProfile: 'Encrypted Profile' });
  for (const r of await bootAll(phones, cluster, [a, b])) {
    assert.deepEqual(
      r.decisions.filter((d) => d.subject === 'config').map((d) => d.file),
      [`${r.deviceName}.cnf.xml.sgn`, `${r.deviceName}.cnf.xml.enc.sgn`, `${r.deviceName}.cnf.xml.enc.sgn`],
      story(r),
    );
    assert.match(r.decisions.at(-1)!.text, /^encrypted config decrypted with the phone's own key \(\d+ bytes\)$/, story(r));
    assert.equal(r.configFile, `${r.deviceName}.cnf.xml.enc.sgn`);
    assert.match(readFileSync(join(phones.dir, r.deviceName, PhoneFiles.config), 'utf8'), new RegExp(`<name>${r.deviceName}</name>`));
  }
  // Phone c has no LSC: nothing is served in clear for it; it gets only the default config.
  const noKey = await bootOne(phones, cluster, c);
  assert.equal(noKey.configFile, 'XMLDefault.cnf.xml.sgn', story(noKey));

  // Only a's key opens a's file: b's key does not, and a clone of b claiming a's name is refused.
  const encA = await cluster.source.open(`${a}.cnf.xml.enc.sgn`);
  const keyA = readFileSync(join(phones.dir, a, PhoneFiles.key), 'utf8');
  const keyB = readFileSync(join(phones.dir, b, PhoneFiles.key), 'utf8');
  assert.match(decryptEncryptedConfig(encA, privateKeyOpener(keyA)).toString('utf8'), new RegExp(`<name>${a}</name>`));
  assert.throws(() => decryptEncryptedConfig(encA, privateKeyOpener(keyB)));
  const clones = tempDir('sbd-clone-');
  cpSync(join(phones.dir, b), join(clones, a), { recursive: true });
  const clone = await bootAll({ ...phones, dir: clones }, cluster, [a]).then((r) => r[0]!);
  assert.equal(clone.configTrusted, false, story(clone));
  assert.match(
    clone.decisions.at(-1)!.text,
    /^rejected encrypted config: .*\(the stub names another certificate than this phone's LSC\)$/,
    story(clone),
  );

  // Re-keying with the LSC, to an EC key: the phone proves itself with its LSC and gets the new one — but an EC
  // key cannot unwrap the config key (RSA PKCS#1, spec §2.2), and sbd-tftpd says so instead of serving a file
  // the phone cannot open. Re-keyed to RSA (proved with the EC LSC), the config opens again.
  await cluster.admin('capf', 'install', a, '--auth', 'lsc', '--key', 'ec-P-256');
  const rekey = await bootOne(phones, cluster, a, { capf: {} });
  assert.match(
    about(rekey, 'CAPF').text,
    /^LSC installed by CAPF .* key ec-P-256 made by the phone \(authenticated with its LSC\)$/,
    story(rekey),
  );
  const ec = await bootOne(phones, cluster, a, { capf: {} });
  assert.equal(ec.configTrusted, false, story(ec));
  assert.match(
    ec.decisions.at(-1)!.text,
    /could not be fetched: .*encrypted configs need the phone's RSA key; this phone's key is ec/,
    story(ec),
  );
  await cluster.admin('capf', 'install', a, '--auth', 'lsc', '--key', 'rsa-2048');
  // The EC phone cannot open its config; the verified stub carries the CAPF settings it needs to re-key.
  const back = await bootOne(phones, cluster, a, { capf: {} });
  assert.match(
    about(back, 'CAPF').text,
    /^LSC installed by CAPF .* key rsa-2048 made by the phone \(authenticated with its LSC\)$/,
    story(back),
  );
  const after = await bootOne(phones, cluster, a, { capf: {} });
  assert.match(after.decisions.at(-1)!.text, /^encrypted config decrypted with the phone's own key/, story(after));
  assert.notEqual(readFileSync(join(phones.dir, a, PhoneFiles.lsc), 'utf8'), lscA);
});
