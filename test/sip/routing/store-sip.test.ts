import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type StoreError } from '../../../src/store/index.js';

function fresh() {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-sip-store-'));
  const store = openStore(join(dir, 'sbd.db'), { create: true });
  return {
    store,
    done: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('partitions, CSS order, device settings and their typed errors', () => {
  const { store, done } = fresh();
  try {
    store.sip.putPartition('Internal');
    store.sip.putPartition('Lobby');
    store.sip.putCss('Staff', ['Lobby', 'Internal']);
    assert.deepEqual(store.sip.getCss('Staff')!.partitions, ['Lobby', 'Internal']);
    assert.throws(
      () => store.sip.putCss('Bad', ['Nope']),
      (e: StoreError) => e.code === 'ERR_SIP_CONFIG_UNKNOWN',
    );
    assert.throws(
      () => store.sip.putCss('Dup', ['Lobby', 'Lobby']),
      (e: StoreError) => e.code === 'ERR_SIP_CONFIG_INVALID',
    );
    assert.throws(
      () => store.sip.putPartition('bad\nname'),
      (e: StoreError) => e.code === 'ERR_SIP_CONFIG_INVALID',
    );
    store.addDevice({ name: 'SEP001122334455', model: '8841', directoryNumber: '1001' });
    assert.deepEqual(store.sip.getDeviceSettings('SEP001122334455'), {
      device: 'SEP001122334455',
      partition: null,
      css: null,
      presenceGroup: null,
    });
    store.sip.setDeviceSettings('sep001122334455', { partition: 'Internal', css: 'Staff' });
    assert.equal(store.sip.getDeviceSettings('SEP001122334455')!.css, 'Staff');
    assert.throws(
      () => store.sip.removePartition('Internal'),
      (e: StoreError) => e.code === 'ERR_SIP_CONFIG_INVALID',
    );
    assert.throws(
      () => store.sip.setDeviceSettings('SEP00112233445F', { css: 'Staff' }),
      (e: StoreError) => e.code === 'ERR_DEVICE_UNKNOWN',
    );
    store.sip.putPresenceGroup('A');
    store.sip.putPresenceGroup('B');
    assert.equal(store.sip.presencePolicy('A', 'B'), undefined);
    store.sip.setPresencePolicy('A', 'B', false);
    assert.equal(store.sip.presencePolicy('A', 'B'), false);
  } finally {
    done();
  }
});

test('trunks: ACL, application user permissions, route patterns, encrypted credentials, ITL report removal', () => {
  const { store, done } = fresh();
  try {
    assert.throws(
      () => store.sip.putTrunk({ name: 'pstn', host: 'gw.example', port: 5060, transport: 'udp', digestAuth: false }),
      (e: StoreError) => e.code === 'ERR_SIP_CONFIG_INVALID',
    );
    assert.throws(
      () => store.sip.putTrunk({ name: 'pstn', host: '127.0.0.1', port: 5060, transport: 'udp', digestAuth: true }),
      (e: StoreError) => e.code === 'ERR_SIP_CONFIG_INVALID',
    );
    store.putUser({ userid: 'gw-app', credentialHash: 'x', algorithm: 'none', kind: 'application' });
    const t = store.sip.putTrunk({
      name: 'pstn',
      host: '127.0.0.2',
      port: 5060,
      transport: 'udp',
      digestAuth: true,
      digestUser: 'gw-app',
      appLevelAuthorization: true,
      acl: { 'ood-refer': true },
    });
    assert.equal(t.challengeStatus, 407);
    assert.deepEqual(t.acl, { 'ood-refer': true, 'unsolicited-notify': false, replaces: false, 'presence-subscribe': false });
    assert.equal(store.sip.findTrunkByHost('127.0.0.2')!.name, 'pstn');
    assert.throws(
      () =>
        store.sip.putTrunk({
          name: 'x',
          host: '127.0.0.3',
          port: 5060,
          transport: 'udp',
          digestAuth: false,
          acl: { bogus: true } as never,
        }),
      (e: StoreError) => e.code === 'ERR_SIP_CONFIG_INVALID',
    );
    store.sip.putAppUserPermissions('gw-app', { 'ood-refer': true, replaces: true });
    assert.equal(store.sip.getAppUserPermissions('gw-app').replaces, true);
    store.putUser({ userid: 'alice', credentialHash: 'x', algorithm: 'none' });
    assert.throws(
      () => store.sip.putAppUserPermissions('alice', {}),
      (e: StoreError) => e.code === 'ERR_SIP_CONFIG_INVALID',
    );
    store.sip.putRoutePattern('9XXXX!', null, 'pstn');
    assert.deepEqual(store.sip.listRoutePatterns(), [{ pattern: '9XXXX!', partition: null, trunk: 'pstn' }]);
    assert.throws(
      () => store.sip.putRoutePattern('9;drop', null, 'pstn'),
      (e: StoreError) => e.code === 'ERR_SIP_CONFIG_INVALID',
    );
    store.sip.putTrunkCredential('pstn', 'carrier', 'sbd', Buffer.from('ciphertext'));
    assert.equal(store.sip.getTrunkCredential('pstn', 'carrier')!.passwordEnc.toString(), 'ciphertext');
    store.addDevice({ name: 'SEP001122334455', model: '8841' });
    store.recordDeviceItlHash('SEP001122334455', 'ab'.repeat(32), new Date(0).toISOString());
    assert.equal(store.sip.deleteDeviceItlHash('SEP001122334455'), true);
    assert.equal(store.getDeviceItlHash('SEP001122334455'), undefined);
    store.sip.removeTrunk('pstn');
    assert.equal(store.sip.getTrunkCredential('pstn', 'carrier'), undefined);
  } finally {
    done();
  }
});
