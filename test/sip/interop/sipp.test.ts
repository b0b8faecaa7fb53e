/**
 * Interop with sipp (Debian's sip-tester) on loopback: REGISTER with digest over UDP, TCP and TLS (stunnel
 * in front, Debian's sipp has no TLS), a call INVITE/180/200/ACK/BYE and a CANCEL flow through the proxy
 * between two sipp phones, and a trunk peer's out-of-dialog REFER refused with 403.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { addLineUser, have, run, startDaemon, writeFile, type Harness } from './harness.js';

const scenarios = join(import.meta.dirname, 'scenarios');
const skip = have('sipp') ? false : 'sipp (Debian sip-tester) is not installed: scripts/install-deps.sh installs it';
let h: Harness;

before(async () => {
  if (skip) return;
  h = await startDaemon();
  for (const u of ['u1000', 'u1001', 'u1002', 'u1003']) addLineUser(h.state, u, `pw-${u}`);
});
after(async () => {
  await h?.close();
});

function users(...names: string[]): string {
  return writeFile(
    h.dir,
    `users-${names.join('-')}.csv`,
    'SEQUENTIAL\n' +
      names
        .map((n) => {
          const [u, callee] = n.split('>');
          return `${u};[authentication username=${u} password=pw-${u}];${callee ?? ''}`;
        })
        .join('\n') +
      '\n',
  );
}

/** Runs sipp; `stdout` ends with sipp's error file (what it aborted on), for the assertion message. */
async function sipp(scenario: string, port: number, extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const errFile = join(h.dir, `${scenario}-${Date.now()}-${Math.random().toString(36).slice(2)}.err`);
  const r = await run(
    'sipp',
    [
      `127.0.0.1:${port}`,
      '-sf',
      join(scenarios, scenario),
      '-i',
      '127.0.0.1',
      '-nostdin',
      '-timeout',
      '30',
      '-timeout_error',
      '-trace_err',
      '-error_file',
      errFile,
      ...extra,
    ],
    { cwd: h.dir, timeoutMs: 45_000 },
  );
  if (existsSync(errFile)) r.stdout += '\n' + readFileSync(errFile, 'utf8').slice(0, 3000);
  return r;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a ? a.port : 0;
}

test('sipp REGISTER with digest over UDP (3 phones) creates bindings', { skip }, async () => {
  const r = await sipp('register.xml', h.ports.udp, ['-inf', users('u1000', 'u1001', 'u1002'), '-m', '3', '-p', '0']);
  assert.equal(r.code, 0, r.stdout.slice(-3000));
  for (const u of ['u1000', 'u1001', 'u1002']) assert.equal(h.daemon.registrar.bindings.lookup(u, Date.now()).length, 1, u);
});

test('sipp REGISTER with digest over TCP', { skip }, async () => {
  const r = await sipp('register.xml', h.ports.tcp, ['-t', 't1', '-inf', users('u1003'), '-m', '1', '-p', '0']);
  assert.equal(r.code, 0, r.stdout.slice(-3000));
  const b = h.daemon.registrar.bindings.lookup('u1003', Date.now());
  assert.equal(b[0]?.source.transport, 'tcp');
});

test('sipp REGISTER with a wrong password is challenged again (401), never registered', { skip }, async () => {
  const f = writeFile(h.dir, 'bad.csv', 'SEQUENTIAL\nu1002;[authentication username=u1002 password=wrong];\n');
  const r = await sipp('register.xml', h.ports.udp, ['-inf', f, '-m', '1', '-p', '0']);
  assert.notEqual(r.code, 0);
});

