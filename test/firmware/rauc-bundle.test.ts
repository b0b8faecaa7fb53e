/**
 * `make update-bundle`'s script with real RAUC and openssl: the bundle verifies with `rauc info --keyring` against
 * the firmware-signing CA only; one signed by another key, or altered after signing, is refused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeImage, makeKeys, removeTempDirs, tempDir, updateBundle } from './rauc-harness.js';

function info(bundle: string, keyring: string) {
  return spawnSync('rauc', [`--keyring=${keyring}`, 'info', '--output-format=json', bundle], { encoding: 'utf8' });
}

describe('update bundle (scripts/update-bundle.sh, RAUC 1.8)', () => {
  const keyDir = tempDir('fw-keys');
  const keys = makeKeys(keyDir);
  const image = makeImage('1.2.3+build.1');
  after(removeTempDirs);

  it('is signed by the development signing key under its CA, carries the version, the root image and the slot hook', () => {
    const bundle = join(tempDir('fw-out'), 'u.raucb');
    const r = updateBundle(image.imageDir, keyDir, bundle, 'verity');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /version 1\.2\.3\+build\.1, compatible sbd-x86_64, verity/);
    const i = info(bundle, keys.keyring);
    assert.equal(i.status, 0, i.stderr);
    const m = JSON.parse(i.stdout) as {
      compatible: string;
      version: string;
      hooks: string[];
      images: Record<string, { filename: string; hooks: string[] }>[];
    };
    assert.equal(m.compatible, 'sbd-x86_64');
    assert.equal(m.version, '1.2.3+build.1');
    assert.deepEqual(m.images[0]!.rootfs!.hooks, ['post-install']);
    assert.equal(m.images[0]!.rootfs!.filename, 'rootfs.img');
    // The signer is a code-signing leaf under the CA, not the CA itself.
    const leaf = spawnSync('openssl', ['x509', '-noout', '-ext', 'extendedKeyUsage', '-in', keys.cert], { encoding: 'utf8' });
    assert.match(leaf.stdout, /Code Signing/);
    const chain = spawnSync('openssl', ['verify', '-CAfile', keys.keyring, keys.cert], { encoding: 'utf8' });
    assert.equal(chain.status, 0, chain.stderr);
  });

  it('a bundle signed by another key is refused against the appliance keyring', () => {
    const otherDir = tempDir('fw-other-keys');
    makeKeys(otherDir);
    const bundle = join(tempDir('fw-out'), 'other.raucb');
    assert.equal(updateBundle(image.imageDir, otherDir, bundle, 'verity').status, 0);
    const i = info(bundle, keys.keyring);
    assert.notEqual(i.status, 0);
    assert.match(i.stderr, /signature verification failed|unable to get local issuer certificate/i);
  });

  it('a bundle altered after signing is refused (plain format: the signature covers the payload)', () => {
    const bundle = join(tempDir('fw-out'), 'plain.raucb');
    assert.equal(updateBundle(image.imageDir, keyDir, bundle, 'plain').status, 0);
    assert.equal(info(bundle, keys.keyring).status, 0);
    const bytes = readFileSync(bundle);
    bytes[100]! ^= 0x01; // inside the SquashFS payload
    writeFileSync(bundle, bytes);
    const i = info(bundle, keys.keyring);
    assert.notEqual(i.status, 0);
    assert.match(i.stderr, /signature verification failed|invalid|digest/i);
  });

  it('refuses to run without a built root slot image', () => {
    const r = updateBundle(tempDir('fw-empty'), keyDir, join(tempDir('fw-out'), 'x.raucb'), 'verity');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no root slot image/);
  });
});
