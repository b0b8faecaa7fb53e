/** `sbd phone register|call` as a process against an in-process sbd-sipd, the callee a simulated phone. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SipPhone } from '../../src/sim/sip-ua/user-agent.js';
import { addLineUser, makeState, run, startDaemon } from './interop/harness.js';

const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { timeoutMs: 90_000 });

test('sbd phone register / call: digest over TLS, SRTP call to a simulated phone, typed refusals', { timeout: 180_000 }, async () => {
  const made = makeState();
  addLineUser(made.state, 'u8001', 'pw-1');
  addLineUser(made.state, 'u8002', 'pw-2');
  const h = await startDaemon({}, made);
  const ca = join(h.dir, 'cm.pem');
  writeFileSync(ca, made.state.store.currentCertificate('CallManager', 'sbd1')!.pem);
  const callee = await SipPhone.connect({
    flow: { transport: 'tls', host: '127.0.0.1', port: h.ports.tls! },
    line: 'u8002',
    credentials: { username: 'u8002', password: 'pw-2' },
  });
  try {
    await callee.register();
    const base = ['--server', `127.0.0.1:${h.ports.tls}`, '--ca', ca, '--line', 'u8001', '--user', 'u8001'];
    const reg = await cli(['phone', 'register', ...base, '--password', 'pw-1']);
    assert.equal(reg.code, 0, reg.stderr);
    assert.equal(JSON.parse(reg.stdout).status, 200);
    const bad = await cli(['phone', 'register', ...base, '--password', 'wrong']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /ERR_SIM_SIP_AUTH|not accepted/);
    const call = await cli(['phone', 'call', ...base, '--password', 'pw-1', '--to', 'u8002', '--seconds', '1']);
    assert.equal(call.code, 0, call.stderr + call.stdout);
    const out = JSON.parse(call.stdout);
    assert.equal(out.suite, 'AEAD_AES_256_GCM');
    assert.equal(out.security, 'Encrypted');
    assert.equal(out.sent, 50);
    assert.equal(out.bye, 200);
  } finally {
    callee.close();
    await h.close();
  }
});
