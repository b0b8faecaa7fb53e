/**
 * native/sd-notify.ts + src/lib/sd-notify.ts against a real AF_UNIX datagram socket (a Python receiver: Node has
 * no Unix datagram sockets, which is the reason for going through libsystemd): READY=1 with STATUS and MAINPID,
 * WATCHDOG=1 pings at half of WATCHDOG_USEC, STOPPING=1; nothing sent when NOTIFY_SOCKET is unset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { watchdogIntervalMs } from '../../src/lib/sd-notify.js';

const receiver = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
s.settimeout(60)
try:
    while True:
        msg = s.recv(4096).decode()
        print(msg.replace("\\n", "|"), flush=True)
        if "STOPPING=1" in msg:
            break
except socket.timeout:
    pass
`;

const daemon = `
import { notifyReady } from './src/lib/sd-notify.ts';
const systemd = notifyReady('serving on test');
systemd.status('second status\\nline');
setTimeout(() => { systemd.stopping(); }, 700);
`;

test('READY, STATUS, WATCHDOG and STOPPING reach the notify socket', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-notify-'));
  try {
    const sock = join(dir, 'notify');
    const py = spawn('python3', ['-c', receiver, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Listen for the receiver's exit from the start: it may end (after STOPPING=1) before the daemon's exit is seen.
    const pyExit = once(py, 'exit');
    let got = '';
    py.stdout.setEncoding('utf8').on('data', (d: string) => (got += d));
    while (!got.includes('bound')) await once(py.stdout, 'data');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', daemon], {
      cwd: new URL('../../', import.meta.url).pathname,
      env: { ...process.env, NOTIFY_SOCKET: sock, WATCHDOG_USEC: '200000' },
      stdio: 'inherit',
    });
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);
    await pyExit;
    const lines = got.split('\n').filter((l) => l && l !== 'bound');
    assert.match(lines[0]!, /^READY=1\|STATUS=serving on test\|MAINPID=\d+$/);
    assert.equal(lines[1], 'STATUS=second status line');
    assert.ok(lines.filter((l) => l === 'WATCHDOG=1').length >= 2, `watchdog pings every 100 ms: ${lines.join(' ; ')}`);
    assert.equal(lines.at(-1), 'STOPPING=1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no NOTIFY_SOCKET: every call is a no-op and no watchdog timer runs', async () => {
  const { sdNotify } = await import('../../native/sd-notify.js');
  const saved = process.env.NOTIFY_SOCKET;
  delete process.env.NOTIFY_SOCKET;
  try {
    assert.equal(sdNotify('READY=1'), 0);
  } finally {
    if (saved !== undefined) process.env.NOTIFY_SOCKET = saved;
  }
});

test('watchdog interval: half of WATCHDOG_USEC, only for the named pid', () => {
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '43' }, 42), 0);
  assert.equal(watchdogIntervalMs({}, 42), 0);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 42), 0);
});
