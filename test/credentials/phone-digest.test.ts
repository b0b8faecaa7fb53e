/**
 * A phone's digest credentials against a real store in `<state>/sbd.db`: the HA1s (checked with openssl) and the
 * encrypted password go in together; the digest user made for a phone has a login nobody knows; admin and
 * application users are refused; the lookup the config builder uses decrypts with `<state>/keys/sip-phone.key`
 * and throws (never silently drops) when that key is gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.js';
import { login, setPassword } from '../../src/credentials/index.js';
import { PHONE_SECRET_KEY_FILE } from '../../src/credentials/phone-secret.js';
import { phonePasswordLookup, putPhoneDigestPassword, stateKeysDir, unusableLogin } from '../../src/credentials/phone-digest.js';

const fastPolicy = { log2N: 10, r: 8, p: 1, keyLength: 32, saltBytes: 16 };
const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;

function md5(text: string): string {
  const r = spawnSync('openssl', ['dgst', '-md5', '-r'], { input: text, encoding: 'utf8' });
  return r.stdout.split(' ')[0]!.trim();
}

test('HA1 and the encrypted password together; the created user cannot log in with it; lookup decrypts', async () => {
  const state = mkdtempSync(join(tmpdir(), 'sbd-phone-digest-'));
  const store = openStore(join(state, 'sbd.db'), { create: true });
  const keys = stateKeysDir(store)!;
  assert.equal(keys, join(state, 'keys'));
  const before = store.generation();
  const r = putPhoneDigestPassword(store, keys, { userid: 'SEP001122334455', password: 'Phone-Pass-1' }, await unusableLogin(fastPolicy));
  assert.deepEqual(r, { userid: 'SEP001122334455', realm: 'ccmsipline', createdUser: true });
  assert.ok(store.generation() > before, 'the write moves the generation (configs are rebuilt)');
  const row = store.getDigestCredential('SEP001122334455', 'ccmsipline')!;
  assert.equal(row.ha1Md5, md5('SEP001122334455:ccmsipline:Phone-Pass-1'));
  assert.ok(row.passwordEnc && !row.passwordEnc.includes(Buffer.from('Phone-Pass-1')));
  assert.equal(phonePasswordLookup(store, keys)('SEP001122334455', 'ccmsipline'), 'Phone-Pass-1');
  assert.equal(phonePasswordLookup(store, keys)('SEP001122334455', 'other'), undefined);
  await assert.rejects(login(store, 'SEP001122334455', 'Phone-Pass-1'), code('ERR_CREDENTIAL_INVALID'));

  // Rotation: a second put replaces both; the user stays (not re-created).
  const again = putPhoneDigestPassword(
    store,
    keys,
    { userid: 'SEP001122334455', password: 'Phone-Pass-2' },
    await unusableLogin(fastPolicy),
  );
  assert.equal(again.createdUser, false);
  assert.equal(phonePasswordLookup(store, keys)('SEP001122334455', 'ccmsipline'), 'Phone-Pass-2');

  // A login password set later replaces the HA1: the kept password no longer verifies, so it is dropped.
  await setPassword(store, { userid: 'SEP001122334455', password: 'a login password' }, { policy: fastPolicy });
  assert.equal(phonePasswordLookup(store, keys)('SEP001122334455', 'ccmsipline'), undefined);

  // Admin and application users are refused; nothing changes for them.
  await setPassword(store, { userid: 'root-ish', password: 'admin password', kind: 'admin' }, { policy: fastPolicy });
  const adminHa1 = store.getDigestCredential('root-ish', 'ccmsipline')!.ha1Md5;
  assert.throws(
    () =>
      putPhoneDigestPassword(store, keys, { userid: 'root-ish', password: 'Phone-Pass-3' }, { hash: 'x', algorithm: 'scrypt', params: '' }),
    code('ERR_CREDENTIAL_INPUT'),
  );
  assert.equal(store.getDigestCredential('root-ish', 'ccmsipline')!.ha1Md5, adminHa1);
  assert.throws(
    () =>
      putPhoneDigestPassword(store, keys, { userid: 'SEP001122334455', password: 'short' }, { hash: 'x', algorithm: 'scrypt', params: '' }),
    code('ERR_PHONE_SECRET_INPUT'),
  );

  // The key file gone (a restore without keys/): the lookup says so instead of serving a config without the password.
  putPhoneDigestPassword(store, keys, { userid: 'SEP001122334455', password: 'Phone-Pass-4' }, await unusableLogin(fastPolicy));
  renameSync(join(keys, PHONE_SECRET_KEY_FILE), join(state, 'moved.key'));
  assert.throws(() => phonePasswordLookup(store, keys)('SEP001122334455', 'ccmsipline'), code('ERR_PHONE_SECRET_KEY'));
  store.close();
});

test('a store that is not <state>/sbd.db has no key folder', () => {
  const store = openStore(join(mkdtempSync(join(tmpdir(), 'sbd-phone-digest-')), 'other.db'), { create: true });
  assert.equal(stateKeysDir(store), undefined);
  store.close();
});

test('a backup carries keys/sip-phone.key: after a restore the delivered password still decrypts', async () => {
  const { createBackup, restoreBackup } = await import('../../src/backup/index.js');
  const { rmSync } = await import('node:fs');
  const state = mkdtempSync(join(tmpdir(), 'sbd-phone-digest-dr-'));
  const file = join(mkdtempSync(join(tmpdir(), 'sbd-phone-digest-bk-')), 'b.sbdbak');
  let store = openStore(join(state, 'sbd.db'), { create: true });
  putPhoneDigestPassword(
    store,
    join(state, 'keys'),
    { userid: 'SEP0000000000C1', password: 'Restore-Me-1' },
    { hash: 'x', algorithm: 'scrypt', params: '' },
  );
  store.close();
  await createBackup({ stateDir: state, file, passphrase: 'a long backup passphrase', kdf: { log2N: 14, r: 8, p: 1 } });
  rmSync(join(state, 'keys'), { recursive: true }); // the disaster: the key is gone
  await restoreBackup({ stateDir: state, file, passphrase: 'a long backup passphrase' });
  store = openStore(join(state, 'sbd.db'));
  assert.equal(phonePasswordLookup(store, join(state, 'keys'))('SEP0000000000C1', 'ccmsipline'), 'Restore-Me-1');
  store.close();
});
