/**
 * SIP's store views over both engines (issue 21 item 1): one SQLite store, published to PostgreSQL and read through a
 * node's copy, gives the registrar's `Directory`, the router's `RoutingDirectory` and phone control's
 * `PhoneControlDirectory` the same answers as the SQLite adapters (realm, HA1s, AOR owners, devices, partitions/CSS,
 * trunks, route patterns, SRTP policy, reset selections). What differs is written down and checked: an unknown
 * phone is not autoregistered on a PostgreSQL node (404, ERR_SIP_AUTOREG_PUBLISHER); a phone's ITL report goes to
 * the primary's node-local table through the bounded writer and a second node's copy reads it after its reload; an
 * end user added on the publisher digest-authenticates on the node after the next publish.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PgDirectory, PgDirectoryRefusalCode } from '../../../src/daemons/adapters/pg-sip-store.js';
import { ApplianceDirectory, StorePhoneControlDirectory, StoreRoutingDirectory } from '../../../src/daemons/adapters/sip-store.js';
import { digestHa1 } from '../../../src/credentials/digest-ha1.js';
import type { Directory } from '../../../src/sip/registrar/directory.js';
import type { RoutingDirectory } from '../../../src/sip/routing/routing-directory.js';
import { PgNodeWriter } from '../../../src/store/pg/node-writes.js';
import { PgStoreCopy } from '../../../src/store/pg/store-copy.js';
import { bothEngines, OLD_PHONE, PHONE, serviceStore } from './engines.js';
import { pgMissing } from './postgres.js';

const USERS = ['phone1', 'alice', 'nobody'];

function directoryAnswers(d: Directory) {
  const realm = d.realm();
  return {
    realm,
    algorithms: d.defaultDigestAlgorithms(),
    nonce: d.defaultNonceValiditySeconds(),
    lockout: d.lockoutPolicy(),
    locked: USERS.map((u) => d.accountLocked(u, Date.now())),
    ha1: USERS.flatMap((u) => [d.lookupHa1(u, realm, 'MD5'), d.lookupHa1(u, realm, 'SHA-256'), d.lookupHa1(u, 'other', 'MD5')]),
    aor: ['1001', '1002', 'alice', '9999'].map((a) => d.resolveAor(a)),
    device: [PHONE, OLD_PHONE].map((n) => d.deviceByName(n, 'Cisco-CP8845/14.2')),
  };
}

function routingAnswers(r: RoutingDirectory) {
  return {
    settings: [PHONE, OLD_PHONE].map((n) => r.deviceSettings(n)),
    css: [r.cssPartitions('Everything'), r.cssPartitions('None')],
    trunks: [r.trunkByHost('127.0.0.9'), r.trunkByHost('127.0.0.8'), r.trunk('carrier'), r.trunk('none')],
    acl: r.appUserAcl('phone1'),
    patterns: r.routePatterns(),
    crypto: r.cryptoPolicy(),
  };
}

test('SIP directories: the PostgreSQL engine answers as SQLite; reports go to the primary; a later user authenticates', {
  skip: pgMissing(),
}, async (t) => {
  const { store } = serviceStore(t);
  const pg = await bothEngines(t, store);
  const node = store.listNodes()[0]!.name;
  const writes = new PgNodeWriter(pg.sql, { node, flushIntervalMs: 3_600_000 });
  t.after(() => writes.close());
  const sqliteDir = new ApplianceDirectory(store);
  const pgDir = new PgDirectory(pg.copy, writes);
  const a = directoryAnswers(sqliteDir);
  assert.deepEqual(directoryAnswers(pgDir), a);
  assert.equal(a.ha1[0], digestHa1('phone1', a.realm, 'pw-phone1').ha1Md5, 'the HA1 is the stored one');
  assert.equal(a.aor[0]?.kind, 'device');
  assert.equal(a.aor[2]?.kind, 'user');
  assert.deepEqual(routingAnswers(new StoreRoutingDirectory(pg.copy.store)), routingAnswers(new StoreRoutingDirectory(store)));
  assert.deepEqual(routingAnswers(new StoreRoutingDirectory(store)).css[0], ['Internal', 'PSTN']);
  const select = (s: StorePhoneControlDirectory) => [
    s.select({ all: true }),
    s.select({ model: '8845' }),
    s.select({ partition: 'Internal' }),
  ];
  assert.deepEqual(select(new StorePhoneControlDirectory(pg.copy.store)), select(new StorePhoneControlDirectory(store)));

  // Autoregistration writes a device: not on a node reading PostgreSQL (SQLite: off by default, also a 404).
  const unknown = 'SEP0000000000EE';
  const refused = pgDir.deviceByName(unknown, 'Cisco-CP8845/14.2');
  assert.deepEqual(refused, { kind: 'refused', code: PgDirectoryRefusalCode.autoregPublisher, status: 404, reason: 'Not Found' });
  assert.equal(sqliteDir.deviceByName(unknown, 'Cisco-CP8845/14.2').kind, 'refused');

  // A phone's ITL report: in the copy at once, on the primary after a flush, on a second node after its reload.
  const hash = 'ab'.repeat(32);
  pgDir.recordItlReport(PHONE, hash, 'installed', Date.now());
  pgDir.recordItlReport(PHONE, hash, 'installed', Date.now());
  assert.equal(pg.copy.store.getDeviceItlHash(PHONE)?.sha256Hex, hash);
  assert.equal(writes.pending, 1, 'the repeated report is not queued twice');
  assert.equal(await writes.flush(), 1);
  const [row] = await pg.sql`SELECT device, node, sha256_hex FROM sbd.node_device_itl_hashes`;
  assert.deepEqual({ ...row }, { device: PHONE, node, sha256_hex: hash });
  const other = await PgStoreCopy.open(pg.sql, { pollIntervalMs: 3_600_000 });
  t.after(() => other.close());
  assert.equal(other.store.getDeviceItlHash(PHONE)?.sha256Hex, hash, "a second node's copy holds the report");
  assert.equal(store.getDeviceItlHash(PHONE), undefined, "the publisher's SQLite is not written by a node");

  // An end user added on the publisher: unknown to the node until the publish, then its HA1 is there.
  store.putUser({ userid: 'bob', credentialHash: 'x', algorithm: 'none', kind: 'end' });
  const h = digestHa1('bob', a.realm, 'pw-bob');
  store.putDigestCredential('bob', a.realm, h.ha1Md5, h.ha1Sha256);
  assert.equal(pgDir.lookupHa1('bob', a.realm, 'MD5'), undefined);
  await pg.publish();
  assert.equal(pgDir.lookupHa1('bob', a.realm, 'MD5'), h.ha1Md5);
  assert.deepEqual(pgDir.resolveAor('bob'), { kind: 'user', userid: 'bob' });
  assert.equal(pg.copy.store.getDeviceItlHash(PHONE)?.sha256Hex, hash, 'the report survives the publish');
});
