/**
 * Bulk ITL reset as the seed states it (issue 18 item 5a): after `utils itl reset localkey` the ITL is signed by
 * the CallManager key only until the TFTP service restarts. Processes only: `sbd init`, `sbd daemon tftp --state`,
 * `sbd itl reset localkey`, the ITL fetched over TFTP, the daemon stopped and started again, the ITL fetched again.
 * The signer of each fetched file is checked by the independent checker ../shared/tools/tlv-check.py.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { withState } from '../../src/store/state.js';
import { fetchFile } from '../../src/tftp/client.js';
import { sbdCli, tempDir } from '../sim/helpers.js';

const repoRoot = new URL('../../', import.meta.url).pathname;
const tlvCheck = join(repoRoot, '../shared/tools/tlv-check.py');

/** One sbd-tftpd process; resolves with its port and a stop function. */
function startTftpd(state: string): Promise<{ port: number; lines: Record<string, unknown>[]; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'daemon', 'tftp', '--state', state, '--bind', '127.0.0.1', '--port', '0'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const ev = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        lines.push(ev);
        if (ev.event === 'listening') resolve({ port: (ev.addresses as Array<{ port: number }>)[0]!.port, lines, stop });
      }
    });
    void exited.then((code) => reject(new Error(`sbd daemon tftp exited with ${code}: ${stderr}`)));
  });
}

/**
 * tlv-check.py FILE --signer CERT verifies the signature and names the key that verified it: "signer: given" only
 * when CERT's key did (otherwise it falls back to the SAST record the header names).
 */
function signedBy(file: string, certFile: string): boolean {
  try {
    return execFileSync('python3', [tlvCheck, file, '--signer', certFile], { encoding: 'utf8' }).includes(
      'signature valid (signer: given)',
    );
  } catch {
    return false;
  }
}

test('utils itl reset localkey lasts until the TFTP service restarts', async (t) => {
  const dir = tempDir('sbd-itl-restart-');
  const state = join(dir, 'state');
  assert.equal((await sbdCli(['init', '--state', state, '--hostname', 'sbd.example', '--ip', '127.0.0.1'])).code, 0);
  const pem = (name: 'CallManager' | 'ITLRecovery') => {
    const file = join(dir, `${name}.pem`);
    writeFileSync(
      file,
      withState(state, ({ store }) => store.listCertificates({ name })[0]!.pem, { readonly: true }),
    );
    return file;
  };
  const callManager = pem('CallManager');
  const itlRecovery = pem('ITLRecovery');
  const fetchItl = async (port: number, n: number) => {
    const file = join(dir, `ITLFile-${n}.tlv`);
    writeFileSync(file, (await fetchFile({ server: '127.0.0.1', port, name: 'ITLFile.tlv' })).data);
    return file;
  };

  let d = await startTftpd(state);
  t.after(() => d.stop());
  const before = await fetchItl(d.port, 0);
  assert.ok(signedBy(before, itlRecovery) && !signedBy(before, callManager), 'ITLRecovery signs before the reset');

  const r = await sbdCli(['itl', 'reset', 'localkey', '--state', state]);
  assert.equal(r.code, 0, r.out + r.err);
  const during = await fetchItl(d.port, 1);
  assert.ok(signedBy(during, callManager), 'the CallManager key signs after localkey');
  assert.ok(!signedBy(during, itlRecovery));

  await d.stop();
  d = await startTftpd(state);
  const after = await fetchItl(d.port, 2);
  assert.ok(signedBy(after, itlRecovery), 'ITLRecovery signs again after the TFTP restart');
  assert.ok(!signedBy(after, callManager));
  assert.equal(d.lines.filter((l) => l.event === 'itl-reset-ended').length, 1);
  assert.equal(
    withState(state, ({ store }) => store.getParam('ItlResetSigner'), { readonly: true }),
    'ITLRecovery',
  );
  const audit = withState(state, ({ store }) => store.listAudit(), { readonly: true });
  assert.ok(
    audit.some((a) => a.user === 'sbd-tftpd' && a.action === 'itl-reset' && a.detail === 'tftp-restart'),
    'the restart is in the audit log',
  );

  // A second restart changes nothing more.
  await d.stop();
  d = await startTftpd(state);
  assert.equal(d.lines.filter((l) => l.event === 'itl-reset-ended').length, 0);
  assert.ok(signedBy(await fetchItl(d.port, 3), itlRecovery));
});
