/**
 * Run by no-dns-phone.test.ts inside its own network namespace (only a loopback) with an empty /etc/resolv.conf
 * and an /etc/hosts that knows only localhost: a LAN without DNS. Not a *.test.ts file: outside that namespace a
 * name lookup could leave the machine, so it refuses to run there.
 * The appliance (`sbd init --ip 127.0.0.1`, sbd-tftpd on 69, sbd-tvsd on 2445, sbd-sipd on 5060/5061) listens on
 * the standard ports, so the phone goes exactly where its config says, resolving with the system's resolver.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { bootSimPhone, type SimPhoneOptions } from '../../src/sim/phone.js';
import { poolOptionsFor, TftpFetcher } from '../../src/sim/tftp-fetcher.js';
import { TftpClientPool } from '../../src/tftp/client.js';
import { configTvsHook } from '../../src/sim/tvs-hook.js';
import { callControlFlow, systemResolver } from '../../src/sim/name-resolution.js';
import { phoneConfigServices } from '../../src/sim/phone-config.js';
import { SipPhone } from '../../src/sim/sip-ua/user-agent.js';
import { about, sbd, story, tempDir } from './harness.js';
import { startDaemon } from './procedure-stage.js';
import { join } from 'node:path';

if (process.env.SBD_NO_DNS_NETNS !== '1' || readFileSync('/etc/resolv.conf', 'utf8').trim() !== '')
  throw new Error('no-dns-phone.inside.ts runs only inside the namespace no-dns-phone.test.ts makes');

const PHONE = 'SEP0000000E0001';

const startTvsd = (dir: string) => startDaemon(['tvs', '--state', dir, '--bind', '127.0.0.1'], { tcpPort: 2445 });

async function admin(dir: string, ...args: string[]): Promise<string> {
  const r = await sbd([...args, '--state', dir]);
  assert.equal(r.code, 0, `sbd ${args.join(' ')}: ${r.err}`);
  return r.out;
}

test('a phone on a LAN without DNS boots, registers and gets TVS answers by address', async () => {
  await assert.rejects(systemResolver('sbd.example'), { code: 'ERR_SIM_RESOLVE' }, 'this namespace resolves no names');
  const dir = tempDir('sbd-nodns-');
  await admin(dir, 'init', '--hostname', 'sbd.example', '--ip', '127.0.0.1');
  await admin(dir, 'device', 'add', PHONE, '--model', '8845', '--dn', '7601', '--digest-user', 'u7601', '--digest-password', 'pw-7601-x');
  await startDaemon(['tftp', '--state', dir, '--bind', '127.0.0.1', '--port', '69']);
  await startDaemon(['sip', '--state', dir, '--bind', '127.0.0.1', '--port', '5060', '--tls-port', '5061']);
  let tvsd = await startTvsd(dir);

  const phones = tempDir('sbd-nodns-phone-');
  // The TFTP server comes from DHCP option 150, an address; everything else from the config the phone accepts.
  const pool = new TftpClientPool(poolOptionsFor({ host: '127.0.0.1', port: 69 }, 1));
  const opts: SimPhoneOptions = {
    stateDir: phones,
    deviceName: PHONE,
    model: '8845',
    fetcher: new TftpFetcher({ host: '127.0.0.1', port: 69 }, pool, { timeoutMs: 2000, retries: 5 }),
    verifyUnknownSigner: configTvsHook({ timeoutMs: 10_000 }),
  };
  const first = await bootSimPhone(opts);
  assert.ok(first.configTrusted, story(first));
  const held = phoneConfigServices(readFileSync(join(phones, PHONE, 'config.xml')));
  assert.deepEqual(
    [held.callManagers.map((c) => c.host), held.tvs.map((t) => t.host), held.capf.map((c) => c.host)],
    [['127.0.0.1'], ['127.0.0.1'], ['127.0.0.1']],
    'the config names every server by address',
  );

  const register = async () => {
    const phone = await SipPhone.connect({
      flow: await callControlFlow(phones, PHONE, 'tcp'),
      line: '7601',
      credentials: { username: 'u7601', password: 'pw-7601-x' },
    });
    try {
      return (await phone.register()).status;
    } finally {
      phone.close();
    }
  };
  assert.equal(await register(), 200, 'registered with the call control its config names (127.0.0.1:5060)');
  // The same from the command line: no --server, the call control of the phone's config (the password is not in a
  // signed-only config, so it is typed, as on the phone).
  const cli = JSON.parse(
    await admin(phones, 'phone', 'register', '--mac', PHONE, '--transport', 'tcp', '--user', 'u7601', '--password', 'pw-7601-x'),
  ) as { status: number };
  assert.equal(cli.status, 200);

  // An ITL signed by a signer the phone does not hold: only TVS, reached at the config's address, can vouch.
  await admin(dir, 'itl', 'reset', 'localkey');
  assert.match(about(await bootSimPhone(opts), 'ITL').text, /^ITL accepted: signed by known SAST sbd\.example/);
  await admin(dir, 'cert', 'regen', 'CallManager');
  await tvsd.stop();
  tvsd = await startTvsd(dir);
  const vouched = await bootSimPhone(opts);
  assert.match(about(vouched, 'ITL').text, /^ITL accepted: signer sbd\.example, serial [0-9a-f]+ vouched for by TVS/, story(vouched));
  assert.equal(await register(), 200);

  // The owner names the node by DNS name: this phone, with no DNS server, loses its call control and its TVS.
  await admin(dir, 'param', 'set', 'ServerNames', 'sbd=sbd.example');
  const named = await bootSimPhone(opts);
  assert.ok(named.configTrusted, story(named));
  await assert.rejects(callControlFlow(phones, PHONE, 'tcp'), { code: 'ERR_SIM_RESOLVE' });
  const refused = await sbd(['phone', 'register', '--state', phones, '--mac', PHONE, '--transport', 'tcp']);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /cannot reach its call control: cannot resolve "sbd\.example"/);
  await admin(dir, 'cert', 'regen', 'CallManager');
  await tvsd.stop();
  tvsd = await startTvsd(dir);
  const lost = await bootSimPhone(opts);
  assert.match(about(lost, 'ITL').text, /TVS could not be asked: sbd\.example:2445: cannot resolve "sbd\.example"/, story(lost));
  await tvsd.stop();
  await pool.close();
});
