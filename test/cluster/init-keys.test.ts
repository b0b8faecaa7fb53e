/**
 * `sbd init`'s keys made in parallel beforehand (issue 19 item 7: first boot's five RSA keys are most of its time
 * under emulation): pregenerateKeys gives one distinct key of the asked size per identity, and initAppliance
 * issues each identity on exactly the key it was handed (the certificate's public key, the key file on disk).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initAppliance, missingIdentities, pregenerateKeys } from '../../src/cluster/init.js';
import { issueIdentity } from '../../src/pki/identity-store.js';
import { identityNames } from '../../src/pki/profiles.js';
import { openState } from '../../src/store/state.js';
import { systemClock } from '../../src/lib/clock.js';

const spki = (pem: string) => createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' });

test('pregenerated keys: one per identity, each used by the certificate init issues', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-init-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keys = await pregenerateKeys({ type: 'rsa', bits: 2048 });
  assert.deepEqual(Object.keys(keys).sort(), [...identityNames].sort());
  const distinct = new Set(Object.values(keys).map((k) => spki(k).toString('hex')));
  assert.equal(distinct.size, identityNames.length);
  for (const k of Object.values(keys)) assert.equal(createPrivateKey(k).asymmetricKeyDetails?.modulusLength, 2048);

  const r = initAppliance({ dir: join(dir, 'state'), hostname: 'keys-test', ipv4: '127.0.0.1', clock: systemClock, privateKeys: keys });
  assert.deepEqual([...r.issued].sort(), [...identityNames].sort());
  const state = openState(join(dir, 'state'));
  try {
    for (const name of identityNames) {
      const row = state.store.currentCertificate(name, name === 'ITLRecovery' ? null : r.node.name);
      assert.ok(row?.keyFile, `${name} has a key file`);
      assert.deepEqual(spki(readFileSync(row.keyFile, 'utf8')), spki(keys[name]!), `${name}: the key handed in`);
      assert.deepEqual(createPublicKey(row.pem).export({ type: 'spki', format: 'der' }), spki(keys[name]!), `${name}: certificate`);
    }
  } finally {
    state.store.close();
  }
});

test('a store a power cut left half made: init makes only the missing keys, in parallel, and keeps the rest', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-init-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  assert.deepEqual(missingIdentities(stateDir), [...identityNames], 'no store yet: every identity');
  // What `sbd init` had done when the power went: the store, the node, two identities.
  mkdirSync(stateDir, { mode: 0o750 });
  const state = openState(stateDir, { create: true });
  const node = state.store.addNode({
    name: 'half',
    hostname: 'half',
    ipv4: '127.0.0.1',
    isPublisher: true,
    services: ['tftp', 'tvs', 'capf'],
  });
  for (const name of ['CallManager', 'TVS'] as const) issueIdentity(state.store, state.layout, { name, node, clock: systemClock });
  const before = ['CallManager', 'TVS'].map((n) => state.store.currentCertificate(n as 'CallManager', 'half')!.pem);
  state.store.close();

  const missing = missingIdentities(stateDir);
  assert.deepEqual(missing, ['CAPF', 'ITLRecovery', 'tomcat']);
  const keys = await pregenerateKeys({ type: 'rsa', bits: 2048 }, missing);
  assert.deepEqual(Object.keys(keys).sort(), [...missing].sort());

  const { main } = await import('../../src/cli/main.js');
  const out: string[] = [];
  assert.equal(await main(['init', '--state', stateDir, '--ip', '127.0.0.1'], { out: (l) => out.push(l), err: (l) => out.push(l) }), 0);
  assert.match(out.join('\n'), /issued certificates: CAPF, ITLRecovery, tomcat/);
  assert.deepEqual(missingIdentities(stateDir), [], 'complete now');
  const after = openState(stateDir);
  try {
    assert.deepEqual(
      ['CallManager', 'TVS'].map((n) => after.store.currentCertificate(n as 'CallManager', 'half')!.pem),
      before,
      'the identities made before the cut are kept',
    );
  } finally {
    after.store.close();
  }
  assert.match(out.join('\n'), /node half already initialised/);
});
