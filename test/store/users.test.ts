import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StoreError } from '../../src/store/index.js';
import { open, tempDir } from './helpers.js';

const isCode = (code: string) => (e: unknown) => e instanceof StoreError && e.code === code;
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('users and credentials', () => {
  let now = Date.parse('2026-11-25T10:00:00.000Z');
  const s = open(join(tempDir(), 'users.db'), { clock: { now: () => now } });

  it('stores users with their hash algorithm; re-putting replaces credentials, keeps login state', () => {
    const u = s.putUser({ userid: 'alice', credentialHash: 'legacyhash', algorithm: 'sha1' });
    assert.deepEqual([u.kind, u.failedAttempts, u.lockedUntil, u.lastLogin, u.pinHash], ['end', 0, null, null, null]);
    s.putUser({ userid: 'admin', credentialHash: '$scrypt$…', algorithm: 'scrypt', params: 'N=16384,r=8,p=1', kind: 'admin' });
    s.recordLoginResult('alice', true);
    now += 1000;
    const re = s.putUser({
      userid: 'alice',
      credentialHash: 'newhash',
      algorithm: 'scrypt',
      params: 'N=16384',
      pinHash: 'pinh',
      pinAlgorithm: 'scrypt',
    });
    assert.deepEqual(
      [re.credentialHash, re.algorithm, re.pinAlgorithm, re.lastLogin],
      ['newhash', 'scrypt', 'scrypt', '2026-11-25T10:00:00.000Z'],
    );
    assert.equal(re.id, u.id);
    assert.deepEqual(
      s.listUsers().map((x) => `${x.userid}:${x.kind}:${x.algorithm}`),
      ['admin:admin:scrypt', 'alice:end:scrypt'],
    );
  });

  it('refuses bad user input', () => {
    const cases: Record<string, unknown>[] = [
      { userid: '', credentialHash: 'h', algorithm: 'scrypt' },
      { userid: 'bob\n', credentialHash: 'h', algorithm: 'scrypt' },
      { userid: 'bob', credentialHash: '', algorithm: 'scrypt' },
      { userid: 'bob', credentialHash: 'h', algorithm: 'scr ypt' },
      { userid: 'bob', credentialHash: 'h', algorithm: 'scrypt', kind: 'root' },
      { userid: 'bob', credentialHash: 'h', algorithm: 'scrypt', pinHash: 'p' },
      { userid: 'x'.repeat(129), credentialHash: 'h', algorithm: 'scrypt' },
    ];
    for (const c of cases) assert.throws(() => s.putUser(c as never), isCode('ERR_USER_INVALID'), JSON.stringify(c));
    assert.equal(s.getUser('bob'), undefined);
    assert.throws(() => s.recordLoginResult('bob', true), isCode('ERR_USER_UNKNOWN'));
  });

  it('locks an account after CredentialLockoutThreshold failures for CredentialLockoutMinutes', () => {
    s.setParam('CredentialLockoutThreshold', '3');
    s.setParam('CredentialLockoutMinutes', '10');
    s.recordLoginResult('alice', false);
    assert.equal(s.recordLoginResult('alice', false).lockedUntil, null);
    const locked = s.recordLoginResult('alice', false);
    assert.equal(locked.failedAttempts, 3);
    assert.equal(locked.lockedUntil, new Date(now + 10 * 60_000).toISOString());
    assert.equal(s.isUserLocked('alice'), true);
    now += 10 * 60_000 + 1;
    assert.equal(s.isUserLocked('alice'), false);
    const ok = s.recordLoginResult('alice', true);
    assert.deepEqual([ok.failedAttempts, ok.lockedUntil, ok.lastLogin], [0, null, new Date(now).toISOString()]);
    s.setParam('CredentialLockoutThreshold', '0');
    for (let i = 0; i < 5; i++) s.recordLoginResult('alice', false);
    assert.equal(s.isUserLocked('alice'), false);
    s.setParam('CredentialLockoutThreshold', '5');
    s.recordLoginResult('alice', false);
    assert.equal(s.isUserLocked('alice'), true);
    s.unlockUser('alice');
    assert.equal(s.isUserLocked('alice'), false);
    assert.equal(s.getUser('alice')!.failedAttempts, 0);
  });

  it('keeps SIP digest HA1 per realm (MD5 and SHA-256), removed with the user', () => {
    s.putUser({ userid: 'phone1001', credentialHash: 'h', algorithm: 'scrypt' });
    const ha1 = 'phone1001:ccmsipline:secret';
    s.putDigestCredential('phone1001', 'ccmsipline', md5(ha1), sha256(ha1));
    s.putDigestCredential('phone1001', 'other', md5('x').toUpperCase(), null);
    assert.deepEqual(s.getDigestCredential('phone1001', 'ccmsipline'), {
      userid: 'phone1001',
      realm: 'ccmsipline',
      ha1Md5: md5(ha1),
      ha1Sha256: sha256(ha1),
      passwordEnc: null,
      updatedAt: new Date(now).toISOString(),
    });
    // The encrypted password for delivery (schema 7) is kept with its HA1 and cleared by a new HA1 without one.
    const blob = Buffer.alloc(40, 7);
    s.putDigestCredential('phone1001', 'ccmsipline', md5(ha1), sha256(ha1), blob);
    assert.deepEqual(s.getDigestCredential('phone1001', 'ccmsipline')!.passwordEnc, blob);
    assert.deepEqual(s.listDigestCredentials().find((c) => c.realm === 'ccmsipline')!.passwordEnc, blob);
    s.putDigestCredential('phone1001', 'ccmsipline', md5(ha1), sha256(ha1));
    assert.equal(s.getDigestCredential('phone1001', 'ccmsipline')!.passwordEnc, null, 'a new HA1 without a password drops the stale one');
    assert.throws(() => s.putDigestCredential('phone1001', 'ccmsipline', md5(ha1), null, Buffer.alloc(29)), isCode('ERR_USER_INVALID'));
    assert.throws(() => s.putDigestCredential('phone1001', 'ccmsipline', md5(ha1), null, Buffer.alloc(158)), isCode('ERR_USER_INVALID'));
    assert.equal(s.getDigestCredential('phone1001', 'other')!.ha1Md5, md5('x'));
    assert.throws(() => s.putDigestCredential('phone1001', 'r', 'abc', null), isCode('ERR_USER_INVALID'));
    assert.throws(() => s.putDigestCredential('phone1001', 'r', md5('x'), md5('x')), isCode('ERR_USER_INVALID'));
    assert.throws(() => s.putDigestCredential('nobody', 'r', md5('x'), null), isCode('ERR_USER_UNKNOWN'));
    assert.equal(s.listDigestCredentials().length, 2);
    s.removeUser('phone1001');
    assert.deepEqual(s.listDigestCredentials(), []);
  });
});

