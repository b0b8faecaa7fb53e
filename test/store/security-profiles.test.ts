/**
 * Schema step 10 (issue 18 item 7): every security profile carries a nonce validity time and a CAPF
 * authentication mode. A v9 store (made by steps 1 to 9) upgrades with its profiles kept and the defaults filled
 * in; put keeps unnamed fields of an existing profile; values outside the bounds are refused by the store and by
 * the column's CHECK alike.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { APPLICATION_ID, MIGRATIONS, PROFILE_DEFAULTS, PROFILE_LIMITS, SCHEMA_VERSION, StoreError } from '../../src/store/index.js';
import { open, tempDir } from './helpers.js';

const T0 = '2026-01-01T00:00:00.000Z';
const UNIVERSAL = 'Universal Device Template - Model-independent Security Profile';

describe('security profiles: nonce validity and CAPF authentication mode (schema 10)', () => {
  it('upgrades a v9 store: profiles kept, defaults filled in', () => {
    const path = join(tempDir(), 'v9.db');
    const db = new Database(path);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    for (const step of MIGRATIONS.filter((m) => m.version <= 9)) step.up(db, T0);
    db.pragma('user_version = 9');
    db.exec(`INSERT INTO security_profiles (name, device_security_mode, tftp_encrypted_config, transport, digest_auth, updated_at)
             VALUES ('Lobby', 'non-secure', 0, 'udp', 1, '${T0}')`);
    db.close();
    const s = open(path);
    assert.equal(s.schemaVersion(), SCHEMA_VERSION);
    assert.ok(SCHEMA_VERSION >= 10);
    const lobby = s.getSecurityProfile('Lobby')!;
    assert.equal(lobby.transport, 'udp');
    assert.equal(lobby.nonceValiditySeconds, PROFILE_DEFAULTS.nonceValiditySeconds);
    assert.equal(lobby.capfAuthMode, 'password');
    assert.equal(s.getSecurityProfile(UNIVERSAL)!.nonceValiditySeconds, 300);
  });

  it('puts, keeps unnamed fields, and refuses out-of-range values', () => {
    const s = open(join(tempDir(), 'p.db'));
    const base = { deviceSecurityMode: 'non-secure', tftpEncryptedConfig: false, transport: 'tcp+udp', digestAuth: true } as const;
    const p = s.putSecurityProfile({ name: 'Short nonce', ...base, nonceValiditySeconds: 30, capfAuthMode: 'lsc' });
    assert.equal(p.nonceValiditySeconds, 30);
    assert.equal(p.capfAuthMode, 'lsc');
    const again = s.putSecurityProfile({ name: 'Short nonce', ...base, transport: 'tcp' });
    assert.equal(again.transport, 'tcp');
    assert.equal(again.nonceValiditySeconds, 30, 'an unnamed field keeps its value');
    assert.equal(again.capfAuthMode, 'lsc');
    for (const bad of [PROFILE_LIMITS.minNonceValiditySeconds - 1, PROFILE_LIMITS.maxNonceValiditySeconds + 1, 30.5]) {
      assert.throws(
        () => s.putSecurityProfile({ name: 'Short nonce', ...base, nonceValiditySeconds: bad }),
        (e: unknown) => e instanceof StoreError && e.code === 'ERR_PROFILE_INVALID',
      );
    }
    assert.throws(
      () => s.putSecurityProfile({ name: 'x', ...base, capfAuthMode: 'anything' as never }),
      (e: unknown) => e instanceof StoreError && e.code === 'ERR_PROFILE_INVALID',
    );
    assert.equal(s.getSecurityProfile('Short nonce')!.nonceValiditySeconds, 30, 'a refused put changed nothing');
  });

  it('the column refuses what the store refuses (CHECK)', () => {
    const path = join(tempDir(), 'c.db');
    open(path).close();
    const db = new Database(path);
    // better-sqlite3 names SQLite's extended result code (a CHECK, not some other failure).
    assert.throws(() => db.prepare('UPDATE security_profiles SET nonce_validity_seconds = 5').run(), { code: 'SQLITE_CONSTRAINT_CHECK' });
    assert.throws(() => db.prepare("UPDATE security_profiles SET capf_auth_mode = 'x'").run(), { code: 'SQLITE_CONSTRAINT_CHECK' });
    db.close();
  });
});
