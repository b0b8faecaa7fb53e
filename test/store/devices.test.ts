import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_SECURITY_PROFILE, StoreError } from '../../src/store/index.js';
import { makeCert, open, tempDir } from './helpers.js';

const isCode = (code: string) => (e: unknown) => e instanceof StoreError && e.code === code;

describe('devices', () => {
  const dir = tempDir();
  let now = Date.parse('2026-11-25T10:00:00.000Z');
  const s = open(join(dir, 'devices.db'), { clock: { now: () => now } });

  it('adds a device with the documented defaults, normalising the name and model', () => {
    const d = s.addDevice({ name: 'sep00aabbccddee', model: 'Cisco 8845', directoryNumber: '1001', digestUser: 'alice' });
    assert.equal(d.name, 'SEP00AABBCCDDEE');
    assert.equal(d.model, '8845');
    assert.equal(d.securityProfile, DEFAULT_SECURITY_PROFILE);
    assert.deepEqual(
      [d.description, d.lscPem, d.symmetricKeyHex, d.capfOperation, d.capfAuthMode, d.capfAuthString, d.capfStatus],
      ['', null, null, 'none', 'none', null, null],
    );
    assert.equal(d.createdAt, '2026-11-25T10:00:00.000Z');
    assert.equal(s.getDevice('Sep00aabbccddee')!.id, d.id);
    assert.equal(s.getDevice('not-a-device'), undefined);
  });

  it('refuses invalid device names and fields with ERR_DEVICE_INVALID', () => {
    const names = ['SEP00AABBCCDD', 'SEP00AABBCCDDEEFF', 'SEP00AABBCCDDEG', 'ATA00AABBCCDDEE', 'SEP-0AABBCCDDEE', '', ' SEP00AABBCCDDEE'];
    for (const name of names) assert.throws(() => s.addDevice({ name, model: '8845' }), isCode('ERR_DEVICE_INVALID'), name);
    const base = { name: 'SEP000000000001', model: '8845' };
    assert.throws(() => s.addDevice({ ...base, model: '' }), isCode('ERR_DEVICE_INVALID'));
    assert.throws(() => s.addDevice({ ...base, model: 'Cisco 88 45' }), isCode('ERR_DEVICE_INVALID'));
    assert.throws(() => s.addDevice({ ...base, description: 'x'.repeat(129) }), isCode('ERR_DEVICE_INVALID'));
    assert.throws(() => s.addDevice({ ...base, description: 'line\nbreak' }), isCode('ERR_DEVICE_INVALID'));
    assert.throws(() => s.addDevice({ ...base, directoryNumber: '10a1' }), isCode('ERR_DEVICE_INVALID'));
    assert.throws(() => s.addDevice({ ...base, securityProfile: 'No Such Profile' }), isCode('ERR_PROFILE_UNKNOWN'));
    assert.throws(() => s.addDevice({ name: 'sep00AABBCCDDEE', model: '7965' }), isCode('ERR_DEVICE_EXISTS'));
    assert.equal(s.listDevices().length, 1);
  });

  it('updates fields with validation, all or nothing', () => {
    const lsc = makeCert(dir, 'CP-8845-SEP00AABBCCDDEE');
    now += 1000;
    const d = s.updateDevice('SEP00AABBCCDDEE', {
      securityProfile: 'Encrypted Profile',
      lscPem: lsc,
      symmetricKeyHex: '00112233445566778899AABBCCDDEEFF',
      capfOperation: 'install',
      capfAuthMode: 'password',
      capfAuthString: '12345678',
      capfStatus: 'pending',
      description: 'lobby',
    });
    assert.equal(d.securityProfile, 'Encrypted Profile');
    assert.match(d.lscPem!, /BEGIN CERTIFICATE/);
    assert.equal(d.symmetricKeyHex, '00112233445566778899aabbccddeeff');
    assert.deepEqual([d.capfOperation, d.capfAuthMode, d.capfAuthString, d.capfStatus], ['install', 'password', '12345678', 'pending']);
    assert.equal(d.updatedAt, '2026-11-25T10:00:01.000Z');
    assert.deepEqual(s.getDevice('SEP00AABBCCDDEE'), d);

    const bad: [Record<string, unknown>, string][] = [
      [{ capfAuthString: '12' }, 'ERR_DEVICE_INVALID'],
      [{ capfAuthString: 'abcd' }, 'ERR_DEVICE_INVALID'],
      [{ capfAuthString: '1234567' }, 'ERR_DEVICE_INVALID'],
      [{ capfAuthFailures: -1 }, 'ERR_DEVICE_INVALID'],
      [{ capfOperation: 'upgrade' }, 'ERR_DEVICE_INVALID'],
      [{ capfAuthMode: 'string' }, 'ERR_DEVICE_INVALID'],
      [{ symmetricKeyHex: '0011' }, 'ERR_DEVICE_INVALID'],
      [{ lscPem: 'garbage' }, 'ERR_CERT_INVALID'],
      [{ securityProfile: 'Nope' }, 'ERR_PROFILE_UNKNOWN'],
      [{ colour: 'red' }, 'ERR_DEVICE_INVALID'],
      // One good field and one bad: nothing applies.
      [{ description: 'changed', capfStatus: 'x'.repeat(300) }, 'ERR_DEVICE_INVALID'],
    ];
    for (const [patch, code] of bad) {
      assert.throws(() => s.updateDevice('SEP00AABBCCDDEE', patch as never), isCode(code), JSON.stringify(patch));
    }
    assert.deepEqual(s.getDevice('SEP00AABBCCDDEE'), d);
    assert.throws(() => s.updateDevice('SEP0000000000FF', { description: 'x' }), isCode('ERR_DEVICE_UNKNOWN'));
    const cleared = s.updateDevice('sep00aabbccddee', { lscPem: null, symmetricKeyHex: null, capfAuthString: null });
    assert.deepEqual([cleared.lscPem, cleared.symmetricKeyHex, cleared.capfAuthString], [null, null, null]);
  });

  it('removes a device together with its reported ITL hash', () => {
    s.addDevice({ name: 'SEP000000000002', model: '7841' });
    s.recordDeviceItlHash('SEP000000000002', 'cd'.repeat(32), '2026-11-25T10:00:00Z', 'Match');
    assert.equal(s.getDeviceItlHash('sep000000000002')!.status, 'Match');
    s.removeDevice('sep000000000002');
    assert.equal(s.getDevice('SEP000000000002'), undefined);
    assert.deepEqual(
      s.listDeviceItlHashes().map((h) => h.device),
      [],
    );
    assert.throws(() => s.removeDevice('SEP000000000002'), isCode('ERR_DEVICE_UNKNOWN'));
  });
});

