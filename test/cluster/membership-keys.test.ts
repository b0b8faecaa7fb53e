/**
 * The wrapping of keys a subscriber takes from the publisher (cluster/membership-keys.ts): the cluster secret
 * derived from the cluster security password unwraps it; another cluster's secret, another row's name, a changed
 * byte or an unknown layout is refused with ERR_CLUSTER_KEY. (The join itself is in pg-membership.test.ts.)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CLUSTER_KEYS, unwrapClusterKey, wrapClusterKey } from '../../src/cluster/membership-keys.js';
import { clusterSecretFromPassword } from '../../src/store/pg/cluster-node.js';

const secret = clusterSecretFromPassword('cluster-security-password-for-tests');
const name = CLUSTER_KEYS.phonePassword;

test('a wrapped key unwraps with the same cluster secret only', () => {
  const key = randomBytes(32);
  const blob = wrapClusterKey(secret, name, key);
  assert.equal(blob.length, 1 + 12 + 16 + 32);
  assert.ok(!blob.includes(key), 'the key is not in the row in the clear');
  assert.deepEqual(unwrapClusterKey(secret, name, blob), key);
  assert.notDeepEqual(wrapClusterKey(secret, name, key), blob, 'a fresh IV each time');

  const refused = { code: 'ERR_CLUSTER_KEY' };
  assert.throws(() => unwrapClusterKey(clusterSecretFromPassword('another-clusters-password'), name, blob), refused);
  assert.throws(() => unwrapClusterKey(secret, 'other-key', blob), refused);
  const changed = Buffer.from(blob);
  changed[changed.length - 1]! ^= 1;
  assert.throws(() => unwrapClusterKey(secret, name, changed), refused);
  assert.throws(() => unwrapClusterKey(secret, name, Buffer.concat([Buffer.from([2]), blob.subarray(1)])), refused);
  assert.throws(() => unwrapClusterKey(secret, name, blob.subarray(0, 20)), refused);
});
