/**
 * Phones without DNS (issue 18 item 8): the appliance and a simulated phone in a network namespace of their own —
 * only a loopback, an empty /etc/resolv.conf and an /etc/hosts with localhost alone, bind-mounted in a private
 * mount namespace (`unshare -n -m`) — where no name resolves and nothing can leave the machine. The phone boots
 * over TFTP, registers with the call control its config names and gets TVS answers, all by address; once the
 * owner names the node by DNS name (ServerNames), the same phone can reach neither. The steps and assertions are
 * in no-dns-phone.inside.ts, run there by Node's test runner; this file makes the namespace and checks the run.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './harness.js';

const repoRoot = new URL('../../', import.meta.url).pathname;
const unshare = spawnSync('unshare', ['-n', '-m', 'true']).status === 0;

test('a phone that boots with no resolver boots, registers and gets TVS answers by address', {
  skip: unshare ? false : 'unshare -n -m is not permitted on this machine (needs root or user namespaces)',
}, async () => {
  const dir = tempDir('sbd-nodns-ns-');
  const resolv = join(dir, 'resolv.conf');
  const hosts = join(dir, 'hosts');
  writeFileSync(resolv, '');
  writeFileSync(hosts, '127.0.0.1 localhost\n::1 localhost\n');
  const script = [
    'set -e',
    'ip link set lo up',
    `mount --bind '${resolv}' /etc/resolv.conf`,
    `mount --bind '${hosts}' /etc/hosts`,
    'exec "$NODE" --import tsx --test --test-force-exit --test-reporter=spec test/scenarios/no-dns-phone.inside.ts',
  ].join('\n');
  // Without NODE_TEST_CONTEXT: the inner run is a test run of its own, not a child of this one.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const child = spawn('unshare', ['-n', '-m', 'sh', '-c', script], {
    cwd: repoRoot,
    env: { ...env, NODE: process.execPath, SBD_NO_DNS_NETNS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, output);
  assert.match(output, /✔ a phone on a LAN without DNS boots, registers and gets TVS answers by address/, output);
  assert.match(output, /ℹ pass 1\n/, output);
});
