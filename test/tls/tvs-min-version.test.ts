/**
 * TLSMinVersion (issue 18 item 9) with TVS on the C TLS engine, as test/lib/tls-min-version.test.ts checks it on
 * node:tls: a TLS 1.0 client offering only AES128-SHA is refused at the default, accepted after the parameter goes
 * to 1.0 and the store reload, refused again at 1.2; TLS 1.2 clients keep the ECDHE-GCM suite first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TvsServer } from '../../src/tvs/server.js';
import { captureLogger, sClient, tempState } from '../tvs/helpers.js';
import { engineMissing } from './helpers.js';

const tls10 = (port: number) =>
  sClient(['-connect', `127.0.0.1:${port}`, '-noservername', '-tls1', '-cipher', 'AES128-SHA:@SECLEVEL=0'], Buffer.alloc(0));
const tls12 = (port: number) => sClient(['-connect', `127.0.0.1:${port}`, '-noservername', '-tls1_2'], Buffer.alloc(0));
const accepted = (r: { stdout: Buffer }) => /Protocol\s*: TLSv1\n\s*Cipher\s*: AES128-SHA\n/.test(r.stdout.toString('latin1'));

test('TVS on the engine: TLS 1.0 refused at the default, accepted at TLSMinVersion 1.0 after reload, refused again at 1.2', {
  skip: engineMissing,
}, async (t) => {
  const state = tempState(t);
  const { logger } = captureLogger('tvsd');
  const server = new TvsServer({ store: state.store, host: '127.0.0.1', port: 0, logger, reloadIntervalMs: 0, tlsEngine: 'native' });
  const { port } = await server.listen();
  t.after(() => server.close());
  assert.equal(server.tlsPath, 'engine');
  assert.equal(accepted(await tls10(port)), false);
  state.store.setParam('TLSMinVersion', '1.0');
  assert.equal(server.reload(), true);
  const old = await tls10(port);
  assert.ok(accepted(old), old.stdout.toString() + old.stderr);
  assert.match((await tls12(port)).stdout.toString(), /New, TLSv1\.2, Cipher is ECDHE-RSA-AES256-GCM-SHA384/);
  state.store.setParam('TLSMinVersion', '1.2');
  assert.equal(server.reload(), true);
  assert.equal(accepted(await tls10(port)), false);
});
