/**
 * `utils ctl update CTLFile` (issue 18 item 5b): in mixed mode the console rebuilds the CTL from the current
 * certificates and signs it again (tokenless CTL: the publisher's CallManager key, spec §1.5), records it in the
 * audit log, and TFTP serves the newly signed file (checked by ../shared/tools/tlv-check.py with the CallManager
 * certificate as the given signer). Outside mixed mode it is refused and changes nothing. `sbd ctl update` is the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandTable } from '../../src/admin/command-table.js';
import { runShell } from '../../src/admin/shell.js';
import { trustCommands } from '../../src/admin/commands/trust.js';
import { initAppliance } from '../../src/cluster/init.js';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import { openStore } from '../../src/store/index.js';
import { storeApplianceSource } from '../../src/daemons/adapters/tftp-store.js';
import { TftpServer } from '../../src/tftp/server.js';
import { fetchFile } from '../../src/tftp/client.js';
import { sbdCli } from '../sim/helpers.js';

const tlvCheck = new URL('../../../shared/tools/tlv-check.py', import.meta.url).pathname;

async function consoleRun(state: string, lines: string[]): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.on('data', (d: Buffer) => (text += d.toString()));
  const done = runShell({ input, output, table: new CommandTable(trustCommands(state, systemClock)), terminal: false });
  for (const l of lines) input.write(l + '\n');
  input.end();
  await done;
  return text;
}

test('utils ctl update CTLFile: rebuilt, signed by CallManager, audited, served; refused in non-secure mode', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-ctl-update-'));
  const state = join(dir, 'state');
  initAppliance({ dir: state, hostname: 'sbd-test', ipv4: '127.0.0.1', clock: systemClock });
  const store = openStore(join(state, 'sbd.db'));
  const source = storeApplianceSource({ store, logger: silentLogger });
  const server = new TftpServer({ source, port: 0, addresses: ['127.0.0.1'], logger: silentLogger });
  await server.listen();
  try {
    const port = server.addresses()[0]!.port;
    const cm = join(dir, 'CallManager.pem');
    writeFileSync(cm, store.listCertificates({ name: 'CallManager' })[0]!.pem);

    let g = store.generation();
    let out = await consoleRun(state, ['utils ctl update CTLFile']);
    assert.match(out, /not in mixed mode: there is no CTL to update/);
    assert.equal(store.generation(), g, 'refused: nothing written');
    assert.equal(store.listAudit().filter((a) => a.detail === 'update CTLFile').length, 0);

    store.setParam('ClusterSecurityMode', 'mixed');
    g = store.generation();
    out = await consoleRun(state, ['utils ctl update CTLFile', 'n']);
    const m = /CTL signed by CallManager: (\d+) bytes, sha256 ([0-9a-f]{64})$/m.exec(out);
    assert.ok(m, out);
    assert.match(out, /Reset all phones now\?/);
    assert.ok(store.generation() > g, 'the update is a store write: TFTP rebuilds');
    const audit = store.listAudit().filter((a) => a.detail === 'update CTLFile');
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.result, 'success');

    const ctl = (await fetchFile({ server: '127.0.0.1', port, name: 'CTLFile.tlv' })).data;
    assert.equal(ctl.length, Number(m[1]));
    const file = join(dir, 'CTLFile.tlv');
    writeFileSync(file, ctl);
    assert.match(execFileSync('python3', [tlvCheck, file, '--signer', cm], { encoding: 'utf8' }), /signature valid \(signer: given\)/);

    // The CLI command does the same.
    const cli = await sbdCli(['ctl', 'update', 'CTLFile', '--state', state]);
    assert.equal(cli.code, 0, cli.out + cli.err);
    assert.match(cli.out, /^CTL signed by CallManager: \d+ bytes, sha256 [0-9a-f]{64}$/m);
    assert.equal(store.listAudit().filter((a) => a.detail === 'update CTLFile').length, 2);
    assert.match(await consoleRun(state, ['utils ctl update ITLFile']), /no file "ITLFile" to update: CTLFile/);
  } finally {
    await server.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
