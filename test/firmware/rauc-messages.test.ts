/**
 * What the console says when RAUC refuses an install (src/firmware/rauc.ts raucFailure, installRefusal). The
 * reason is RAUC 1.8's own words, as the A/B image printed them for a verity bundle with one byte flipped inside its
 * root image (test/image/rauc-update.test.ts): the signature held, dm-verity refused the block when RAUC read it;
 * the lines around it have the shape of its CLI output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installRefusal, raucFailure } from '../../src/firmware/rauc.js';

const altered = [
  'installing',
  '  0% Installing',
  ' 40% Copying image to rootfs.1',
  'LastError: Installation error: Failed updating slot rootfs.1: Failed splicing data: Error reading from file: Input/output error',
  'idle',
  'Installing `/var/lib/sbd/firmware/bundle.raucb` failed',
].join('\n');

test('an altered verity bundle: RAUC reason kept, the cause said plainly', () => {
  assert.equal(
    raucFailure(altered),
    'Installation error: Failed updating slot rootfs.1: Failed splicing data: Error reading from file: Input/output error',
  );
  assert.equal(
    installRefusal(altered),
    'the bundle is damaged or was altered after it was signed (its image failed the dm-verity check): ' +
      'Installation error: Failed updating slot rootfs.1: Failed splicing data: Error reading from file: Input/output error',
  );
});

test('a slot that cannot be written is not blamed on the bundle', () => {
  const out =
    'LastError: Installation error: Failed updating slot rootfs.1: Failed splicing data: Error writing to file: No space left on device\nidle\n';
  assert.equal(
    installRefusal(out),
    'Installation error: Failed updating slot rootfs.1: Failed splicing data: Error writing to file: No space left on device',
  );
});

test('a refused signature passes through as RAUC said it', () => {
  const out = 'LastError: signature verification failed: Verify error:unable to get local issuer certificate\nidle\n';
  assert.equal(installRefusal(out), 'signature verification failed: Verify error:unable to get local issuer certificate');
});

test('no LastError: the last line that is not progress', () => {
  assert.equal(raucFailure('installing\n 20% Checking bundle\nsomething broke\nidle\n'), 'something broke');
  assert.equal(raucFailure(''), 'no output');
});
