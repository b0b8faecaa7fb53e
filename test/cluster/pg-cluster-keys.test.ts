/**
 * Issue 21, the keys a subscriber needs (cluster/membership-keys.ts, daemons/clusterd.ts), on real PostgreSQL 15
 * servers made by the commands: a publisher and one subscriber, each with the real sbd-clusterd running. Proves:
 * after the join both the phone-password and the trunk-password keys are on the subscriber; when the publisher's
 * keys change (the key files replaced, as a restore brings other keys, and the passwords stored again under them)
 * the subscriber's TFTP lookup delivers the phone's new password and its SIP lookup answers the trunk's challenge
 * with the new one, with no restart (the lookups the daemons use, over the subscriber's own standby); a damaged row
 * and another cluster's row are refused by the subscriber's sbd-clusterd, which says why once and keeps the old key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { CLUSTER_KEYS, wrapClusterKey } from '../../src/cluster/membership-keys.js';
import { PHONE_SECRET_KEY_FILE } from '../../src/credentials/phone-secret.js';
import { phonePasswordLookup } from '../../src/credentials/phone-digest.js';
import { PgApplianceFiles } from '../../src/daemons/adapters/pg-tftp-store.js';
import { storeTrunkCredentials } from '../../src/daemons/adapters/sip-store.js';
import { systemClock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/lib/log.js';
import { TRUNK_SECRET_KEY_FILE } from '../../src/sip/auth/trunk-secret.js';
import { clusterSecretFromPassword, readClusterNode } from '../../src/store/pg/cluster-node.js';
import { connectLocalAdmin } from '../../src/store/pg/replication-connect.js';
import { PgStoreCopy } from '../../src/store/pg/store-copy.js';
import { stateLayout } from '../../src/store/state.js';
import { joinNode, pgMissing, sbdOk, startClusterd, startPublisher, waitFor } from './pg-cluster.js';

const PHONE = 'SEP0000000000C1';
const REALM = 'ccmsipline';

function admin(t: { after: (fn: () => Promise<void>) => void }, state: string) {
  const sql = connectLocalAdmin(readClusterNode(state)!, stateLayout(state).keysDir);
  t.after(() => sql.end({ timeout: 1 }));
  return sql;
}

const keyFile = (state: string, file: string) => readFileSync(`${stateLayout(state).keysDir}/${file}`, 'utf8');

test("a subscriber follows the publisher's phone and trunk keys; a bad row keeps the old key", { skip: pgMissing() }, async (t) => {
  const pub = await startPublisher(t);
  await sbdOk(['device', 'add', PHONE, '--model', '8845', '--dn', '5001', '--digest-password', 'phone-pass-one', '--state', pub.state]);
  await sbdOk(['trunk', 'add', 'itsp', '--host', '127.0.0.9', '--port', '5060', '--transport', 'udp', '--state', pub.state]);
  await sbdOk([
    'trunk',
    'credential',
    'itsp',
    '--realm',
    'itsp.example',
    '--username',
    'u1',
    '--password',
    'trunk-pass-one',
    '--state',
    pub.state,
  ]);
  await sbdOk(['param', 'set', 'SipDigestPasswordInSignedConfig', 'true', '--state', pub.state]);
  startClusterd(t, pub);
  const sub = await joinNode(t, pub, 'sub1', '127.0.0.2');
  const follower = startClusterd(t, sub);
  const logged: string[] = [];
  follower.stdout?.on('data', (b: Buffer) => logged.push(...b.toString().split('\n').filter(Boolean)));

  // The join brought both keys.
  for (const f of [PHONE_SECRET_KEY_FILE, TRUNK_SECRET_KEY_FILE])
    assert.equal(keyFile(sub.state, f), keyFile(pub.state, f), `${f} after the join`);

  // What the subscriber's TFTP and SIP read: a copy of its own standby, its own keys folder.
  const standby = admin(t, sub.state);
  const copy = await PgStoreCopy.open(standby, { pollIntervalMs: 100 });
  t.after(() => copy.close());
  const phonePassword = () => phonePasswordLookup(copy.store, stateLayout(sub.state).keysDir)(PHONE, REALM);
  const trunkPasswords = storeTrunkCredentials(copy.store, stateLayout(sub.state), createLogger('test', { write: () => {} }));
  const trunkPassword = () => trunkPasswords('itsp', 'itsp.example')?.password;
  // And the signed config sbd-tftpd --store-url --node sub1 serves (PgApplianceFiles, signed with sub1's key).
  const files = new PgApplianceFiles(copy, { node: 'sub1', keysDir: stateLayout(sub.state).keysDir });
  const delivered = (password: string) => files.deviceConfig(PHONE, '.cnf.xml.sgn', systemClock)?.includes(password) === true;
  assert.equal(phonePassword(), 'phone-pass-one');
  assert.ok(delivered('phone-pass-one'), "the phone's password in its signed config served by sub1");
  assert.equal(trunkPassword(), 'trunk-pass-one');

  // The publisher's keys change (new key files, the passwords stored again under them): the subscriber follows.
  const oldPhoneKey = keyFile(sub.state, PHONE_SECRET_KEY_FILE);
  const oldTrunkKey = keyFile(sub.state, TRUNK_SECRET_KEY_FILE);
  for (const f of [PHONE_SECRET_KEY_FILE, TRUNK_SECRET_KEY_FILE]) rmSync(`${stateLayout(pub.state).keysDir}/${f}`);
  await sbdOk(['device', 'digest-reset', PHONE, '--digest-password', 'phone-pass-two', '--state', pub.state]);
  await sbdOk([
    'trunk',
    'credential',
    'itsp',
    '--realm',
    'itsp.example',
    '--username',
    'u1',
    '--password',
    'trunk-pass-two',
    '--state',
    pub.state,
  ]);
  const started = performance.now();
  await waitFor('the new phone password on the subscriber', async () => (phonePassword() === 'phone-pass-two' ? true : undefined));
  await waitFor('the new trunk password on the subscriber', async () => (trunkPassword() === 'trunk-pass-two' ? true : undefined));
  assert.ok(delivered('phone-pass-two'), 'the new password in the config sub1 serves');
  t.diagnostic(
    `last password stored on the publisher -> both new passwords read on sub1: ${(performance.now() - started).toFixed(0)} ms (clusterd polls 100 ms)`,
  );
  assert.notEqual(keyFile(sub.state, PHONE_SECRET_KEY_FILE), oldPhoneKey);
  assert.notEqual(keyFile(sub.state, TRUNK_SECRET_KEY_FILE), oldTrunkKey);
  for (const f of [PHONE_SECRET_KEY_FILE, TRUNK_SECRET_KEY_FILE]) assert.equal(keyFile(sub.state, f), keyFile(pub.state, f));
  // The follower writes a key file before its log line reaches this process's pipe: wait for the lines, too.
  const installed = () => logged.filter((l) => l.includes('"cluster key installed"')).length;
  await waitFor('both installs logged', async () => (installed() >= 2 ? true : undefined)).catch(() => undefined);
  assert.equal(installed(), 2, logged.join('\n'));

  // A damaged phone row and another cluster's trunk row, written on the primary: refused on the subscriber, said
  // once each, and its keys stay; the passwords are still delivered.
  const primary = admin(t, pub.state);
  const [row] = await primary`SELECT wrapped FROM sbd.cluster_keys WHERE name = ${CLUSTER_KEYS.phonePassword}`;
  const damaged = Buffer.from(row!.wrapped as Buffer);
  damaged[damaged.length - 1]! ^= 1;
  await primary`UPDATE sbd.cluster_keys SET wrapped = ${damaged} WHERE name = ${CLUSTER_KEYS.phonePassword}`;
  const foreign = wrapClusterKey(clusterSecretFromPassword('another-clusters-password'), CLUSTER_KEYS.trunkPassword, randomBytes(32));
  await primary`UPDATE sbd.cluster_keys SET wrapped = ${foreign} WHERE name = ${CLUSTER_KEYS.trunkPassword}`;
  const refusals = () => logged.filter((l) => l.includes('"cluster key refused, the installed key is kept"'));
  await waitFor('both refusals logged', async () => (refusals().length >= 2 ? true : undefined));
  const lines = refusals().map((l) => JSON.parse(l) as { level: string; name: string; message: string });
  assert.deepEqual(lines.map((l) => l.name).sort(), ['sip-phone', 'sip-trunk']);
  for (const l of lines) {
    assert.equal(l.level, 'error');
    assert.match(l.message, /does not unwrap with this node's cluster secret \(another cluster's password\?\)/);
  }
  // Several more rounds: still the same two lines (once per row), the keys and passwords unchanged.
  const ticks = logged.length;
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(refusals().length, 2, 'a refused row is reported once');
  assert.equal(logged.length, ticks);
  for (const f of [PHONE_SECRET_KEY_FILE, TRUNK_SECRET_KEY_FILE]) assert.equal(keyFile(sub.state, f), keyFile(pub.state, f), `${f} kept`);
  assert.equal(phonePassword(), 'phone-pass-two');
  assert.ok(delivered('phone-pass-two'));
  assert.equal(trunkPassword(), 'trunk-pass-two');

  // The publisher's next publish puts the right rows back (they did not unwrap to its keys): nothing to install.
  await sbdOk(['param', 'set', 'ServerNames', 'pub=127.0.0.1', '--state', pub.state]);
  await waitFor('the rows repaired on the standby', async () => {
    const rows = await standby`SELECT wrapped FROM sbd.cluster_keys ORDER BY name`;
    return rows.every((r) => !(r.wrapped as Buffer).equals(damaged) && !(r.wrapped as Buffer).equals(foreign)) ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(logged.filter((l) => l.includes('"cluster key installed"')).length, 2, 'the same keys: nothing installed');
});
