/**
 * Lowering the minimum TLS version on the console (issue 18 item 9): `set param TLSMinVersion 1.0` and CUCM's
 * `set tls min-version 1.0` print the warnings before the question, store nothing on "no", store and audit on
 * "yes"; raising it back asks nothing; an invalid version is refused by the store without a question.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandTable } from '../../src/admin/command-table.js';
import { paramCommands } from '../../src/admin/commands/params.js';
import { initAppliance } from '../../src/cluster/init.js';
import { StoreErrorCode } from '../../src/store/errors.js';
import { withState } from '../../src/store/state.js';
import { systemClock } from '../../src/lib/clock.js';
import { runConsoleLine } from './console-run.js';

test('TLSMinVersion: warned and asked before lowering, "no" stores nothing, raising asks nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-tlsmin-'));
  const state = join(dir, 'state');
  initAppliance({ dir: state, hostname: 'sbd-test', ipv4: '127.0.0.1', clock: systemClock });
  const current = () => withState(state, ({ store }) => store.getParam('TLSMinVersion'), { readonly: true });
  const audits = () =>
    withState(state, ({ store }) => store.listAudit().filter((a) => a.detail?.startsWith('TLSMinVersion=')).length, { readonly: true });
  try {
    assert.equal(await consoleRun(state, 'show tls min-version', []), '1.2');

    let out = await consoleRun(state, 'set param TLSMinVersion 1.0', [false]);
    const q = out.indexOf('? Lower the minimum TLS version to 1.0 for SIP, TVS and CAPF?');
    const w = out.indexOf('WARNING: TLS 1.0 lets SIP (5061), TVS (2445) and CAPF (3804) accept every peer');
    assert.ok(w >= 0 && w < q, out);
    assert.match(out, /no forward secrecy/);
    assert.match(out, /security level 0/);
    assert.match(out, /cancelled$/);
    assert.equal(current(), '1.2', 'no: nothing stored');
    assert.equal(audits(), 0);

    out = await consoleRun(state, 'set param TLSMinVersion 1.0', [true]);
    assert.match(out, /TLSMinVersion = 1\.0$/);
    assert.equal(current(), '1.0');
    assert.equal(audits(), 1, 'the change is audited');

    // Up again: no warning, no question.
    out = await consoleRun(state, 'set tls min-version 1.2', []);
    assert.equal(out, 'TLSMinVersion = 1.2');
    assert.equal(current(), '1.2');

    // CUCM's own command asks the same question; 1.1 is lower than 1.2 too.
    out = await consoleRun(state, 'set tls min-version 1.1', [false]);
    assert.match(out, /WARNING: TLS 1\.1 lets/);
    assert.equal(current(), '1.2');
    await consoleRun(state, 'set tls min-version 1.1', [true]);
    assert.equal(await consoleRun(state, 'show tls min-version', []), '1.1');
    // 1.0 is lower still: asked again.
    await consoleRun(state, 'set param TLSMinVersion 1.0', [false]);
    assert.equal(current(), '1.1');

    // Not a version: the store refuses it, no question first.
    await assert.rejects(consoleRun(state, 'set param TLSMinVersion 1.3', []), {
      code: StoreErrorCode.paramInvalid,
      message: /TLSMinVersion must be one of 1\.0, 1\.1, 1\.2/,
    });
    assert.equal(current(), '1.1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sbd param set TLSMinVersion 1.0 (CLI, no question): stored, with the same warnings on stderr; raising it warns nothing', async () => {
  const { main } = await import('../../src/cli/main.js');
  const dir = mkdtempSync(join(tmpdir(), 'sbd-tlsmin-cli-'));
  const state = join(dir, 'state');
  initAppliance({ dir: state, hostname: 'sbd-test', ipv4: '127.0.0.1', clock: systemClock });
  try {
    const err: string[] = [];
    const out: string[] = [];
    const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
    assert.equal(await main(['param', 'set', 'TLSMinVersion', '1.0', '--state', state], io), 0);
    assert.match(err.join('\n'), /WARNING: TLS 1\.0 lets SIP \(5061\), TVS \(2445\) and CAPF \(3804\) accept every peer/);
    assert.match(err.join('\n'), /no forward secrecy/);
    assert.equal(
      withState(state, ({ store }) => store.getParam('TLSMinVersion'), { readonly: true }),
      '1.0',
    );
    err.length = 0;
    assert.equal(await main(['param', 'set', 'TLSMinVersion', '1.2', '--state', state], io), 0);
    assert.deepEqual(err, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** One console line with scripted answers; the transcript of output and questions ("? " marks a question). */
async function consoleRun(state: string, line: string, answers: boolean[]): Promise<string> {
  return (await runConsoleLine(new CommandTable(paramCommands(state)), line, answers)).transcript;
}
