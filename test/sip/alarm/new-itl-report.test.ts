/**
 * A simulated phone reports what it holds (its folder, `heldInPhoneFolder`) after every REGISTER: booted over
 * TFTP and registered → Match; TVS regenerated, TFTP serves a new ITL → the phone's standing report is MisMatch;
 * the phone takes the new ITL (boot again) and registers → its DeviceTLInfo names the new ITL → Match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { SipPhone } from '../../../src/sim/sip-ua/user-agent.js';
import { heldInPhoneFolder } from '../../../src/sim/sip-ua/device-tl-info.js';
import { itlStatusRows } from '../../../src/reports/itl-status.js';
import { bootOne, fleet, startCluster } from '../../scenarios/harness.js';

test('the simulator reports the ITL it holds after each REGISTER, also after taking a new ITL', { timeout: 180_000 }, async () => {
  const cluster = await startCluster();
  const name = 'SEP00AABBCC7101';
  await cluster.admin(
    'device',
    'add',
    name,
    '--model',
    '8845',
    '--dn',
    '7101',
    '--digest-user',
    'u7101',
    '--digest-password',
    'pw-7101-secret',
  );
  const phones = fleet();
  const first = await bootOne(phones, cluster, name);
  assert.ok(first.configTrusted);
  const daemon = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'daemon',
      'sip',
      '--state',
      cluster.dir,
      '--bind',
      '127.0.0.1',
      '--port',
      '0',
      '--tls-port',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  daemon.stderr!.resume();
  const lines = createInterface({ input: daemon.stdout! });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(daemon, 'exit').then(() => {
      throw new Error('sbd daemon sip exited');
    }),
  ])) as [string];
  const ports = JSON.parse(line) as { tcp: number };
  lines.on('line', () => {});
  const phone = await SipPhone.connect({
    flow: { transport: 'tcp', host: '127.0.0.1', port: ports.tcp },
    line: '7101',
    credentials: { username: 'u7101', password: 'pw-7101-secret' },
    trustLists: heldInPhoneFolder(phones.dir, name, cluster.ipv4),
  });
  const status = () => itlStatusRows(cluster.state.store).find((r) => r.device === name)!;
  try {
    await phone.register();
    assert.equal(phone.lastTrustReport?.status, 202);
    assert.deepEqual([status().status, status().tftpServer], ['Match', cluster.ipv4]);

    await cluster.admin('cert', 'regen', 'TVS');
    cluster.reloadServices();
    const second = await bootOne(phones, cluster, name);
    assert.notEqual(second.itlSha256, first.itlSha256, 'the phone took a new ITL');
    assert.equal(status().status, 'MisMatch', 'until the phone reports it, its standing report names the old ITL');
    await phone.register();
    assert.equal(phone.lastTrustReport?.status, 202);
    assert.equal(status().status, 'Match');
  } finally {
    phone.close();
    if (daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await once(daemon, 'exit');
    }
  }
});
