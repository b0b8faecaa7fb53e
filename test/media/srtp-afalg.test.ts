/**
 * The AF_ALG (kernel crypto API) backend gives the same bytes as the OpenSSL backend for every suite. The build
 * host's kernel has no AF_ALG, so here the test is skipped with that reason; inside the booted image it runs as
 * `sbd srtp selftest --backend af_alg` (see docs/media.md) and here whenever the kernel offers AF_ALG.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrtpContext, checkBackend } from '../../src/media/srtp/index.js';

const available = SrtpContext.backendAvailable('af_alg');
const skip = available
  ? false
  : 'this kernel has no AF_ALG (socket(AF_ALG) fails); runs inside the booted image: sbd srtp selftest --backend af_alg';

test('AF_ALG backend: identical bytes to OpenSSL for every suite, SRTP and SRTCP', { skip }, () => {
  const results = checkBackend('af_alg');
  for (const r of results) assert.ok(r.ok, `${r.suite}: ${r.detail}`);
});

test('AF_ALG backend unavailable: creating a context is a typed error, not a crash', {
  skip: available ? 'AF_ALG is available here' : false,
}, () => {
  assert.throws(
    () => new SrtpContext({ suite: 'AEAD_AES_128_GCM', masterKey: Buffer.alloc(16), masterSalt: Buffer.alloc(12), backend: 'af_alg' }),
    (e: unknown) => (e as { code?: string }).code === 'ERR_SRTP_BACKEND_UNAVAILABLE',
  );
});

test('the cross-backend check itself passes on the OpenSSL backend (the harness the image runs)', () => {
  const results = checkBackend('openssl');
  assert.equal(results.length, 10);
  for (const r of results) assert.ok(r.ok, `${r.suite}: ${r.detail}`);
});