describe('security profiles', () => {
  const s = open(join(tempDir(), 'profiles.db'));

  it('are seeded with the standard ones', () => {
    const u = s.getSecurityProfile(DEFAULT_SECURITY_PROFILE)!;
    assert.deepEqual([u.deviceSecurityMode, u.tftpEncryptedConfig, u.transport], ['non-secure', false, 'tcp+udp']);
    const e = s.getSecurityProfile('Encrypted Profile')!;
    assert.deepEqual([e.deviceSecurityMode, e.tftpEncryptedConfig, e.transport], ['encrypted', true, 'tls']);
    assert.equal(s.getSecurityProfile('Authenticated Profile')!.deviceSecurityMode, 'authenticated');
  });

  it('can be added and changed; secure modes need TLS; a used profile cannot be removed', () => {
    const p = s.putSecurityProfile({
      name: 'Lab',
      deviceSecurityMode: 'authenticated',
      tftpEncryptedConfig: false,
      transport: 'tls',
      digestAuth: true,
    });
    assert.equal(p.digestAuth, true);
    s.putSecurityProfile({
      name: 'Lab',
      description: 'lab phones',
      deviceSecurityMode: 'non-secure',
      tftpEncryptedConfig: true,
      transport: 'udp',
      digestAuth: false,
    });
    assert.deepEqual([s.getSecurityProfile('Lab')!.transport, s.getSecurityProfile('Lab')!.description], ['udp', 'lab phones']);
    assert.throws(
      () =>
        s.putSecurityProfile({
          name: 'X',
          deviceSecurityMode: 'encrypted',
          tftpEncryptedConfig: true,
          transport: 'tcp',
          digestAuth: false,
        }),
      isCode('ERR_PROFILE_INVALID'),
    );
    assert.throws(
      () =>
        s.putSecurityProfile({
          name: 'X',
          deviceSecurityMode: 'paranoid' as never,
          tftpEncryptedConfig: true,
          transport: 'tls',
          digestAuth: false,
        }),
      isCode('ERR_PROFILE_INVALID'),
    );
    assert.throws(
      () =>
        s.putSecurityProfile({
          name: 'X',
          deviceSecurityMode: 'encrypted',
          tftpEncryptedConfig: 'yes' as never,
          transport: 'tls',
          digestAuth: false,
        }),
      isCode('ERR_PROFILE_INVALID'),
    );
    s.addDevice({ name: 'SEP000000000003', model: '8811', securityProfile: 'Lab' });
    assert.throws(() => s.removeSecurityProfile('Lab'), isCode('ERR_PROFILE_IN_USE'));
    s.removeDevice('SEP000000000003');
    s.removeSecurityProfile('Lab');
    assert.equal(s.getSecurityProfile('Lab'), undefined);
    assert.throws(() => s.removeSecurityProfile('Lab'), isCode('ERR_PROFILE_UNKNOWN'));
  });
});

