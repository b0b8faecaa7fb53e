/**
 * `--ktls` / `--no-ktls` on sbd-tvsd, sbd-capfd and sbd-sipd: only on the engine (the default where built; a usage
 * error with `--tls-engine node`); neither: off (docs/tls.md "Kernel TLS in the image": why). Where the kernel has no TLS ULP (this build host: no /proc/net/tls_stat) OpenSSL keeps the
 * record layer and the engine serves as without the flag; the image test (test/image/ktls.test.ts) covers the kernel's side.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ktlsChoice } from '../../src/cli/ktls.js';
import { kernelTlsAvailable } from '../../src/tls/engine-library.js';
import { queryTvs } from '../../src/tvs/client.js';
import { startDaemon, tempDir } from '../tvs/helpers.js';
import { engineMissing } from './helpers.js';

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });

for (const daemon of ['tvs', 'capf', 'sip']) {
  test(`sbd daemon ${daemon} --ktls with --tls-engine node is a usage error; alone it takes the default engine`, () => {
    const r = cli(['daemon', daemon, '--state', '/nonexistent', '--tls-engine', 'node', '--ktls']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--ktls needs --tls-engine native/);
    // The engine is the default where it is built (issue 20): then `--ktls` alone is no usage error (the missing
    // state folder fails instead); without the engine the default is node:tls and it is.
    const alone = cli(['daemon', daemon, '--state', '/nonexistent', '--ktls']);
    if (engineMissing) assert.match(alone.stderr, /--ktls needs --tls-engine native/);
    else assert.doesNotMatch(alone.stderr, /--ktls needs/);
  });
}

for (const daemon of ['tvs', 'capf', 'sip']) {
  test(`sbd daemon ${daemon} --ktls --no-ktls is a usage error; --no-ktls with node:tls is none`, () => {
    const both = cli(['daemon', daemon, '--state', '/nonexistent', '--ktls', '--no-ktls']);
    assert.equal(both.status, 2, both.stderr);
    assert.match(both.stderr, /--ktls and --no-ktls exclude each other/);
    const off = cli(['daemon', daemon, '--state', '/nonexistent', '--tls-engine', 'node', '--no-ktls']);
    assert.doesNotMatch(off.stderr, /ktls/);
  });
}

test('kTLS only when asked (--ktls, on the engine), also where the kernel has the ULP; the ULP seen in /proc/net/tls_stat', (t) => {
  const dir = tempDir(t);
  assert.equal(kernelTlsAvailable(path.join(dir, 'tls_stat')), false);
  assert.equal(kernelTlsAvailable(dir), true);
  assert.equal(ktlsChoice({}, 'native'), false);
  assert.equal(ktlsChoice({}, 'node'), false);
  assert.equal(ktlsChoice({ ktls: true }, 'native'), true);
  assert.equal(ktlsChoice({ 'no-ktls': true }, 'native'), false);
  assert.throws(() => ktlsChoice({ ktls: true }, 'node'), /--ktls needs --tls-engine native/);
  assert.throws(() => ktlsChoice({ ktls: true, 'no-ktls': true }, 'native'), /exclude each other/);
});

test('sbd daemon tvs --tls-engine native --ktls without the kernel TLS ULP: the engine keeps the record layer and answers', {
  skip: engineMissing || (existsSync('/proc/net/tls_stat') ? 'this kernel has kTLS: test/image/ktls.test.ts covers it' : false),
}, async (t) => {
  const state = path.join(tempDir(t), 'state');
  assert.equal(cli(['init', '--state', state, '--hostname', 'cucm-pub', '--ip', '127.0.0.1']).status, 0);
  const { openState } = await import('../../src/store/state.js');
  const s = openState(state, { readonly: true });
  const cm = s.store.currentCertificate('CallManager', 'cucm-pub')!.der;
  const tvs = s.store.currentCertificate('TVS', 'cucm-pub')!.der;
  s.store.close();
  const args = ['daemon', 'tvs', '--state', state, '--bind', '127.0.0.1', '--port', '0', '--tls-engine', 'native', '--ktls'];
  const daemon = await startDaemon(t, args);
  const a = await queryTvs({
    host: '127.0.0.1',
    port: daemon.port,
    deviceName: 'CP-8845-SEP001122334455',
    certDer: cm,
    trustedServerCerts: [tvs],
  });
  assert.equal(a.status, 'valid');
  assert.equal(await daemon.stop(), 0);
});
