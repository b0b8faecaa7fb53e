/**
 * The simulator's commands as an administrator runs them against the scenario daemons: `sbd phone boot` with
 * `--tvs config` (the phone's own `<TVS>` list) and `--capf --auth-string`, `sbd phone services`, `sbd phone
 * https`; `--redirect` points the configured standard ports at the daemons' real ones. Usage errors exit 2.
 */
import { strict as assert } from 'node:assert';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { privateKeyOf } from '../../src/pki/identity-store.js';
import { publisher } from '../../src/trust/cluster-lists.js';
import { fleet, sbd, startCluster } from './harness.js';

test('sbd phone boot --tvs config --capf, sbd phone services, sbd phone https', async () => {
  const cluster = await startCluster();
  const mac = '00:33:00:00:01:00';
  const name = 'SEP003300000100';
  await cluster.admin('device', 'add', name, '--model', '8845');
  const phones = fleet();
  const redirects = [
    '--redirect',
    `127.0.0.1:2445=127.0.0.1:${cluster.tvs.address().port}`,
    '--redirect',
    `127.0.0.1:3804=127.0.0.1:${cluster.capf.address().port}`,
  ];
  const boot = (...extra: string[]) =>
    sbd([
      'phone',
      'boot',
      '--server',
      `127.0.0.1:${cluster.tftp.port}`,
      '--mac',
      mac,
      '--state',
      phones.dir,
      '--tvs',
      'config',
      ...redirects,
      ...extra,
    ]);

  const first = await boot();
  assert.equal(first.code, 0, first.out + first.err);
  assert.match(first.out, /ITL trusted \(first use\)/);

  const services = await sbd(['phone', 'services', '--mac', mac, '--state', phones.dir, ...redirects]);
  assert.equal(services.code, 0, services.out + services.err);
  assert.match(services.out, /^TVS 127\.0\.0\.1:2445 presents .*: the TVS record of the installed ITL$/m);
  assert.match(services.out, /^CAPF 127\.0\.0\.1:3804 presents .*: the CAPF record of the installed ITL$/m);

  await cluster.admin('cert', 'regen', 'ITLRecovery');
  await cluster.admin('capf', 'install', name, '--auth', 'password', '--password', '47114711');
  const second = await boot('--capf', '--auth-string', '47114711');
  assert.equal(second.code, 0, second.out + second.err);
  assert.match(second.out, /ITL accepted: signer ITLRECOVERY_sbd\.example, serial [0-9a-f]+ vouched for by TVS \(roles SAST\)/i);
  assert.match(second.out, /LSC installed by CAPF 127\.0\.0\.1:3804: .*\(authenticated with the authentication string\)/);

  const store = cluster.state.store;
  const tomcat = store.currentCertificate('tomcat', publisher(store).name)!;
  const server = https.createServer({ cert: tomcat.pem, key: privateKeyOf(tomcat) }, (_req, res) => res.end('<CiscoIPPhoneText/>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/svc`;
  const opened = await sbd(['phone', 'https', url, '--mac', mac, '--state', phones.dir, '--tvs', 'config', ...redirects, '--show-body']);
  assert.equal(opened.code, 0, opened.out + opened.err);
  assert.match(
    opened.out,
    /^HTTPS server certificate sbd\.example vouched for by TVS \(roles APP-SERVER\); GET \/svc → 200 \(19 bytes\)\n<CiscoIPPhoneText\/>$/,
  );
  const noTvs = await sbd(['phone', 'https', url, '--mac', mac, '--state', phones.dir]);
  assert.equal(noTvs.code, 1);
  assert.equal(noTvs.out, 'rejected HTTPS server: certificate sbd.example is not in the installed trust lists, and no TVS to ask');

  const bad = await sbd([
    'phone',
    'boot',
    '--server',
    `127.0.0.1:${cluster.tftp.port}`,
    '--mac',
    mac,
    '--state',
    phones.dir,
    '--redirect',
    '127.0.0.1:2445',
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--redirect "127\.0\.0\.1:2445" is not FROM=TO/);
  const lonely = await sbd([
    'phone',
    'boot',
    '--server',
    `127.0.0.1:${cluster.tftp.port}`,
    '--mac',
    mac,
    '--state',
    phones.dir,
    '--auth-string',
    '1',
  ]);
  assert.equal(lonely.code, 2);
  const notHttps = await sbd(['phone', 'https', 'http://127.0.0.1/x', '--mac', mac, '--state', phones.dir]);
  assert.equal(notHttps.code, 1);
  assert.match(notHttps.err, /is not an https:\/\/ URL \[ERR_SIM_SERVER\]/);
});