describe('ITL hashes and the audit log', () => {
  const s = open(join(tempDir(), 'itl.db'));

  it('upserts the ITL hash per TFTP server and file', () => {
    s.recordServerItlHash('cucm1.example', 'ITLFile.tlv', 'AA'.repeat(32), '2026-11-25T10:00:00Z');
    s.recordServerItlHash('cucm1.example', 'ITLFile.tlv', 'bb'.repeat(32), '2026-11-25T11:00:00.5Z');
    s.recordServerItlHash('cucm2.example', 'ITLFile.tlv', 'bb'.repeat(32), '2026-11-25T11:00:00Z');
    assert.deepEqual(s.listServerItlHashes(), [
      { server: 'cucm1.example', file: 'ITLFile.tlv', sha256Hex: 'bb'.repeat(32), at: '2026-11-25T11:00:00.500Z' },
      { server: 'cucm2.example', file: 'ITLFile.tlv', sha256Hex: 'bb'.repeat(32), at: '2026-11-25T11:00:00.000Z' },
    ]);
    assert.throws(() => s.recordServerItlHash('cucm1', 'ITLFile.tlv', 'ab', '2026-11-25T10:00:00Z'), isCode('ERR_ITL_HASH_INVALID'));
    assert.throws(() => s.recordServerItlHash('cucm1', 'ITLFile.tlv', 'ab'.repeat(32), 'yesterday'), isCode('ERR_ITL_HASH_INVALID'));
    assert.throws(
      () => s.recordServerItlHash('cucm1', 'ITLFile.tlv', 'ab'.repeat(32), '2026-11-25T10:00:00+01:00'),
      isCode('ERR_ITL_HASH_INVALID'),
    );
    assert.throws(() => s.recordServerItlHash('', 'ITLFile.tlv', 'ab'.repeat(32), '2026-11-25T10:00:00Z'), isCode('ERR_ITL_HASH_INVALID'));
  });

  it('upserts the hash each phone reports; unknown phones are refused', () => {
    s.addDevice({ name: 'SEP001122334455', model: '8845' });
    s.recordDeviceItlHash('sep001122334455', 'bb'.repeat(32), '2026-11-25T12:00:00Z');
    s.recordDeviceItlHash('SEP001122334455', 'cc'.repeat(32), '2026-11-25T12:05:00Z', 'MisMatch');
    assert.deepEqual(s.getDeviceItlHash('SEP001122334455'), {
      device: 'SEP001122334455',
      sha256Hex: 'cc'.repeat(32),
      at: '2026-11-25T12:05:00.000Z',
      status: 'MisMatch',
    });
    assert.throws(() => s.recordDeviceItlHash('SEP0011223344FF', 'bb'.repeat(32), '2026-11-25T12:00:00Z'), isCode('ERR_DEVICE_UNKNOWN'));
    assert.throws(() => s.recordDeviceItlHash('phone', 'bb'.repeat(32), '2026-11-25T12:00:00Z'), isCode('ERR_DEVICE_INVALID'));
    assert.equal(s.listDeviceItlHashes().length, 1);
  });

  it('appends audit entries and lists them newest first', () => {
    s.appendAudit({ at: '2026-11-25T12:00:00Z', user: 'admin', action: 'set cert regen CallManager', result: 'success' });
    s.appendAudit({ user: 'admin', action: 'utils itl reset localkey', detail: 'node pub\nreason: lost trust', result: 'failure' });
    const [last, first] = s.listAudit();
    assert.equal(first!.action, 'set cert regen CallManager');
    assert.equal(first!.at, '2026-11-25T12:00:00.000Z');
    assert.equal(last!.detail, 'node pub\nreason: lost trust');
    assert.equal(s.listAudit({ limit: 1 }).length, 1);
    assert.throws(() => s.listAudit({ limit: 0 }), isCode('ERR_AUDIT_INVALID'));
    assert.throws(() => s.appendAudit({ user: '', action: 'x', result: 'ok' }), isCode('ERR_AUDIT_INVALID'));
    assert.throws(() => s.appendAudit({ user: 'a', action: 'x', result: 'ok', detail: 'x'.repeat(5000) }), isCode('ERR_AUDIT_INVALID'));
  });
});