test('sipp REGISTER over TLS 1.2 through stunnel', { skip: skip || (have('stunnel4') ? false : 'stunnel4 is not installed') }, async () => {
  const accept = await freeTcpPort();
  const cm = h.state.store.currentCertificate('CallManager', 'sbd1')!;
  const ca = writeFile(h.dir, 'cm.pem', cm.pem);
  const conf = writeFile(
    h.dir,
    'stunnel.conf',
    [
      'foreground = yes',
      'pid =',
      `output = ${join(h.dir, 'stunnel.log')}`,
      'debug = 4',
      '[sip]',
      'client = yes',
      `accept = 127.0.0.1:${accept}`,
      `connect = 127.0.0.1:${h.ports.tls}`,
      `CAfile = ${ca}`,
      'verifyPeer = yes',
      'sslVersionMin = TLSv1.2',
      'sslVersionMax = TLSv1.2',
      'ciphers = ECDHE-RSA-AES256-GCM-SHA384',
      '',
    ].join('\n'),
  );
  const { spawn } = await import('node:child_process');
  const tunnel = spawn('stunnel4', [conf], { stdio: 'ignore' });
  try {
    // wait until stunnel accepts
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = createServer();
        s.once('error', () => resolve(true));
        s.listen(accept, '127.0.0.1', () => s.close(() => resolve(false)));
      });
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    addLineUser(h.state, 'u2000', 'pw-u2000');
    const r = await sipp('register.xml', accept, ['-t', 't1', '-inf', users('u2000'), '-m', '1', '-p', '0']);
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    const b = h.daemon.registrar.bindings.lookup('u2000', Date.now());
    assert.equal(b[0]?.source.transport, 'tls');
  } finally {
    tunnel.kill();
  }
});

test('call through the proxy: INVITE/180/200/ACK then BYE along Record-Route, SRTP offer kept, secure indication', { skip }, async () => {
  const calleePort = await freeUdpPort();
  const reg = await sipp('register.xml', h.ports.udp, ['-inf', users('u1001'), '-m', '1', '-p', String(calleePort)]);
  assert.equal(reg.code, 0, reg.stdout.slice(-1500));
  const callee = sipp('callee.xml', h.ports.udp, ['-inf', users('u1001'), '-m', '1', '-p', String(calleePort)]);
  await new Promise((r) => setTimeout(r, 500)); // the UAS binds its port; the caller's INVITE retransmits anyway
  const caller = await sipp('caller.xml', h.ports.udp, ['-inf', users('u1000>u1001'), '-m', '1', '-p', '0']);
  const c = await callee;
  assert.equal(caller.code, 0, caller.stdout.slice(-3000));
  assert.equal(c.code, 0, c.stdout.slice(-3000));
});

test('CANCEL while ringing: 200 for the CANCEL, 487 for the INVITE, ACK reaches the callee', { skip }, async () => {
  const calleePort = await freeUdpPort();
  const reg = await sipp('register.xml', h.ports.udp, ['-inf', users('u1001'), '-m', '1', '-p', String(calleePort)]);
  assert.equal(reg.code, 0, reg.stdout.slice(-1500));
  const callee = sipp('callee-cancel.xml', h.ports.udp, ['-inf', users('u1001'), '-m', '1', '-p', String(calleePort)]);
  await new Promise((r) => setTimeout(r, 500));
  const caller = await sipp('caller-cancel.xml', h.ports.udp, ['-inf', users('u1000>u1001'), '-m', '1', '-p', '0']);
  const c = await callee;
  assert.equal(caller.code, 0, caller.stdout.slice(-3000));
  assert.equal(c.code, 0, c.stdout.slice(-3000));
});

test('a trunk peer sending an out-of-dialog REFER its ACL does not allow gets 403', { skip }, async () => {
  h.state.store.sip.putTrunk({
    name: 'gw',
    host: '127.0.0.2',
    port: 5060,
    transport: 'udp',
    digestAuth: false,
    acl: { 'unsolicited-notify': true },
  });
  const r = await run(
    'sipp',
    [
      `127.0.0.1:${h.ports.udp}`,
      '-sf',
      join(scenarios, 'trunk-refer.xml'),
      '-i',
      '127.0.0.2',
      '-p',
      '0',
      '-m',
      '1',
      '-nostdin',
      '-timeout',
      '30',
      '-timeout_error',
    ],
    { cwd: h.dir, timeoutMs: 45_000 },
  );
  assert.equal(r.code, 0, r.stdout.slice(-3000));
});
