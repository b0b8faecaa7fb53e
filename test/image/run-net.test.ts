/**
 * image/run.sh's choice of the guest network (image/run-net.ts, issue 19 item 8): `make run` must not hand the guest
 * a range the host already uses. The fixture is `ip -j addr` as iproute2 prints it on a host whose own eth0 is
 * 192.0.2.2/24 (the documentation range slot 0 uses) and where an earlier run's veth holds 198.18.1.1/24.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chooseRunNet, overlaps, parseIpAddr, RunNetErrorCode } from '../../image/run-net.js';
import { repo } from './guest.js';

const fixture = `${repo}/test/image/fixtures/ip-addr-host-in-192.0.2.json`;
const host = parseIpAddr(readFileSync(fixture, 'utf8'));

test('ip -j addr: the IPv4 addresses with their prefix and interface', () => {
  assert.deepEqual(host, [
    { ifname: 'lo', address: '127.0.0.1', prefixlen: 8 },
    { ifname: 'eth0', address: '192.0.2.2', prefixlen: 24 },
    { ifname: 'sbdh1945', address: '198.18.1.1', prefixlen: 24 },
  ]);
});

test('overlap: same /24, a shorter prefix that contains it, a /32 inside; not a neighbour', () => {
  assert.equal(overlaps('192.0.2.2', 24, '192.0.2.1', 24), true);
  assert.equal(overlaps('198.18.200.9', 15, '198.18.7.1', 24), true);
  assert.equal(overlaps('198.18.7.77', 32, '198.18.7.1', 24), true);
  assert.equal(overlaps('192.0.3.1', 24, '192.0.2.1', 24), false);
  assert.equal(overlaps('127.0.0.1', 8, '192.0.2.1', 24), false);
});

test('a slot the host uses is refused, naming RUN_NET and the interface; a free one is given', () => {
  assert.throws(
    () => chooseRunNet('0', host),
    (err: Error & { code?: string }) =>
      err.code === RunNetErrorCode.taken &&
      /^RUN_NET=0 would put the guest in 192\.0\.2\.0\/24/.test(err.message) &&
      /192\.0\.2\.2\/24 on eth0/.test(err.message),
  );
  assert.throws(() => chooseRunNet('1', host), { code: RunNetErrorCode.taken });
  assert.deepEqual(chooseRunNet('7', host), { slot: 7, network: '198.18.7.0/24', hostIp: '198.18.7.1', guestIp: '198.18.7.2' });
  assert.throws(() => chooseRunNet('256', host), { code: RunNetErrorCode.usage });
});

test('auto: slot 0 on a host that does not use it, else the first free 198.18.N.0/24, else refused', () => {
  assert.equal(chooseRunNet('auto', [{ ifname: 'eth0', address: '10.1.2.3', prefixlen: 16 }]).slot, 0);
  assert.deepEqual(chooseRunNet('auto', host), { slot: 2, network: '198.18.2.0/24', hostIp: '198.18.2.1', guestIp: '198.18.2.2' });
  const everything = [...host, { ifname: 'bench0', address: '198.18.0.1', prefixlen: 15 }];
  assert.throws(() => chooseRunNet('auto', everything), { code: RunNetErrorCode.none });
});

test('the command image/run.sh calls: the slot and addresses on stdout, or exit 1 with the message', () => {
  const run = (slot: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'image/run-net.ts', slot, '--addr-json', fixture], { cwd: repo, encoding: 'utf8' });
  const auto = run('auto');
  assert.equal(auto.status, 0, auto.stderr);
  assert.equal(auto.stdout, '2 198.18.2.1 198.18.2.2\n');
  const taken = run('0');
  assert.equal(taken.status, 1);
  assert.match(taken.stderr, /^image\/run\.sh: RUN_NET=0 would put the guest in 192\.0\.2\.0\/24/);
});
