/**
 * `show itl` / `show ctl` print the MD5, SHA-1 and SHA-256 of exactly the bytes TFTP serves (issue 18 item 4):
 * a real TFTP server on loopback over the appliance source, the files fetched with the TFTP client, their
 * checksums compared with what the console prints. Nothing is signed to display: the store's generation (and the
 * served file) stay the same across `show itl`. A rebuild that gives the same ITL logs "ITL hash not changed".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandTable } from '../../src/admin/command-table.js';
import { runShell } from '../../src/admin/shell.js';
import { trustCommands } from '../../src/admin/commands/trust.js';
import { initAppliance } from '../../src/cluster/init.js';
import { systemClock } from '../../src/lib/clock.js';
import { createLogger, silentLogger } from '../../src/lib/log.js';
import { openStore } from '../../src/store/index.js';
import { storeApplianceSource } from '../../src/daemons/adapters/tftp-store.js';
import { TftpServer } from '../../src/tftp/server.js';
import { fetchFile } from '../../src/tftp/client.js';

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

const sum = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

test('show itl / show ctl: the checksums of the files fetched over TFTP, no signing to display', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-show-itl-'));
  const state = join(dir, 'state');
  initAppliance({ dir: state, hostname: 'sbd-test', ipv4: '127.0.0.1', clock: systemClock });
  const store = openStore(join(state, 'sbd.db'));
  const logLines: Record<string, unknown>[] = [];
  const source = storeApplianceSource({
    store,
    logger: createLogger('tftpd', { write: (l) => logLines.push(JSON.parse(l) as Record<string, unknown>) }),
  });
  const server = new TftpServer({ source, port: 0, addresses: ['127.0.0.1'], logger: silentLogger });
  await server.listen();
  try {
    const port = server.addresses()[0]!.port;
    // Before TFTP served anything: the file the store gives, said so, without checksums.
    let out = await consoleRun(state, ['show itl']);
    assert.match(out, /ITLFile\.tlv: no TFTP server has served it yet/);
    assert.doesNotMatch(out, /^MD5/m);

    const itl = (await fetchFile({ server: '127.0.0.1', port, name: 'ITLFile.tlv' })).data;
    const g = store.generation();
    out = await consoleRun(state, ['show itl']);
    assert.match(out, /ITLFile\.tlv as TFTP server sbd-test serves it/);
    assert.match(out, new RegExp(`^Size     : ${itl.length} bytes$`, 'm'));
    assert.match(out, new RegExp(`^MD5      : ${sum('md5', itl)}$`, 'm'));
    assert.match(
      out,
      new RegExp(`^SHA-1    : ${sum('sha1', itl)}  \\(phones report: ${sum('sha1', itl).toUpperCase().match(/../g)!.join(' ')}\\)$`, 'm'),
    );
    assert.match(out, new RegExp(`^SHA-256  : ${sum('sha256', itl)}$`, 'm'));
    assert.match(out, /^signature: valid /m);
    assert.equal(store.generation(), g, 'show itl wrote nothing');
    assert.ok((await fetchFile({ server: '127.0.0.1', port, name: 'ITLFile.tlv' })).data.equals(itl), 'TFTP still serves the same bytes');

    // An unrelated store write: the ITL is rebuilt, comes out the same, and TFTP says so.
    store.addDevice({ name: 'SEP001122334455', model: '8845' });
    assert.ok((await fetchFile({ server: '127.0.0.1', port, name: 'ITLFile.tlv' })).data.equals(itl));
    const same = logLines.filter((l) => l.event === 'itl-hash-not-changed');
    assert.equal(same.length, 1, JSON.stringify(logLines));
    assert.equal(same[0]!.message, 'ITL hash not changed');
    assert.equal(same[0]!.sha256, sum('sha256', itl));

    // Mixed mode: the CTL TFTP serves, then none again.
    assert.match(await consoleRun(state, ['show ctl']), /No CTL file: the cluster is in non-secure mode\./);
    store.setParam('ClusterSecurityMode', 'mixed');
    const ctl = (await fetchFile({ server: '127.0.0.1', port, name: 'CTLFile.tlv' })).data;
    out = await consoleRun(state, ['show ctl']);
    assert.match(out, new RegExp(`^MD5      : ${sum('md5', ctl)}$`, 'm'));
    assert.match(out, new RegExp(`^SHA-1    : ${sum('sha1', ctl)} `, 'm'));
    assert.match(out, new RegExp(`^SHA-256  : ${sum('sha256', ctl)}$`, 'm'));
    assert.match(out, /^File: CTLFile\.tlv$/m);
    store.setParam('ClusterSecurityMode', 'non-secure');
    await assert.rejects(fetchFile({ server: '127.0.0.1', port, name: 'CTLFile.tlv' }), { code: 'ERR_TFTP_NOT_FOUND', tftpCode: 1 });
    assert.deepEqual(store.listServedTrustFiles('CTLFile.tlv'), [], 'the CTL row goes when no CTL is served');
    assert.match(await consoleRun(state, ['show ctl']), /No CTL file: the cluster is in non-secure mode\./);
  } finally {
    await server.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
