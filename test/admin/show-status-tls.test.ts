/**
 * `show status` names each TLS listener's path (issue 20): sbd-tvsd and sbd-sipd (5061) on the C engine and
 * sbd-capfd on node:tls run for real and tell a real AF_UNIX notify socket their STATUS line (a Python receiver, as test/image/sd-notify);
 * systemctl is a script answering `show` with those lines (systemd is not init on the build host), and the console
 * prints `engine` and `node` in the TLS column, `-` for a daemon without TLS or not running.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { CommandTable } from '../../src/admin/command-table.js';
import { statusCommands, tlsPathOf } from '../../src/admin/commands/status.js';
import { runShell } from '../../src/admin/shell.js';
import { Systemd } from '../../src/admin/systemd.js';
import { engineMissing } from '../tls/helpers.js';
import { startDaemon, tempDir } from '../tvs/helpers.js';

const receiver = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(4096).decode().replace("\\n", "|"), flush=True)
`;

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });

async function consoleRun(table: CommandTable, line: string): Promise<string> {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.on('data', (d: Buffer) => (text += d.toString()));
  const done = runShell({ input, output, table, terminal: false });
  input.end(`${line}\n`);
  await done;
  return text;
}

test('tlsPathOf reads the path a STATUS line names', () => {
  assert.equal(tlsPathOf('TVS on 0.0.0.0:2445, TLS: engine+ktls'), 'engine+ktls');
  assert.equal(tlsPathOf('CAPF on 0.0.0.0:3804, TLS: node'), 'node');
  assert.equal(tlsPathOf('serving TFTP on 0.0.0.0:69'), '-');
});

test('show status: the TLS column names the engine for tvsd and sipd, node:tls for capfd, from their STATUS lines', {
  skip: engineMissing,
  timeout: 180_000,
}, async (t) => {
  const dir = tempDir(t, 'sbd-status-tls-');
  const state = join(dir, 'state');
  assert.equal(cli(['init', '--state', state, '--hostname', 'cucm-pub', '--ip', '127.0.0.1']).status, 0);

  const sock = join(dir, 'notify');
  const py: ChildProcess = spawn('python3', ['-c', receiver, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => void py.kill('SIGTERM'));
  let got = '';
  py.stdout!.setEncoding('utf8').on('data', (d: string) => (got += d));
  while (!got.includes('bound')) await once(py.stdout!, 'data');
  // startDaemon spawns with this process's environment: both daemons notify the receiver.
  process.env.NOTIFY_SOCKET = sock;
  t.after(() => void delete process.env.NOTIFY_SOCKET);
  const tvs = await startDaemon(t, ['daemon', 'tvs', '--state', state, '--bind', '127.0.0.1', '--port', '0', '--tls-engine', 'native']);
  const capf = await startDaemon(t, ['daemon', 'capf', '--state', state, '--bind', '127.0.0.1', '--port', '0', '--tls-engine', 'node']);
  const sipArgs = ['daemon', 'sip', '--state', state, '--bind', '127.0.0.1', '--port', '0', '--tls-port', '0', '--tls-engine', 'native'];
  const sip = await startDaemon(t, sipArgs);
  const sipPorts = JSON.parse(sip.lines[0]!) as { udp: number; tls: number };
  const ready = () => got.split('\n').filter((l) => l.startsWith('READY=1|'));
  while (ready().length < 3) await once(py.stdout!, 'data');
  const statusOf = (what: string) => {
    const line = ready().find((l) => l.includes(`STATUS=${what} on `))!;
    return { status: /STATUS=([^|]*)/.exec(line)![1]!, pid: /MAINPID=(\d+)/.exec(line)![1]! };
  };

  // The units and a systemctl that answers `show` from one file per unit.
  const units = join(dir, 'units');
  const bin = join(dir, 'bin');
  mkdirSync(units);
  mkdirSync(bin);
  const show = (unit: string, props: string[]) => writeFileSync(join(bin, `${unit}.show`), `${props.join('\n')}\n`);
  for (const [unit, what] of [
    ['sbd-tvsd', 'TVS'],
    ['sbd-capfd', 'CAPF'],
    ['sbd-sipd', 'SIP'],
  ] as const) {
    const s = statusOf(what);
    show(unit, ['ActiveState=active', 'SubState=running', `MainPID=${s.pid}`, 'NRestarts=0', `StatusText=${s.status}`]);
  }
  show('sbd-tftpd', ['ActiveState=active', 'SubState=running', 'MainPID=1', 'NRestarts=0', 'StatusText=serving TFTP on 0.0.0.0:69']);
  show('sbd-mediad', ['ActiveState=inactive', 'SubState=dead', 'MainPID=0', 'NRestarts=0', 'StatusText=TLS: engine']);
  for (const u of ['sbd-tvsd', 'sbd-capfd', 'sbd-tftpd', 'sbd-sipd', 'sbd-mediad']) writeFileSync(join(units, `${u}.service`), '');
  const systemctl = join(bin, 'systemctl');
  writeFileSync(systemctl, `#!/bin/sh\nexec cat "$(dirname "$0")/$(basename "$3" .service).show"\n`);
  chmodSync(systemctl, 0o755);
  const envFile = join(dir, 'sbd.env');
  writeFileSync(envFile, `SBD_TVS_PORT=${tvs.port}\nSBD_CAPF_PORT=${capf.port}\nSBD_SIP_PORT=${sipPorts.udp}\n`);

  const systemd = new Systemd(
    { canRaise: false, asRoot: (file, args) => ({ file, args: [...args] }) },
    {
      unitDir: units,
      systemctl,
      bootedMarker: dir,
    },
  );
  const out = await consoleRun(new CommandTable(statusCommands(systemd, envFile)), 'show status');
  const row = (unit: string) => out.split('\n').find((l) => l.startsWith(`${unit} `)) ?? '';
  assert.match(out, /^Service\s+State\s+PID\s+Restarts\s+Port\s+TLS$/m, out);
  assert.match(row('sbd-tvsd'), new RegExp(`^sbd-tvsd\\s+active \\(running\\)\\s+\\d+\\s+0\\s+${tvs.port}/tcp listening\\s+engine$`), out);
  assert.match(row('sbd-capfd'), new RegExp(`^sbd-capfd\\s+active \\(running\\)\\s+\\d+\\s+0\\s+${capf.port}/tcp listening\\s+node$`), out);
  assert.match(
    row('sbd-sipd'),
    new RegExp(`^sbd-sipd\\s+active \\(running\\)\\s+\\d+\\s+0\\s+${sipPorts.udp}/udp listening\\s+engine$`),
    out,
  );
  assert.match(statusOf('SIP').status, new RegExp(` tls ${sipPorts.tls}, TLS: engine$`));
  assert.match(row('sbd-tftpd'), /\s-$/, 'no TLS listener: -');
  assert.match(row('sbd-mediad'), /^sbd-mediad\s+inactive \(dead\)\s+-.*\s-$/, 'a stopped daemon names no TLS path');
  assert.equal(await tvs.stop(), 0);
  assert.equal(await capf.stop(), 0);
  assert.equal(await sip.stop(), 0);
});
