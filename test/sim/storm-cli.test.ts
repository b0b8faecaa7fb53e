/**
 * `sbd phone boot` as a child process against sbd-tftpd on loopback (decisions printed, exit code), and a small
 * storm of phones in one process sharing one client pool.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { regenerateCertificate } from '../../src/cluster/certs.js';
import { systemClock } from '../../src/lib/clock.js';
import { macsFrom, runStorm } from '../../src/sim/storm.js';
import { startAppliance, tempDir } from './helpers.js';

const root = new URL('../../', import.meta.url).pathname;

function sbd(args: string[]): Promise<{ code: number; out: string; err: string }> {
  // Asynchronous on purpose: the server under test runs in this process's event loop.
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: root, timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out: stdout, err: stderr });
      },
    );
  });
}

test('sbd phone boot prints the decisions; a second boot after ITLRecovery regeneration says why the ITL was rejected', async () => {
  const app = await startAppliance();
  app.state.store.addDevice({ name: 'SEP001122334455', model: '8845' });
  const phones = tempDir();
  const args = [
    'phone',
    'boot',
    '--server',
    `127.0.0.1:${app.port}`,
    '--mac',
    '00:11:22:33:44:55',
    '--state',
    phones,
    '--timeout-ms',
    '2000',
  ];

  const first = await sbd(args);
  assert.equal(first.code, 0, first.out + first.err);
  assert.match(first.out, /ITL trusted \(first use\)/);
  assert.match(first.out, /config signature valid/);
  assert.match(first.out, /booted with a trusted config: SEP001122334455\.cnf\.xml\.sgn/);
  const dir = join(phones, 'SEP001122334455');
  assert.ok(existsSync(join(dir, 'ITLFile.tlv')) && existsSync(join(dir, 'config.xml')));
  assert.equal(JSON.parse(readFileSync(join(dir, 'decisions.json'), 'utf8')).length, 3);

  regenerateCertificate(app.state, 'ITLRecovery', systemClock);
  const second = await sbd(args);
  assert.equal(second.code, 0, 'the config is still signed by the CallManager the phone knows');
  assert.match(second.out, /rejected ITL: signer not trusted \(ITLRECOVERY_.*not a SAST the phone knows, and no TVS to ask\)/);

  const bad = await sbd(['phone', 'boot', '--server', 'localhost:69', '--mac', '0011', '--state', phones]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /not HOST:PORT with an IP address/);
  const usage = await sbd(['phone', 'boot', '--mac', '001122334455', '--state', phones]);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--server/);
});

test('a storm of phones shares one client pool; the second storm finds every ITL unchanged', async () => {
  const app = await startAppliance();
  const names = macsFrom('00AA00000000', 120);
  for (const name of names.slice(0, 60)) app.state.store.addDevice({ name, model: '8845' });
  const phones = tempDir();
  const first = await runStorm({
    server: { host: '127.0.0.1', port: app.port },
    stateDir: phones,
    count: 120,
    concurrency: 40,
    sockets: 16,
    fetch: { timeoutMs: 2000 },
  });
  assert.equal(first.booted, 120, JSON.stringify(first, null, 1));
  assert.equal(first.verdicts['ITL trusted'], 120);
  assert.equal(first.verdicts['config accepted'], 120);
  assert.equal(first.files, 120 * 2, 'ITL and config per phone (no CTL outside mixed mode)');
  assert.equal(first.notFound, 120 * 2 + 60 * 2, 'CTLSEP and CTLFile per phone, ITLSEP and SEP….cnf.xml.sgn for the unknown ones');
  assert.equal(first.transferFailures, 0);

  regenerateCertificate(app.state, 'CallManager', systemClock);
  const second = await runStorm({
    server: { host: '127.0.0.1', port: app.port },
    stateDir: phones,
    count: 120,
    concurrency: 120,
    sockets: 16,
    fetch: { timeoutMs: 2000 },
  });
  assert.equal(second.booted, 120, JSON.stringify(second, null, 1));
  assert.equal(second.verdicts['ITL accepted'], 120, 'new ITL signed by the ITLRecovery every phone knows');
});
