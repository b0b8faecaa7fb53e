/**
 * The console's `utils phone reset|restart` and the seeds' steps that end with "reset the phones" (issue 18 items
 * 1 and 2), driven through the console's own command table against sbd-sipd running over the same state folder:
 * `utils phone restart all` asks and restarts every registered phone; `utils itl reset localkey` and `utils ctl
 * reset` ask "Reset all phones now?"; `set cert regen` asks too (and a "no" leaves the phones alone, saying how);
 * `set param PrepareClusterForRollback true` warns that HTTPS phone services stop and resets every phone without
 * asking, and so does turning it off. The phones (simulated, registered with digest over TCP) obey on their own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { CommandTable } from '../../src/admin/command-table.js';
import { phoneCommands } from '../../src/admin/commands/phones.js';
import { trustCommands } from '../../src/admin/commands/trust.js';
import { paramCommands } from '../../src/admin/commands/params.js';
import { clusterSecurityCommands } from '../../src/admin/commands/cluster-security.js';
import { SipDaemon } from '../../src/daemons/sipd.js';
import { controlSocketPath } from '../../src/sip/phone-control/control-socket.js';
import { SipPhone } from '../../src/sim/sip-ua/user-agent.js';
import { systemClock } from '../../src/lib/clock.js';
import { addLineUser, makeState } from '../sip/interop/harness.js';
import { runConsoleLine } from './console-run.js';

let dir: string;
let daemon: SipDaemon;
const phones: SipPhone[] = [];
let table: CommandTable;

before(async () => {
  const made = makeState();
  dir = made.dir;
  for (const n of ['7101', '7102']) {
    addLineUser(made.state, `u${n}`, `pw-${n}`);
    made.state.store.addDevice({ name: `SEP0000000B${n}`, model: '8845', directoryNumber: n, digestUser: `u${n}` });
  }
  made.state.store.addDevice({ name: 'SEP0000000B7109', model: '8845', directoryNumber: '7109', digestUser: null });
  daemon = new SipDaemon({
    store: made.state.store,
    layout: made.state.layout,
    host: '127.0.0.1',
    port: 0,
    tlsPort: null,
    controlSocket: controlSocketPath(dir),
    digestAlgorithms: ['MD5'],
  });
  const ports = await daemon.listen();
  for (const n of ['7101', '7102']) {
    const p = await SipPhone.connect({
      flow: { transport: 'tcp', host: '127.0.0.1', port: ports.tcp },
      line: n,
      credentials: { username: `u${n}`, password: `pw-${n}` },
    });
    await p.register();
    phones.push(p);
  }
  table = new CommandTable([
    ...phoneCommands(dir),
    ...trustCommands(dir, systemClock),
    ...paramCommands(dir),
    ...clusterSecurityCommands(dir, systemClock),
  ]);
});

after(async () => {
  for (const p of phones) p.close();
  await daemon.close();
  rmSync(dir, { recursive: true, force: true });
});

const count = () => phones.map((p) => p.control.resets + p.control.restarts);

async function settled(expected: number[]): Promise<void> {
  for (const end = Date.now() + 30_000; count().join() !== expected.join(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) assert.deepEqual(count(), expected);
  }
}

describe('console: utils phone reset|restart and the steps that reset phones', () => {
  it('utils phone restart all: asks, restarts both registered phones, lists the unregistered one', async () => {
    const r = await consoleLine('utils phone restart all', [true]);
    assert.match(r.questions[0]!, /^Restart all phones now\?/);
    assert.match(r.out, /restart: all phones: 2 registered, paced at 100 phones\/s/);
    assert.match(r.out, /not registered \(1, nothing sent\): SEP0000000B7109/);
    assert.match(r.out, /restart: 2 of 2 sent/);
    assert.match(r.out, /summary: 2 phones told to restart: 2 acknowledged, 2 re-registered, 0 failed; 1 not registered/);
    await settled([1, 1]);
    assert.deepEqual(
      phones.map((p) => p.control.restarts),
      [1, 1],
    );
  });

  it('utils phone reset SEP… pace 5: one device, no question', async () => {
    const r = await consoleLine('utils phone reset SEP0000000B7102 pace 5');
    assert.deepEqual(r.questions, []);
    assert.match(r.out, /reset: SEP0000000B7102: 1 registered, paced at 5 phones\/s/);
    await settled([1, 2]);
  });

  it('utils itl reset localkey, then complete: each asks "Reset all phones now?" and resets on yes', async () => {
    let r = await consoleLine('utils itl reset localkey', [true]);
    assert.deepEqual(r.questions, ['Reset all phones now?']);
    assert.match(r.out, /summary: 2 phones told to reset: 2 acknowledged, 2 re-registered/);
    await settled([2, 3]);
    r = await consoleLine('utils itl reset complete', [true]);
    assert.match(r.out, /ITL signed by ITLRecovery/);
    await settled([3, 4]);
  });

  it('set cert regen TVS: asks to regenerate, then "Reset all phones now?"; no leaves the phones alone and says how', async () => {
    const r = await consoleLine('set cert regen TVS', [true, false]);
    assert.equal(r.questions[1], 'Reset all phones now?');
    assert.match(r.out, /Phones not reset: .*utils phone reset all/);
    await new Promise((res) => setTimeout(res, 200));
    assert.deepEqual(count(), [3, 4]);
  });

  it('utils ctl reset (mixed mode) asks too', async () => {
    await consoleLine('utils ctl set-cluster mixed-mode', [true]);
    const r = await consoleLine('utils ctl reset localkey', [true]);
    assert.deepEqual(r.questions, ['Reset all phones now?']);
    await settled([4, 5]);
  });

  it('set param PrepareClusterForRollback true/false: warns about HTTPS phone services and resets every phone without asking', async () => {
    let r = await consoleLine('set param PrepareClusterForRollback true');
    assert.deepEqual(r.questions, []);
    assert.match(r.out, /HTTPS phone services .* stop working/);
    assert.match(r.out, /summary: 2 phones told to reset/);
    await settled([5, 6]);
    r = await consoleLine('set param PrepareClusterForRollback false');
    assert.match(r.out, /Prepare Cluster for Rollback is off/);
    await settled([6, 7]);
    // Setting it to what it already is resets nothing.
    r = await consoleLine('set param PrepareClusterForRollback false');
    assert.doesNotMatch(r.out, /summary/);
  });
});

/** Runs one console line with scripted answers; the questions asked and the output. */
const consoleLine = (line: string, answers: boolean[] = []) => runConsoleLine(table, line, answers);
