/**
 * End to end with processes only, as an administrator runs it: `sbd init`, `sbd device add`, `sbd daemon tftp
 * --state` (sbd-tftpd over the appliance's files), `sbd phone boot` twice around `sbd cert regen CallManager`.
 * The ITL hash sbd-tftpd records is the hash of the ITL the phone installed.
 */
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { withState } from '../../src/cluster/state.js';
import { tempDir } from './helpers.js';

const root = new URL('../../', import.meta.url).pathname;
const cli = ['--import', 'tsx', 'src/cli/main.ts'];

function sbd(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...cli, ...args], { cwd: root, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out: stdout, err: stderr });
    });
  });
}

/** `sbd daemon tftp … --port 0`; resolves with the port from its 'listening' log line. */
function startTftpd(t: { after: (fn: () => Promise<void>) => void }, args: string[]): Promise<number> {
  const child = spawn(process.execPath, [...cli, 'daemon', 'tftp', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const ev = JSON.parse(line) as { event: string; addresses?: Array<{ port: number }> };
        if (ev.event === 'listening') resolve(ev.addresses![0]!.port);
      }
    });
    void exited.then((code) => reject(new Error(`sbd daemon tftp exited with ${code}: ${stderr}`)));
  });
}

test('sbd daemon tftp --state serves sbd phone boot; a CallManager regeneration is accepted with the reason', async (t) => {
  const state = tempDir('sbd-e2e-');
  const phones = tempDir('sbd-e2e-phones-');
  assert.equal((await sbd(['init', '--state', state, '--hostname', 'sbd.example', '--ip', '127.0.0.1'])).code, 0);
  assert.equal((await sbd(['device', 'add', 'SEP001122334455', '--model', '8845', '--state', state])).code, 0);
  const port = await startTftpd(t, ['--state', state, '--bind', '127.0.0.1', '--port', '0']);
  const boot = ['phone', 'boot', '--server', `127.0.0.1:${port}`, '--mac', '001122334455', '--state', phones, '--timeout-ms', '2000'];

  const first = await sbd(boot);
  assert.equal(first.code, 0, first.out + first.err);
  assert.match(first.out, /ITLSEP001122334455\.tlv +ITL trusted \(first use\)/);
  assert.match(first.out, /SEP001122334455\.cnf\.xml\.sgn +config signature valid/);

  const installed = () => createHash('sha256').update(readFileSync(join(phones, 'SEP001122334455', 'ITLFile.tlv'))).digest('hex');
  const recorded = () => withState(state, ({ store }) => store.listServerItlHashes().find((r) => r.file === 'ITLFile.tlv')!.sha256Hex, { readonly: true });
  assert.equal(recorded(), installed(), 'sbd-tftpd recorded the hash of the ITL it served');

  const regen = await sbd(['cert', 'regen', 'CallManager', '--state', state]);
  assert.equal(regen.code, 0, regen.out + regen.err);
  const second = await sbd(boot);
  assert.equal(second.code, 0, second.out + second.err);
  assert.match(second.out, /ITL accepted: signed by known SAST ITLRECOVERY_.* \(in the installed ITL\)/);
  assert.match(second.out, /config signature valid/);
  assert.equal(recorded(), installed());
});
