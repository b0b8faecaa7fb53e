import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startDaemon, tempDir } from './helpers.js';

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });

test('sbd daemon tvs + sbd tvs query (--state, --itl, --tvs-cert): valid exits 0, unknown exits 1, SIGTERM stops cleanly', async (t) => {
  const dir = tempDir(t);
  const state = path.join(dir, 'state');
  assert.equal(cli(['init', '--state', state, '--hostname', 'cucm-pub', '--ip', '127.0.0.1']).status, 0);
  const out = path.join(dir, 'tftp');
  fs.mkdirSync(out);
  assert.equal(cli(['itl', 'build', '--state', state, '--out', out]).status, 0);
  const daemon = await startDaemon(t, ['daemon', 'tvs', '--state', state, '--bind', '127.0.0.1', '--port', '0', '--ttl', '3600']);
  // The certificates to ask about, as PEM files from the store.
  const { openState } = await import('../../src/store/state.js');
  const s = openState(state, { readonly: true });
  const cmPem = s.store.currentCertificate('CallManager', 'cucm-pub')!.pem;
  const tvsPem = s.store.currentCertificate('TVS', 'cucm-pub')!.pem;
  s.store.close();
  fs.writeFileSync(path.join(dir, 'cm.pem'), cmPem);
  fs.writeFileSync(path.join(dir, 'tvs.pem'), tvsPem);
  const target = `127.0.0.1:${daemon.port}`;
  const q = (trust: string[], cert = 'cm.pem') =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'tvs',
        'query',
        target,
        path.join(dir, cert),
        '--device',
        'CP-8845-SEP001122334455',
        ...trust,
      ]);
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('exit', (status) => resolve({ status, stdout, stderr }));
    });
  for (const trust of [
    ['--state', state],
    ['--itl', path.join(out, 'ITLFile.tlv')],
    ['--tvs-cert', path.join(dir, 'tvs.pem')],
  ]) {
    const r = await q(trust);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'status: valid\nroles: CCM+TFTP (2), SAST (0)\nttl: 3600\n');
  }
  const self = await q(['--state', state], 'tvs.pem');
  assert.equal(self.stdout, 'status: valid\nroles: TVS (21)\nttl: 3600\n');
  // A certificate the cluster does not know: status invalid, exit 1.
  const { generateIdentity } = await import('../../src/pki/profiles.js');
  fs.writeFileSync(path.join(dir, 'rogue.pem'), generateIdentity({ name: 'tomcat', hostname: 'rogue', now: new Date() }).certPem);
  const rogue = await q(['--state', state], 'rogue.pem');
  assert.equal(rogue.status, 1);
  assert.equal(rogue.stdout, 'status: invalid\n');
  // No trust anchor given: a usage error, nothing sent.
  const none = await q([]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /give the TVS certificate to trust/);
  assert.ok(daemon.lines.some((l) => l.includes('"event":"verify"') && l.includes('"status":"invalid"')));
  assert.equal(await daemon.stop(), 0);
});
