/**
 * Call-manager groups (schema 11, issue 21 item 4) decide what a phone's config names: its group's nodes in order
 * in `<callManagerGroup>` and their TVS servers in `<TVS>`. A phone without a group uses the default (every SIP
 * node, publisher first) or the group named Default once it exists. Edited with `sbd cm-group` and the console's
 * `set cmgroup` / `set device cmgroup` / `show cmgroup`; each change is an audit row; a group in use, a node that
 * runs no call control and a fourth member are refused. `sbd daemon tftp --node` refuses a node the store lacks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CommandTable } from '../../src/admin/command-table.js';
import { cmGroupCommands } from '../../src/admin/commands/cm-groups.js';
import { listAuditEntries } from '../../src/cluster/audit.js';
import { deviceConfigFile } from '../../src/config/cluster-configs.js';
import { systemClock } from '../../src/lib/clock.js';
import { phoneConfigServices } from '../../src/sim/phone-config.js';
import { SCHEMA_VERSION, StoreErrorCode } from '../../src/store/index.js';
import { LibErrorCode } from '../../src/lib/errors.js';
import { setCmGroup } from '../../src/cluster/cm-groups.js';
import { withState } from '../../src/store/state.js';
import { runConsoleLine } from '../admin/console-run.js';
import { clusterState, repo, sbd, sbdExit } from './node-harness.js';

const PHONE = 'SEP00AABBCC7401';

/** The call managers and TVS servers the phone's config names, by address. */
function named(dir: string): { cm: string[]; tvs: string[] } {
  return withState(
    dir,
    ({ store }) => {
      const xml = deviceConfigFile(store, store.getDevice(PHONE)!, '.cnf.xml', systemClock)!;
      const s = phoneConfigServices(xml);
      return { cm: s.callManagers.map((m) => m.host), tvs: s.tvs.map((t) => t.host) };
    },
    { readonly: true },
  );
}

test('call-manager groups: default, sbd cm-group, console, Default group, refusals, audit', { timeout: 120_000 }, async () => {
  const dir = await clusterState([
    { name: 'pub', ipv4: '127.0.0.1' },
    { name: 'sub1', ipv4: '127.0.0.2' },
    { name: 'sub2', ipv4: '127.0.0.3' },
  ]);
  withState(dir, ({ store }) => {
    assert.equal(SCHEMA_VERSION, 11);
    assert.equal(store.schemaVersion(), 11);
    store.addNode({ name: 'tftponly', hostname: 'tftponly.example', ipv4: '127.0.0.4', services: ['tftp'] });
  });
  await sbd('device', 'add', PHONE, '--model', '8845', '--dn', '7401', '--state', dir);
  const all = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  assert.deepEqual(named(dir), { cm: all, tvs: all }, 'no group: every SIP node, publisher first, and their TVS');

  await sbd('cm-group', 'add', 'G2', '--node', 'sub2', '--node', 'sub1', '--state', dir);
  assert.match(await sbd('cm-group', 'device', PHONE, 'G2', '--state', dir), /SEP00AABBCC7401\tG2\tsub2, sub1/);
  assert.deepEqual(named(dir), { cm: ['127.0.0.3', '127.0.0.2'], tvs: ['127.0.0.3', '127.0.0.2'] }, 'the group, in its order');
  const refused = await sbdExit('cm-group', 'remove', 'G2', '--state', dir);
  assert.equal(refused.code, 1, 'a group in use is kept');
  assert.match(refused.text, /\[ERR_CM_GROUP_IN_USE\]/);
  withState(dir, ({ store }) => {
    const usage = { code: LibErrorCode.usage };
    assert.throws(() => setCmGroup(store, 'G3', ['tftponly']), usage, 'a node without call control');
    assert.throws(() => setCmGroup(store, 'G3', ['pub', 'sub1', 'sub2', 'pub']), usage, 'four members');
    assert.throws(() => setCmGroup(store, 'G3', ['nosuch']), usage, 'an unknown node');
    assert.throws(() => store.putCmGroup('G4', ['pub', 'pub']), { code: StoreErrorCode.cmGroupInvalid });
    assert.throws(() => store.putCmGroup('G4', ['nosuch']), { code: StoreErrorCode.nodeUnknown });
    assert.throws(() => store.setDeviceCmGroup(PHONE, 'nosuch'), { code: StoreErrorCode.cmGroupUnknown });
    assert.equal(store.getCmGroup('G3'), undefined, 'nothing refused was written');
  });

  // The console: a Default group replaces the derived default for phones without a group of their own.
  const table = new CommandTable(cmGroupCommands(dir));
  await runConsoleLine(table, 'set device cmgroup SEP00AABBCC7401 default');
  assert.deepEqual(named(dir).cm, all);
  assert.match((await runConsoleLine(table, 'set cmgroup Default sub1 pub')).out, /^Default\tsub1, pub/);
  assert.deepEqual(named(dir), { cm: ['127.0.0.2', '127.0.0.1'], tvs: ['127.0.0.2', '127.0.0.1'] });
  const shown = (await runConsoleLine(table, 'show cmgroup')).out;
  assert.match(shown, /^Default\tsub1, pub$/m);
  assert.match(shown, /^G2\tsub2, sub1$/m);
  assert.doesNotMatch(shown, /\(default\)/, 'the derived default is not listed once Default exists');
  assert.match((await runConsoleLine(table, 'show cmgroup SEP00AABBCC7401')).out, /\tDefault\tsub1, pub/);
  await runConsoleLine(table, 'set cmgroup delete G2');
  await runConsoleLine(table, 'set cmgroup delete Default');
  assert.deepEqual(named(dir).cm, all, 'back to the derived default');
  assert.match((await runConsoleLine(table, 'show cmgroup')).out, /^\(default\)\tpub, sub1, sub2\t/);

  const audit = withState(dir, ({ store }) => listAuditEntries(store), { readonly: true })
    .filter((e) => e.action.includes('cm-group'))
    .map((e) => `${e.action} ${e.result}`);
  assert.deepEqual(audit.sort(), [
    'cm-group-remove failure ERR_CM_GROUP_IN_USE',
    'cm-group-remove success',
    'cm-group-remove success',
    'cm-group-set success',
    'cm-group-set success',
    'device-cm-group success',
    'device-cm-group success',
  ]);

  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'daemon', 'tftp', '--state', dir, '--node', 'nosuch', '--port', '0'],
    {
      cwd: repo,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + r.stdout, /--node nosuch: the store has no such node \(nodes: pub, sub1, sub2, tftponly\)/);
});
