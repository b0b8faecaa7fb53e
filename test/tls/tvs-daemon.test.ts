/** `sbd daemon tvs --tls-engine native`: sbd-tvsd serves through the C TLS engine; a phone's question is answered. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { queryTvs } from '../../src/tvs/client.js';
import { startDaemon, tempDir } from '../tvs/helpers.js';
import { engineMissing } from './helpers.js';

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });

test('sbd daemon tvs --tls-engine native: the listening line names the engine, a verification succeeds, SIGTERM exits 0', {
  skip: engineMissing,
}, async (t) => {
  const state = path.join(tempDir(t), 'state');
  assert.equal(cli(['init', '--state', state, '--hostname', 'cucm-pub', '--ip', '127.0.0.1']).status, 0);
  const { openState } = await import('../../src/store/state.js');
  const s = openState(state, { readonly: true });
  const cm = s.store.currentCertificate('CallManager', 'cucm-pub')!.der;
  const tvs = s.store.currentCertificate('TVS', 'cucm-pub')!.der;
  s.store.close();
  const daemon = await startDaemon(t, ['daemon', 'tvs', '--state', state, '--bind', '127.0.0.1', '--port', '0', '--tls-engine', 'native']);
  const listening = daemon.lines.map((l) => JSON.parse(l) as { event: string; tls?: string }).find((l) => l.event === 'listening');
  assert.equal(listening?.tls, 'engine');
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

test('sbd daemon tvs --tls-engine with another word is a usage error', () => {
  const r = cli(['daemon', 'tvs', '--state', '/nonexistent', '--tls-engine', 'openssl']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--tls-engine must be node or native/);
});
