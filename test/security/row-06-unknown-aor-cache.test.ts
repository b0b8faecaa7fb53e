/**
 * Issue 16 row 6: REGISTERs and requests naming made-up users do not grow sipd's memory. The directory caches
 * only what the store holds (its devices' and users' owners); a name the store does not know is answered
 * without being remembered. The old code cached every unknown AOR (`owners.set(user, null)`), ~4 KB per request
 * with long names, before authentication.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorization, register, registrarSetup, T0, udp } from './row-sip-helpers.js';

/** The directory's owner cache (a private field in both the old and the new code). */
function ownerCacheSize(directory: object): number {
  return (directory as unknown as { owners: Map<string, unknown> }).owners.size;
}

test('row 6: 20,000 REGISTERs for made-up AORs leave the owner cache and the limiter tables bounded', () => {
  const r = registrarSetup();
  try {
    assert.equal(r.directory.resolveAor('1000')?.kind, 'device');
    const before = ownerCacheSize(r.directory);
    const long = 'x'.repeat(200);
    for (let i = 0; i < 20_000; i++) {
      const res = r.registrar.handleRegister(
        register(`${long}${i}`, [`Contact: <sip:a@127.0.0.9:5062>`]),
        udp(`127.0.${i >> 8}.${i & 255}`),
        T0,
      ).response;
      assert.equal(res.status, 401);
    }
    assert.equal(ownerCacheSize(r.directory), before, 'no unknown name cached');
    assert.equal(r.directory.resolveAor(`${long}1`), undefined);
    assert.equal(r.directory.resolveAor('1000')?.kind, 'device', 'known AORs still resolve');
    assert.equal(r.directory.resolveAor('alice')?.kind, 'user');
    // A user added to the store is seen at once (the caches follow the store's generation).
    r.store.putUser({ userid: 'bob', credentialHash: 'x', algorithm: 'none' });
    assert.equal(r.directory.resolveAor('bob')?.kind, 'user');
  } finally {
    r.done();
  }
});

test('row 6: failures under made-up usernames are counted in bounded tables; over-long usernames get no entry', () => {
  const r = registrarSetup({ gate: { perCredential: { maxKeys: 500 }, perSource: { maxKeys: 500, maxFailures: 1_000_000 } } });
  try {
    const guess = (username: string, i: number) => {
      const src = udp(`127.1.${i >> 8}.${i & 255}`);
      const first = r.registrar.handleRegister(register('1000'), src, T0).response;
      const auth = authorization(first.get('WWW-Authenticate')!, username, 'guess-pw');
      assert.equal(r.registrar.handleRegister(register('1000', [`Authorization: ${auth}`]), src, T0).response.status, 401);
    };
    for (let i = 0; i < 2000; i++) guess(`${'y'.repeat(300)}${i}`, i);
    assert.equal(r.registrar.gate.byCredential.trackedKeys, 0, 'a username no store userid can be holds no entry');
    for (let i = 0; i < 2000; i++) guess(`made-up-${i}`, i);
    assert.ok(r.registrar.gate.byCredential.trackedKeys <= 500, `credential keys ${r.registrar.gate.byCredential.trackedKeys}`);
    assert.ok(r.registrar.gate.bySource.trackedKeys <= 500, `source keys ${r.registrar.gate.bySource.trackedKeys}`);
  } finally {
    r.done();
  }
});
