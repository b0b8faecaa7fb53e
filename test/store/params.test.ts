import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PARAMS, StoreError } from '../../src/store/index.js';
import { open, tempDir } from './helpers.js';

const isCode = (code: string) => (e: unknown) => e instanceof StoreError && e.code === code;

describe('enterprise parameters', () => {
  const s = open(join(tempDir(), 'params.db'));

  it('returns the documented defaults when nothing is set', () => {
    assert.equal(s.getParam('ClusterSecurityMode'), 'non-secure');
    assert.equal(s.getBoolParam('PrepareClusterForRollback'), false);
    assert.equal(s.getParam('TLSCiphers'), 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256');
    assert.equal(s.getParam('SRTPCiphers'), 'AEAD_AES_256_GCM,AEAD_AES_128_GCM,AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32');
    assert.equal(s.getBoolParam('BlockUnencryptedCalls'), false);
    assert.equal(s.getIntParam('ITLRecoveryValidityYears'), 20);
    assert.equal(s.getIntParam('KeySize'), 2048);
    assert.equal(s.getParam('SipStationRealm'), 'ccmsipline');
    assert.equal(s.getBoolParam('AutoRegistration'), false);
    assert.equal(s.getParam('AutoRegistrationDnRange'), '1000-1999');
    assert.equal(s.getParam('ItlResetSigner'), 'ITLRecovery');
    assert.equal(s.getIntParam('CredentialLockoutThreshold'), 5);
    assert.equal(s.getParam('SignatureHash'), 'sha1');
    assert.ok(s.listParams().every((p) => p.isDefault && p.value === p.default && p.description.length > 10));
    assert.deepEqual(
      s.listParams().map((p) => p.name),
      PARAMS.map((p) => p.name),
    );
  });

  it('stores valid values in normalised form', () => {
    const cases: [string, string, string][] = [
      ['PrepareClusterForRollback', 'True', 'true'],
      ['BlockUnencryptedCalls', ' 1 ', 'true'],
      ['AutoRegistration', 'FALSE', 'false'],
      ['ClusterSecurityMode', 'mixed', 'mixed'],
      ['ITLRecoveryValidityYears', '5', '5'],
      ['KeySize', '04096', '4096'],
      ['CredentialLockoutThreshold', '0', '0'],
      ['SRTPCiphers', 'AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80,AEAD_AES_128_GCM'],
      ['TLSCiphers', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'],
      ['AutoRegistrationDnRange', '20000-29999', '20000-29999'],
      ['SipStationRealm', 'sbd.example', 'sbd.example'],
      ['ItlResetSigner', 'CallManager', 'CallManager'],
      ['SignatureHash', 'sha512', 'sha512'],
    ];
    for (const [name, value, stored] of cases) {
      s.setParam(name, value);
      assert.equal(s.getParam(name), stored, name);
    }
    assert.equal(s.getBoolParam('PrepareClusterForRollback'), true);
    assert.equal(s.getIntParam('KeySize'), 4096);
    const row = s.listParams().find((p) => p.name === 'KeySize')!;
    assert.deepEqual([row.value, row.default, row.isDefault], ['4096', '2048', false]);
    s.resetParam('KeySize');
    assert.equal(s.getIntParam('KeySize'), 2048);
  });

  it('refuses invalid values with ERR_PARAM_INVALID and keeps the old value', () => {
    s.setParam('ClusterSecurityMode', 'mixed');
    const g = s.generation();
    const cases: [string, string][] = [
      ['ClusterSecurityMode', 'secure'],
      ['PrepareClusterForRollback', 'maybe'],
      ['ITLRecoveryValidityYears', '7'],
      ['KeySize', '1024'],
      ['KeySize', '2048.0'],
      ['CredentialLockoutThreshold', '-1'],
      ['CredentialLockoutThreshold', '101'],
      ['SRTPCiphers', 'AES_CM_128_HMAC_SHA1_80,NULL_CIPHER'],
      ['SRTPCiphers', 'AEAD_AES_128_GCM,AEAD_AES_128_GCM'],
      ['SRTPCiphers', ''],
      // Syntactically fine but OpenSSL selects no cipher from it.
      ['TLSCiphers', 'NO-SUCH-CIPHER'],
      ['TLSCiphers', 'ECDHE RSA'],
      ['AutoRegistrationDnRange', '2000-1000'],
      ['AutoRegistrationDnRange', '100-1999'],
      ['SipStationRealm', 'has space'],
      ['SignatureHash', 'md5'],
      ['SipStationRealm', 'x'.repeat(2000)],
    ];
    for (const [name, value] of cases) {
      assert.throws(() => s.setParam(name, value), isCode('ERR_PARAM_INVALID'), `${name}=${value}`);
    }
    assert.throws(() => s.setParam('KeySize', 4096 as unknown as string), isCode('ERR_PARAM_INVALID'));
    assert.equal(s.getParam('ClusterSecurityMode'), 'mixed');
    assert.equal(s.generation(), g);
  });

  it('refuses unknown names with ERR_PARAM_UNKNOWN and type mismatches with ERR_PARAM_INVALID', () => {
    assert.throws(() => s.getParam('ClusterSecuritymode'), isCode('ERR_PARAM_UNKNOWN'));
    assert.throws(() => s.setParam('NoSuchParam', '1'), isCode('ERR_PARAM_UNKNOWN'));
    assert.throws(() => s.resetParam('NoSuchParam'), isCode('ERR_PARAM_UNKNOWN'));
    assert.throws(() => s.getBoolParam('KeySize'), isCode('ERR_PARAM_INVALID'));
    assert.throws(() => s.getIntParam('ClusterSecurityMode'), isCode('ERR_PARAM_INVALID'));
  });
});
