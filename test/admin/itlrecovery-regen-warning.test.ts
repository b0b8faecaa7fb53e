/**
 * `set cert regen ITLRecovery` warns before it asks (issue 18 item 5c): the warnings come before the question; a "no"
 * changes nothing. In mixed mode they name the tokenless CTL and the CallManager certificate in the CTL (spec
 * cisco-trust-formats §1.5: the tokenless CTL is signed by the publisher's CallManager certificate and carries
 * ITLRecovery as a SAST). Other certificates get no ITLRecovery warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandTable } from '../../src/admin/command-table.js';
import { trustCommands } from '../../src/admin/commands/trust.js';
import { initAppliance } from '../../src/cluster/init.js';
import { withState } from '../../src/store/state.js';
import { systemClock } from '../../src/lib/clock.js';
import { runConsoleLine } from './console-run.js';

test('set cert regen ITLRecovery: warned before the question, tokenless CTL named in mixed mode, "no" changes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-itlrec-warn-'));
  const state = join(dir, 'state');
  initAppliance({ dir: state, hostname: 'sbd-test', ipv4: '127.0.0.1', clock: systemClock });
  const serial = () => withState(state, ({ store }) => store.currentCertificate('ITLRecovery', null)!.serialHex, { readonly: true });
  try {
    const s0 = serial();
    let out = await consoleRun(state, 'set cert regen ITLRecovery', [false]);
    const question = out.indexOf('? Regenerate the ITLRecovery certificate?');
    assert.ok(question > 0, out);
    assert.ok(out.indexOf('WARNING: ITLRecovery signs the ITL') >= 0 && out.indexOf('WARNING: ITLRecovery signs the ITL') < question, out);
    assert.doesNotMatch(out, /tokenless CTL/, 'non-secure mode: no CTL to speak of');
    assert.match(out, /cancelled/);
    assert.equal(serial(), s0);

    withState(state, ({ store }) => store.setParam('ClusterSecurityMode', 'mixed'));
    out = await consoleRun(state, 'set cert regen ITLRecovery', [false]);
    const q = out.indexOf('? Regenerate the ITLRecovery certificate?');
    const ctlWarning = out.indexOf(
      'WARNING: The cluster is in mixed mode with a tokenless CTL, signed by the CallManager certificate of the publisher.',
    );
    assert.ok(ctlWarning >= 0 && ctlWarning < q, out);
    assert.match(out, /the CallManager certificate in the CTL they hold signs it/);
    assert.equal(serial(), s0, 'no: nothing regenerated');

    // During a CTL reset (CTL signed by ITLRecovery) it says to complete it first.
    withState(state, ({ store }) => store.setParam('CtlResetSigner', 'ITLRecovery'));
    assert.match(
      await consoleRun(state, 'set cert regen ITLRecovery', [false]),
      /A CTL reset is under way .* "utils ctl reset complete" first/,
    );
    withState(state, ({ store }) => store.setParam('CtlResetSigner', 'CallManager'));

    // Yes: regenerated (and the phones question answered no).
    out = await consoleRun(state, 'set cert regen ITLRecovery', [true, false]);
    assert.match(out, /Regenerated ITLRecovery: serial/);
    assert.notEqual(serial(), s0);

    // Another certificate: no ITLRecovery warning before its question.
    out = await consoleRun(state, 'set cert regen TVS', [false]);
    assert.doesNotMatch(out, /tokenless CTL|ITLRecovery signs the ITL/);
    assert.match(out, /cancelled/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** One console line with scripted answers; the transcript of output and questions ("? " marks a question). */
async function consoleRun(state: string, line: string, answers: boolean[]): Promise<string> {
  return (await runConsoleLine(new CommandTable(trustCommands(state, systemClock)), line, answers)).transcript;
}