describe('phone feature list', () => {
  const s = open(join(tempDir(), 'models.db'));

  it('is seeded with the documented models', () => {
    const sbd = ['7945', '7965', '8811', '8841', '8845', '8851', '8861', '8865', '7821', '7841', '7861', '9971', '9951'];
    for (const m of sbd) assert.equal(s.getModelFeatures(m)?.securityByDefault, true, m);
    for (const m of ['6901', '6911', '6921', '6941', '6945', '6961', '7911'])
      assert.equal(s.getModelFeatures(m)?.securityByDefault, false, m);
    assert.equal(s.getModelFeatures('8845')!.ecKeys, true);
    assert.equal(s.getModelFeatures('7965')!.ecKeys, false);
  });

  it('looks models up by any common spelling and can be edited', () => {
    for (const m of ['Cisco 8845', 'CP-8845', '8845', 'cisco 8845']) assert.equal(s.getModelFeatures(m)?.model, '8845', m);
    assert.equal(s.getModelFeatures('7965G')?.model, '7965');
    assert.equal(s.getModelFeatures('0000'), undefined);
    assert.equal(s.getModelFeatures('bad model!'), undefined);
    s.putModelFeatures('Cisco 7942', { securityByDefault: true, encryptedConfig: true, ecKeys: false });
    assert.deepEqual(s.getModelFeatures('7942')!.securityByDefault, true);
    s.putModelFeatures('7911', { securityByDefault: true, encryptedConfig: true, ecKeys: false });
    assert.equal(s.getModelFeatures('7911')!.securityByDefault, true);
    assert.throws(
      () => s.putModelFeatures('??', { securityByDefault: true, encryptedConfig: true, ecKeys: false }),
      isCode('ERR_MODEL_INVALID'),
    );
    assert.throws(
      () => s.putModelFeatures('8811', { securityByDefault: 1 as never, encryptedConfig: true, ecKeys: false }),
      isCode('ERR_MODEL_INVALID'),
    );
    assert.ok(s.listModelFeatures().length >= 21);
  });
});
