/**
 * `sbd daemon sip --tls-engine native|node`: sbd-sipd's 5061 on the C TLS engine (the process maps libsbdtls.so;
 * also by default, issue 20) or on node:tls (it does not), and a REGISTER over TLS is challenged (401) on each; a
 * wrong word is a usage error.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { makeState } from '../sip/interop/harness.js';
import { engineMissing } from './helpers.js';

const sbd = ['--import', 'tsx', 'src/cli/main.ts'];

/** A REGISTER without credentials over a fresh TLS connection: the status line of the answer. */
async function registerOverTls(port: number): Promise<string> {
  const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await once(s, 'secureConnect');
  const { port: lport } = s.address() as { port: number };
  s.write(
    [
      'REGISTER sip:127.0.0.1 SIP/2.0',
      `Via: SIP/2.0/TLS 127.0.0.1:${lport};branch=z9hG4bKeng1;rport`,
      'Max-Forwards: 70',
      'From: <sip:u1000@127.0.0.1>;tag=e1',
      'To: <sip:u1000@127.0.0.1>',
      'Call-ID: engine-daemon@test',
      'CSeq: 1 REGISTER',
      `Contact: <sip:u1000@127.0.0.1:${lport};transport=tls>`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
  let text = '';
  for await (const d of s) {
    text += String(d);
    if (text.includes('\r\n\r\n')) break;
  }
  s.destroy();
  return text.split('\r\n')[0]!;
}

test('sbd daemon sip: 5061 on the engine by default and with --tls-engine native (libsbdtls.so mapped), on node:tls with --tls-engine node; a REGISTER over TLS is challenged', {
  skip: engineMissing,
  timeout: 120_000,
}, async () => {
  const made = makeState();
  made.state.store.close();
  try {
    for (const engine of ['node', 'native', 'default'] as const) {
      const args = ['daemon', 'sip', '--state', made.dir, '--bind', '127.0.0.1', '--port', '0', '--tls-port', '0'];
      const child = spawn(process.execPath, [...sbd, ...args, ...(engine === 'default' ? [] : ['--tls-engine', engine])], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      try {
        const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
        const l = JSON.parse(line) as { event: string; tls: number };
        assert.equal(l.event, 'listening');
        assert.equal(await registerOverTls(l.tls), 'SIP/2.0 401 Unauthorized', engine);
        const maps = readFileSync(`/proc/${child.pid}/maps`, 'utf8');
        assert.equal(maps.includes('libsbdtls.so'), engine !== 'node', `${engine}: libsbdtls.so mapped or not`);
      } finally {
        child.kill('SIGTERM');
        const [code] = (await once(child, 'exit')) as [number];
        assert.equal(code, 0);
      }
    }
  } finally {
    rmSync(made.dir, { recursive: true, force: true });
  }
});

test('sbd daemon sip --tls-engine with another word is a usage error', () => {
  const r = spawnSync(process.execPath, [...sbd, 'daemon', 'sip', '--state', '/nonexistent', '--tls-engine', 'openssl'], {
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--tls-engine must be node or native/);
});
