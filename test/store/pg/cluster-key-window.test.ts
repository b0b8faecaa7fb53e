/**
 * Issue 21, the key-row window (store/pg/key-pins.ts). When the publisher's phone-password key changes (a restore, a
 * key file replaced) its sbd-clusterd publishes the re-encrypted passwords, and a subscriber's sbd-clusterd installs
 * the new key into the node's keys folder some time after its standby has the rows. A node's copy (what its TFTP
 * builds configs from) must never pair rows with the wrong key: before, a copy that reloaded before the key was
 * installed, or a key installed before the copy reloaded, made the config fail to build (PhoneSecretError: TFTP error
 * 0 and the phone retries). Now the copy keeps serving its rows with their key until the node holds the new one, then
 * switches both at once; a key that never comes is waited for a bounded time, then logged. Real PostgreSQL 15; the
 * rounds are run by hand (no poll), so each window is made on purpose, not by timing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLUSTER_KEYS } from '../../../src/cluster/membership-keys.js';
import { SIGNED_CONFIG_PARAM } from '../../../src/cluster/phone-digest.js';
import { putPhoneDigestPassword, unusableLogin } from '../../../src/credentials/phone-digest.js';
import { PHONE_SECRET_KEY_FILE } from '../../../src/credentials/phone-secret.js';
import { PgApplianceFiles } from '../../../src/daemons/adapters/pg-tftp-store.js';
import { ClusterKeyFollower, ClusterPublisher } from '../../../src/daemons/clusterd.js';
import { systemClock } from '../../../src/lib/clock.js';
import { createLogger } from '../../../src/lib/log.js';
import { PgStoreCopy } from '../../../src/store/pg/store-copy.js';
import { stateLayout } from '../../../src/store/state.js';
import { filePostgres, serviceStore } from './engines.js';
import { pgMissing } from './postgres.js';

const PHONE = 'SEP0000000000C2';

test("a node's copy never pairs the publisher's re-encrypted passwords with the wrong key", { skip: pgMissing() }, async (t) => {
  const { store, dir } = serviceStore(t);
  const pubKeys = stateLayout(dir).keysDir;
  store.setParam(SIGNED_CONFIG_PARAM, 'true');
  const login = await unusableLogin();
  const setPassword = (password: string) => putPhoneDigestPassword(store, pubKeys, { userid: 'carol', password }, login);
  setPassword('phone-pass-one');
  store.addDevice({ name: PHONE, model: '8845', securityProfile: 'Digest Profile', digestUser: 'carol', directoryNumber: '1003' });

  const server = await filePostgres();
  const sql = server.connect();
  t.after(() => sql.end({ timeout: 1 }));
  const lines: string[] = [];
  const logger = createLogger('test', { write: (l: string) => void lines.push(l) });
  const secret = randomBytes(32);
  const publisher = new ClusterPublisher(store, sql, logger, { keysDir: pubKeys, secret });
  await publisher.tick();
  assert.equal(publisher.stats.errors, 0, lines.join('\n'));

  // The subscriber: its keys folder (its sbd-clusterd's follower installs there), its TFTP's copy and files.
  const subKeys = mkdtempSync(join(tmpdir(), 'sbd-sub-keys-'));
  t.after(() => rmSync(subKeys, { recursive: true, force: true }));
  const follower = new ClusterKeyFollower(sql, subKeys, secret, logger);
  await follower.tick();
  assert.equal(follower.stats.installed, 1, lines.join('\n'));
  const copy = await PgStoreCopy.open(sql, {
    pollIntervalMs: 3_600_000,
    keys: { dir: subKeys, files: { [CLUSTER_KEYS.phonePassword]: PHONE_SECRET_KEY_FILE } },
    keyWaitMs: 3_600_000,
    logger,
  });
  t.after(() => copy.close());
  const files = new PgApplianceFiles(copy, { keysDir: subKeys });
  const config = () => files.deviceConfig(PHONE, '.cnf.xml.sgn', systemClock)?.toString('latin1') ?? '';
  assert.match(config(), /phone-pass-one/, 'the password in the config the subscriber serves');

  // The publisher's key changes: its file replaced (as a restore brings another), the password stored again under it.
  const oldKey = readFileSync(join(subKeys, PHONE_SECRET_KEY_FILE), 'utf8');
  rmSync(join(pubKeys, PHONE_SECRET_KEY_FILE));
  setPassword('phone-pass-two');
  await publisher.tick();
  assert.equal(publisher.stats.errors, 0, lines.join('\n'));

  // Window 1: the copy polls before the node holds the new key. It keeps its rows (and their key).
  await copy.refresh();
  assert.match(config(), /phone-pass-one/, 'rows the node has no key for are not loaded yet');
  assert.equal(copy.stats.keyWaits, 1);

  // Window 2: the follower installs the new key before the copy polls again. The copy decrypts with the key of its rows.
  await follower.tick();
  assert.notEqual(readFileSync(join(subKeys, PHONE_SECRET_KEY_FILE), 'utf8'), oldKey, 'the new key installed');
  assert.match(config(), /phone-pass-one/, "the copy's rows with their own key, not the one just installed");

  // The next poll loads the rows with the key they need: the new password.
  assert.equal(await copy.refresh(), true);
  assert.match(config(), /phone-pass-two/);
  assert.equal(copy.stats.loadedWithoutKey, 0);
  assert.ok(!lines.some((l) => l.includes('loaded without its key')), lines.join('\n'));

  // A key that never comes (the node's sbd-clusterd stopped): waited for a bounded time, then loaded and said so.
  const stuck = await PgStoreCopy.open(sql, {
    pollIntervalMs: 3_600_000,
    keys: { dir: subKeys, files: { [CLUSTER_KEYS.phonePassword]: PHONE_SECRET_KEY_FILE } },
    keyWaitMs: 300,
    logger,
  });
  t.after(() => stuck.close());
  rmSync(join(pubKeys, PHONE_SECRET_KEY_FILE));
  setPassword('phone-pass-three');
  await publisher.tick();
  assert.equal(await stuck.refresh(), false, 'waits for the key first');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(await stuck.refresh(), true, 'then loads');
  assert.equal(stuck.stats.loadedWithoutKey, 1);
  const logged = lines.filter((l) => l.includes('"store copy loaded without its key"'));
  assert.equal(logged.length, 1, lines.join('\n'));
  assert.match(logged[0]!, /"keys":"sip-phone"/);
  const stuckFiles = new PgApplianceFiles(stuck, { keysDir: subKeys });
  const stuckConfig = () => stuckFiles.deviceConfig(PHONE, '.cnf.xml.sgn', systemClock)?.toString('latin1') ?? '';
  assert.throws(stuckConfig, { code: 'ERR_PHONE_SECRET_AUTH' }, 'rows without their key: the config fails, as before');

  // That key is not waited for again: a later change loads at once, and nothing more is logged.
  store.updateDevice(PHONE, { description: 'third floor' });
  await publisher.tick();
  assert.equal(await stuck.refresh(), true, 'no second wait for a key given up on');
  assert.equal(lines.filter((l) => l.includes('"store copy loaded without its key"')).length, 1);

  // The node's sbd-clusterd installs the key: pinned at the next poll, with no new generation needed.
  await follower.tick();
  assert.equal(await stuck.refresh(), false, 'no new generation');
  assert.match(stuckConfig(), /phone-pass-three/);
  assert.match(stuckConfig(), /third floor/);
});
