/**
 * Trust-store import and removal for application servers (issue 18 item 7), end to end: a real TVS server on
 * loopback over the appliance store and the TVS client a phone uses. A certificate imported into tomcat-trust on
 * the admin console (through the real shell) is vouched for with role APP-SERVER, one in phone-sast-trust with
 * SAST; after `set cert delete trust` TVS answers invalid for it — with the server running throughout (it reads
 * the store again when the store's generation moves). The CLI's `sbd cert trust` does the same through the same
 * functions and is run once as a process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { CommandTable } from '../../src/admin/command-table.js';
import { runShell } from '../../src/admin/shell.js';
import { trustStoreCommands } from '../../src/admin/commands/trust-store.js';
import { listAuditEntries } from '../../src/cluster/audit.js';
import { systemClock } from '../../src/lib/clock.js';
import { generateIdentity } from '../../src/pki/profiles.js';
import { Role } from '../../src/trust/tags.js';
import { buildItl } from '../../src/trust/cluster-lists.js';
import { queryTvs, tvsCertificatesFromTrustList } from '../../src/tvs/client.js';
import { TvsServer } from '../../src/tvs/server.js';
import { captureLogger, tempDir, tempState } from './helpers.js';

const device = 'CP-8845-SEP001122334455';

/** Types each line once the shell waits for one (prompt or "(yes/no) "). */
async function consoleRun(state: string, lines: string[]): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  const queue = [...lines];
  output.on('data', (d: Buffer) => {
    text += d.toString();
    if (/(admin: |\(yes\/no\) )$/.test(text)) {
      const next = queue.shift();
      if (next === undefined) input.end();
      else input.write(`${next}\n`);
    }
  });
  await runShell({ input, output, table: new CommandTable(trustStoreCommands(state)), terminal: false });
  return text.replaceAll('admin: ', '');
}

function pemFile(dir: string, name: string, hostname: string): { path: string; der: Buffer } {
  const id = generateIdentity({ name: 'tomcat', hostname, now: new Date() });
  const path = join(dir, `${name}.pem`);
  writeFileSync(path, new X509Certificate(id.certDer).toString());
  return { path, der: id.certDer };
}

test('tomcat-trust / phone-sast-trust: imported on the console → TVS vouches (role); removed → TVS no longer does', async (t) => {
  const state = tempState(t);
  const files = tempDir(t, 'sbd-trust-pem-');
  const { logger } = captureLogger('tvsd');
  const server = new TvsServer({ store: state.store, host: '127.0.0.1', port: 0, logger, reloadIntervalMs: 0 });
  const { port } = await server.listen();
  t.after(() => server.close());
  const trusted = tvsCertificatesFromTrustList(buildItl(state.store, systemClock));
  const ask = (der: Buffer) => queryTvs({ host: '127.0.0.1', port, deviceName: device, certDer: der, trustedServerCerts: trusted });

  const app = pemFile(files, 'app', 'apps.example.test');
  const signer = pemFile(files, 'signer', 'sast.example.test');
  assert.equal((await ask(app.der)).status, 'invalid', 'not vouched for before the import');

  let out = await consoleRun(state.dir, [
    `set cert import trust tomcat-trust ${app.path}`,
    `set cert import trust phone-sast-trust ${signer.path}`,
    'show cert list trust',
    `set cert import trust CAPF-trust ${app.path}`,
  ]);
  assert.match(out, /imported into tomcat-trust \(TVS vouches: APP-SERVER/);
  assert.match(out, /error: no trust store "CAPF-trust"/);
  let a = await ask(app.der);
  assert.deepEqual({ status: a.status, roles: a.roles }, { status: 'valid', roles: [Role.APP_SERVER] });
  a = await ask(signer.der);
  assert.deepEqual({ status: a.status, roles: a.roles }, { status: 'valid', roles: [Role.SAST] });

  const row = state.store.listCertificates().find((c) => c.name === 'tomcat-trust')!;
  assert.match(out, new RegExp(`^\\s*${row.id}  tomcat-trust\\s+${row.sha256Hex.slice(0, 16)}`, 'm'));

  // Asked first: "no" keeps it (still vouched for); "yes" removes it, by SHA-256 prefix.
  out = await consoleRun(state.dir, [
    `set cert delete trust tomcat-trust ${row.sha256Hex.slice(0, 12)}`,
    'no',
    `set cert delete trust phone-sast-trust ${row.sha256Hex.slice(0, 12)}`,
    'yes',
  ]);
  assert.match(out, /cancelled/);
  assert.match(out, /error: no certificate [0-9a-f]{12} in phone-sast-trust/, 'a certificate of another store is not removed');
  assert.equal((await ask(app.der)).status, 'valid');

  out = await consoleRun(state.dir, [`set cert delete trust tomcat-trust ${row.sha256Hex.slice(0, 12)}`, 'yes', 'show cert list trust']);
  assert.match(out, /removed from tomcat-trust/);
  assert.deepEqual((await ask(app.der)).status, 'invalid', 'TVS stops vouching once the import is removed');
  assert.equal((await ask(signer.der)).status, 'valid', 'the other import stays');

  // The CLI front end: the same removal for phone-sast-trust, by id.
  const sast = state.store.listCertificates().find((c) => c.name === 'phone-sast-trust')!;
  const main = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', main, 'cert', 'trust', 'remove', 'phone-sast-trust', String(sast.id), '--state', state.dir],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^removed /);
  assert.equal((await ask(signer.der)).status, 'invalid');

  const actions = listAuditEntries(state.store).map((e) => `${e.action} ${e.result}`);
  assert.equal(actions.filter((x) => x === 'trust-import success').length, 2, actions.join('; '));
  assert.equal(actions.filter((x) => x === 'trust-remove success').length, 2, actions.join('; '));
});
