/**
 * Config paths of the simulated phone against sbd-tftpd on loopback: encrypted configs open only with the phone's
 * own key; a model without Security by Default gets unsigned files; an unknown phone gets no per-device ITL and
 * falls back to the default config; in mixed mode the CTL authenticates the ITL.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { privateKeyOf } from '../../src/pki/identity-store.js';
import { issueLsc } from '../../src/pki/lsc.js';
import { randomSerial } from '../../src/pki/certificate.js';
import { publisher } from '../../src/trust/cluster-lists.js';
import { Verdict } from '../../src/sim/decisions.js';
import { TftpErrorCode } from '../../src/tftp/core/errors.js';
import { ensurePhoneKey, installLsc } from '../../src/sim/phone-folder.js';
import { boot, startAppliance, tempDir, texts, type Appliance } from './helpers.js';

const PHONE = 'SEP00AABBCCDDEE';

function lscFor(app: Appliance, publicKeyPem: string): string {
  const capf = app.state.store.currentCertificate('CAPF', publisher(app.state.store).name)!;
  return issueLsc({
    capfCertPem: capf.pem,
    capfKeyPem: privateKeyOf(capf),
    deviceName: PHONE,
    subjectPublicKey: publicKeyPem,
    serial: randomSerial(),
    now: new Date(),
  }).pem;
}

test("encrypted config: the stub is verified, the .enc.sgn opens only with this phone's key", async () => {
  const app = await startAppliance();
  const store = app.state.store;
  store.putSecurityProfile({
    name: 'Encrypted 8845',
    deviceSecurityMode: 'encrypted',
    tftpEncryptedConfig: true,
    transport: 'tls',
    digestAuth: true,
  });
  store.addDevice({ name: PHONE, model: '8845', securityProfile: 'Encrypted 8845', directoryNumber: '2001' });

  const phones = tempDir();
  const key = ensurePhoneKey(phones, PHONE);
  const lsc = lscFor(app, key.publicKeyPem);
  store.updateDevice(PHONE, { lscPem: lsc });
  await installLsc(phones, PHONE, lsc);

  const r = await boot(app, phones, PHONE);
  const t = texts(r);
  assert.deepEqual(
    r.decisions.map((d) => d.file),
    ['CTLFile.tlv', `ITL${PHONE}.tlv`, `${PHONE}.cnf.xml.sgn`, `${PHONE}.cnf.xml.enc.sgn`, `${PHONE}.cnf.xml.enc.sgn`],
    t.join('\n'),
  );
  assert.match(t[2]!, /config signature valid/);
  assert.match(t[3]!, /config signature valid/);
  assert.match(t[4]!, /encrypted config decrypted with the phone's own key/);
  assert.equal(r.configTrusted, true);
  assert.equal(r.configFile, `${PHONE}.cnf.xml.enc.sgn`);

  // Another phone claiming the same MAC, with a key of its own: the config does not open.
  const impostor = tempDir();
  ensurePhoneKey(impostor, PHONE);
  const bad = await boot(app, impostor, PHONE);
  const tb = texts(bad);
  assert.equal(bad.configTrusted, false, tb.join('\n'));
  assert.equal(bad.decisions.at(-1)!.verdict, Verdict.rejected);
  assert.match(tb.at(-1)!, /rejected encrypted config: .*(does not open|does not decrypt|does not match)/);

  // And one with no key at all.
  const keyless = await boot(app, tempDir(), PHONE);
  assert.match(texts(keyless).at(-1)!, /rejected encrypted config: this phone has no key of its own/);
});

test('a model without Security by Default gets the unsigned config; its .sgn does not exist', async () => {
  const app = await startAppliance();
  const name = 'SEP0000000069A1';
  app.state.store.addDevice({ name, model: '6921' });
  const r = await boot(app, tempDir(), name, { model: '6921' });
  const t = texts(r);
  assert.deepEqual(
    r.decisions.map((d) => [d.subject, d.verdict]),
    [
      ['CTL', Verdict.absent],
      ['config', Verdict.accepted],
    ],
    t.join('\n'),
  );
  assert.equal(r.configFile, `${name}.cnf.xml`);
  assert.match(t[1]!, /unsigned config accepted \(this model has no Security by Default\)/);
  await assert.rejects(app.source.open(`${name}.cnf.xml.sgn`), { code: 'ERR_TFTP_NOT_FOUND', tftpCode: TftpErrorCode.fileNotFound });

  // Autoregistration: an unknown 6921 takes the unsigned default.
  const auto = await boot(app, tempDir(), 'SEP0000000069A2', { model: '6921' });
  assert.equal(auto.configFile, 'XMLDefault.cnf.xml', texts(auto).join('\n'));
  assert.equal(auto.configTrusted, true);
});

test('an unknown phone gets no per-device ITL; it takes ITLFile.tlv and the signed default config', async () => {
  const app = await startAppliance();
  const r = await boot(app, tempDir(), 'SEP112233445566');
  const t = texts(r);
  assert.deepEqual(
    r.decisions.map((d) => d.file),
    ['CTLFile.tlv', 'ITLFile.tlv', 'XMLDefault.cnf.xml.sgn'],
    t.join('\n'),
  );
  assert.match(t[1]!, /ITL trusted \(first use\)/);
  assert.match(t[2]!, /config signature valid/);
  await assert.rejects(app.source.open('ITLSEP112233445566.tlv'), { code: 'ERR_TFTP_NOT_FOUND', tftpCode: TftpErrorCode.fileNotFound });
  await assert.rejects(app.source.open('SEP112233445566.cnf.xml.sgn'), {
    code: 'ERR_TFTP_NOT_FOUND',
    tftpCode: TftpErrorCode.fileNotFound,
  });
});

test('mixed mode: the CTL is trusted first and authenticates the ITL', async () => {
  const app = await startAppliance();
  app.state.store.setParam('ClusterSecurityMode', 'mixed');
  app.state.store.addDevice({ name: PHONE, model: '8851' });
  const r = await boot(app, tempDir(), PHONE);
  const t = texts(r);
  assert.deepEqual(
    r.decisions.map((d) => [d.file, d.verdict]),
    [
      [`CTL${PHONE}.tlv`, Verdict.trusted],
      [`ITL${PHONE}.tlv`, Verdict.accepted],
      [`${PHONE}.cnf.xml.sgn`, Verdict.accepted],
    ],
    t.join('\n'),
  );
  assert.match(t[1]!, /ITL accepted: signed by known SAST .* \(in the installed CTL\)/);
  assert.match(t[2]!, /config signature valid/);
});
