/**
 * End to end with processes only, as an administrator runs it: `sbd init`, `sbd device add`, `sbd daemon tftp
 * --state` (sbd-tftpd over the appliance's files), `sbd phone boot` twice around `sbd cert regen CallManager`.
 * The ITL hash sbd-tftpd records is the hash of the ITL the phone installed.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { withState } from '../../src/store/state.js';
import { sbdCli, startDaemonProcess, tempDir } from './helpers.js';

const sbd = sbdCli;

/** `sbd daemon tftp … --port 0`; resolves with the port from its 'listening' log line. */
async function startTftpd(t: { after: (fn: () => Promise<void>) => void }, args: string[]): Promise<number> {
  const ev = (await startDaemonProcess(t, ['tftp', ...args])) as { addresses: Array<{ port: number }> };
  return ev.addresses[0]!.port;
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

  const installed = () =>
    createHash('sha256')
      .update(readFileSync(join(phones, 'SEP001122334455', 'ITLFile.tlv')))
      .digest('hex');
  const recorded = () =>
    withState(state, ({ store }) => store.listServerItlHashes().find((r) => r.file === 'ITLFile.tlv')!.sha256Hex, { readonly: true });
  assert.equal(recorded(), installed(), 'sbd-tftpd recorded the hash of the ITL it served');

  const regen = await sbd(['cert', 'regen', 'CallManager', '--state', state]);
  assert.equal(regen.code, 0, regen.out + regen.err);
  const second = await sbd(boot);
  assert.equal(second.code, 0, second.out + second.err);
  assert.match(second.out, /ITL accepted: signed by known SAST ITLRECOVERY_.* \(in the installed ITL\)/);
  assert.match(second.out, /config signature valid/);
  assert.equal(recorded(), installed());
});
