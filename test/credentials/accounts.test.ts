/**
 * End-user credentials against a real store: scrypt records, salted; legacy SHA-1/SHA-2 hashes made by an
 * independent tool (openssl dgst, as an older system would have) verify once and are re-hashed at the first
 * successful login; lockout after CredentialLockoutThreshold failures; PINs; SIP digest HA1 checked with openssl.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../src/store/index.js';
import {
  CredentialErrorCode,
  importLegacy,
  login,
  parseScryptRecord,
  setPassword,
  setPin,
  verifyPin,
  SCRYPT_POLICY,
} from '../../src/credentials/index.js';
import { outdatedCredentialRows } from '../../src/reports/index.js';

function openssl(alg: string, text: string): string {
  const r = spawnSync('openssl', ['dgst', `-${alg}`, '-r'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split(' ')[0]!.trim();
}

function freshStore(clock = { now: () => Date.parse('2026-11-25T10:00:00Z') }): Store {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-cred-'));
  return openStore(join(dir, 'sbd.db'), { clock });
}

const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;

test('a password becomes a salted scrypt record with its parameters; HA1 for the realm matches openssl', async () => {
  const store = freshStore();
  const a = await setPassword(store, { userid: 'alice', password: 'correct horse', pin: '2468' });
  const b = await setPassword(store, { userid: 'bob', password: 'correct horse' });
  assert.equal(a.algorithm, 'scrypt');
  assert.equal(a.params, 'ln=15,r=8,p=1');
  const ra = parseScryptRecord(a.credentialHash);
  const rb = parseScryptRecord(b.credentialHash);
  assert.equal(ra.log2N, SCRYPT_POLICY.log2N);
  assert.equal(ra.salt.length, 16);
  assert.notDeepEqual(ra.salt, rb.salt, 'each record has its own salt');
  assert.notEqual(a.credentialHash, b.credentialHash, 'same password, different records');
  assert.equal(a.pinAlgorithm, 'scrypt');
  const d = store.getDigestCredential('alice', 'ccmsipline')!;
  assert.equal(d.ha1Md5, openssl('md5', 'alice:ccmsipline:correct horse'));
  assert.equal(d.ha1Sha256, openssl('sha256', 'alice:ccmsipline:correct horse'));
  await setPassword(store, { userid: 'alice', password: 'another secret', realm: 'trunks.example' });
  assert.equal(store.getDigestCredential('alice', 'trunks.example')!.ha1Md5, openssl('md5', 'alice:trunks.example:another secret'));
  assert.equal(store.getUser('alice')!.pinHash, a.pinHash, 'setting the password keeps the PIN');
  const ok = await login(store, 'alice', 'another secret');
  assert.equal(ok.migratedFrom, null);
  await assert.rejects(login(store, 'alice', 'correct horse'), code(CredentialErrorCode.invalid));
  store.close();
});

for (const alg of ['sha1', 'sha256', 'sha512'] as const) {
  test(`an imported legacy ${alg} hash verifies once and is re-hashed to scrypt at the first successful login`, async () => {
    const store = freshStore();
    const legacy = openssl(alg, 'Winter2019!');
    importLegacy(store, { userid: 'carol', algorithm: alg, hexDigest: legacy.toUpperCase() });
    assert.equal(store.getUser('carol')!.credentialHash, legacy);
    assert.deepEqual(
      outdatedCredentialRows(store).map((r) => [r.userid, r.credential, r.algorithm]),
      [['carol', 'Password', alg]],
    );
    // A wrong password changes nothing but the failure count.
    await assert.rejects(login(store, 'carol', 'Winter2020!'), code(CredentialErrorCode.invalid));
    assert.equal(store.getUser('carol')!.algorithm, alg);
    assert.equal(store.getUser('carol')!.failedAttempts, 1);
    assert.equal(store.getDigestCredential('carol', 'ccmsipline'), undefined);
    const r = await login(store, 'carol', 'Winter2019!');
    assert.equal(r.migratedFrom, alg);
    const u = store.getUser('carol')!;
    assert.equal(u.algorithm, 'scrypt');
    assert.equal(u.failedAttempts, 0);
    assert.equal(u.lastLogin, '2026-11-25T10:00:00.000Z');
    assert.doesNotMatch(u.credentialHash, new RegExp(legacy, 'i'));
    assert.deepEqual(outdatedCredentialRows(store), []);
    assert.equal(
      store.getDigestCredential('carol', 'ccmsipline')!.ha1Md5,
      openssl('md5', 'carol:ccmsipline:Winter2019!'),
      'HA1 written at migration',
    );
    // The new record verifies; the second login migrates nothing.
    assert.equal((await login(store, 'carol', 'Winter2019!')).migratedFrom, null);
    store.close();
  });
}

test('scrypt records weaker than the policy are listed and re-hashed at login', async () => {
  const store = freshStore();
  await setPassword(store, { userid: 'dave', password: 'old-policy-pw', pin: '13579' }, { policy: { ...SCRYPT_POLICY, log2N: 12 } });
  assert.deepEqual(
    outdatedCredentialRows(store).map((r) => [r.credential, r.params]),
    [
      ['Password', 'ln=12,r=8,p=1'],
      ['PIN', 'ln=12,r=8,p=1'],
    ],
  );
  assert.equal((await login(store, 'dave', 'old-policy-pw')).migratedFrom, 'scrypt');
  assert.equal(parseScryptRecord(store.getUser('dave')!.credentialHash).log2N, 15);
  assert.equal((await verifyPin(store, 'dave', '13579')).migratedFrom, 'scrypt');
  assert.deepEqual(outdatedCredentialRows(store), []);
  store.close();
});

test('lockout after CredentialLockoutThreshold failures (password and PIN alike); it expires after CredentialLockoutMinutes', async () => {
  let now = Date.parse('2026-11-25T10:00:00Z');
  const store = freshStore({ now: () => now });
  store.setParam('CredentialLockoutThreshold', '3');
  store.setParam('CredentialLockoutMinutes', '10');
  await setPassword(store, { userid: 'erin', password: 'erin-password', pin: '1234' });
  await assert.rejects(login(store, 'erin', 'wrong-1'), code(CredentialErrorCode.invalid));
  await assert.rejects(verifyPin(store, 'erin', '9999'), code(CredentialErrorCode.invalid));
  await assert.rejects(
    login(store, 'erin', 'wrong-3'),
    (err: Error) => code(CredentialErrorCode.invalid)(err) && /now locked until 2026-11-25T10:10:00.000Z/.test(err.message),
  );
  // Locked: even the right password is refused without being checked.
  await assert.rejects(login(store, 'erin', 'erin-password'), code(CredentialErrorCode.locked));
  await assert.rejects(verifyPin(store, 'erin', '1234'), code(CredentialErrorCode.locked));
  now += 10 * 60_000 + 1;
  const ok = await login(store, 'erin', 'erin-password');
  assert.equal(ok.user.failedAttempts, 0);
  assert.equal(ok.user.lockedUntil, null);
  // Threshold 0 never locks.
  store.setParam('CredentialLockoutThreshold', '0');
  for (let i = 0; i < 4; i++) await assert.rejects(login(store, 'erin', `nope-${i}`), code(CredentialErrorCode.invalid));
  assert.equal((await login(store, 'erin', 'erin-password')).user.lockedUntil, null);
  store.close();
});

test('unknown users and wrong secrets give the same error; PINs of users without one are a typed error', async () => {
  const store = freshStore();
  await setPassword(store, { userid: 'frank', password: 'frank-password' });
  const e1 = await login(store, 'nobody', 'whatever-pw').catch((e: Error) => e);
  const e2 = await login(store, 'frank', 'whatever-pw').catch((e: Error) => e);
  assert.equal((e1 as unknown as { code: string }).code, CredentialErrorCode.invalid);
  assert.equal((e1 as Error).message, (e2 as Error).message);
  await assert.rejects(verifyPin(store, 'frank', '1234'), code(CredentialErrorCode.noPin));
  await setPin(store, 'frank', '8642');
  assert.equal((await verifyPin(store, 'frank', '8642')).migratedFrom, null);
  store.close();
});

test('bad input and damaged records are typed errors and change nothing', async () => {
  const store = freshStore();
  const input = code(CredentialErrorCode.input);
  await assert.rejects(setPassword(store, { userid: 'gina', password: 'short' }), input);
  await assert.rejects(setPassword(store, { userid: 'gina', password: 'long enough\u0000' }), input);
  await assert.rejects(setPassword(store, { userid: 'gina', password: 'x'.repeat(1025) }), input);
  await assert.rejects(setPassword(store, { userid: 'gina:realm', password: 'long enough' }), input);
  await assert.rejects(setPassword(store, { userid: '', password: 'long enough' }), input);
  await assert.rejects(setPassword(store, { userid: 'gina', password: 'long enough', pin: '12a4' }), input);
  await assert.rejects(setPassword(store, { userid: 'gina', password: 'long enough', pin: '123' }), input);
  assert.throws(() => importLegacy(store, { userid: 'gina', algorithm: 'sha1', hexDigest: 'abc' }), input);
  assert.throws(() => importLegacy(store, { userid: 'gina', algorithm: 'sha256', hexDigest: 'z'.repeat(64) }), input);
  await assert.rejects(setPin(store, 'nobody', '1234'), input);
  assert.equal(store.listUsers().length, 0);
  // A damaged scrypt record (e.g. an absurd cost) is refused before any work is done.
  store.putUser({
    userid: 'hank',
    credentialHash: '$scrypt$ln=40,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g',
    algorithm: 'scrypt',
  });
  await assert.rejects(login(store, 'hank', 'whatever-pw'), code(CredentialErrorCode.record));
  store.putUser({ userid: 'ivan', credentialHash: 'abcd', algorithm: 'md4' });
  await assert.rejects(login(store, 'ivan', 'whatever-pw'), code(CredentialErrorCode.record));
  store.close();
});
