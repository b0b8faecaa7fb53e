/**
 * How configs name the appliance's nodes (issue 18 item 8): by IP address unless the owner sets a server name in
 * ServerNames (CUCM System › Server allows either), so a phone on a LAN without DNS can reach its call control,
 * TVS and CAPF. The device config and XMLDefault are read back with the simulator's own parser; bad values are
 * refused with the store's code; a node whose address the store does not know is named by its host name.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { systemClock } from '../../src/lib/clock.js';
import { initAppliance } from '../../src/cluster/init.js';
import { openState, type State } from '../../src/store/state.js';
import { defaultConfigFile, deviceConfigFile } from '../../src/config/cluster-configs.js';
import { phoneConfigServices } from '../../src/sim/phone-config.js';
import { parseServerNames } from '../../src/store/server-names.js';

function appliance(ipv4?: string): State {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-config-names-'));
  initAppliance({ dir, hostname: 'sbd.example', ...(ipv4 ? { ipv4 } : {}), clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
  const state = openState(dir);
  after(() => {
    state.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  state.store.addDevice({ name: 'SEP0000000D0001', model: '8845' });
  return state;
}

/** Hosts a phone reads from its config: call control, TVS, CAPF. */
function hosts(state: State): { cm: string[]; tvs: string[]; capf: string[]; xmlDefault: string[] } {
  const xml = deviceConfigFile(state.store, state.store.getDevice('SEP0000000D0001')!, '.cnf.xml', systemClock)!;
  const s = phoneConfigServices(xml);
  return {
    cm: s.callManagers.map((c) => c.host),
    tvs: s.tvs.map((t) => t.host),
    capf: s.capf.map((c) => c.host),
    xmlDefault: phoneConfigServices(defaultConfigFile(state.store, false, systemClock)).callManagers.map((c) => c.host),
  };
}

test('by default every server is named by its IP address, not by its host name', () => {
  const state = appliance('192.0.2.10');
  assert.deepEqual(hosts(state), { cm: ['192.0.2.10'], tvs: ['192.0.2.10'], capf: ['192.0.2.10'], xmlDefault: ['192.0.2.10'] });
  const xml = deviceConfigFile(state.store, state.store.getDevice('SEP0000000D0001')!, '.cnf.xml', systemClock)!.toString();
  assert.doesNotMatch(xml, /sbd\.example/, 'no host name anywhere in the config');
});

test('ServerNames names a node by DNS name (or another address) when the owner chooses it, and back', () => {
  const state = appliance('192.0.2.10');
  state.store.setParam('ServerNames', ' sbd = SBD.corp.example ');
  assert.equal(state.store.getParam('ServerNames'), 'sbd=sbd.corp.example');
  assert.deepEqual(hosts(state), {
    cm: ['sbd.corp.example'],
    tvs: ['sbd.corp.example'],
    capf: ['sbd.corp.example'],
    xmlDefault: ['sbd.corp.example'],
  });
  state.store.setParam('ServerNames', 'sbd=198.51.100.7,other=other.example');
  assert.deepEqual(hosts(state).tvs, ['198.51.100.7'], 'a listed node that does not exist changes nothing else');
  state.store.setParam('ServerNames', '');
  assert.deepEqual(hosts(state).cm, ['192.0.2.10']);
  state.store.setParam('ServerNames', 'sbd=sbd.corp.example');
  state.store.setParam('ServerNames', 'None');
  assert.equal(state.store.getParam('ServerNames'), '', "'none' is the empty value (the CLI cannot pass an empty word)");
  assert.deepEqual(hosts(state).cm, ['192.0.2.10']);
});

test('bad ServerNames values are refused with ERR_PARAM_INVALID and leave the value as it was', () => {
  const state = appliance('192.0.2.10');
  for (const bad of ['sbd', 'sbd=', '=10.0.0.1', 'sbd=not_a host', 'sbd=10.0.0.1,sbd=10.0.0.2', 'sbd=-bad.example']) {
    assert.throws(() => state.store.setParam('ServerNames', bad), { code: 'ERR_PARAM_INVALID' }, bad);
  }
  assert.equal(state.store.getParam('ServerNames'), '');
  assert.equal(parseServerNames(Array.from({ length: 65 }, (_, i) => `n${i}=10.0.0.${i}`).join(',')).ok, false);
});

test('a node the store knows no address for is named by its host name (the only name there is)', () => {
  const state = appliance();
  assert.deepEqual(hosts(state).cm, ['sbd.example']);
});

test('sbd init without --ip warns that configs fall back to the host name, and says how to name the node by address', async () => {
  const { main } = await import('../../src/cli/main.js');
  const dir = mkdtempSync(join(tmpdir(), 'sbd-config-names-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const err: string[] = [];
  const code = await main(['init', '--state', dir, '--hostname', 'pub.example'], { out: () => {}, err: (t) => err.push(t) });
  assert.equal(code, 0);
  assert.match(
    err.join('\n'),
    /WARNING: no --ip: phone configs name this node by its host name "pub\.example", .*sbd param set ServerNames pub=ADDRESS/,
  );
  const withIp = mkdtempSync(join(tmpdir(), 'sbd-config-names-cli-'));
  after(() => rmSync(withIp, { recursive: true, force: true }));
  const quiet: string[] = [];
  assert.equal(await main(['init', '--state', withIp, '--ip', '127.0.0.1'], { out: () => {}, err: (t) => quiet.push(t) }), 0);
  assert.deepEqual(quiet, []);
});
