/**
 * `sbd daemon sip` as shipped (the CLI process, no options but the state folder and loopback ports) against
 * honest clients and a stranger (issue 16 "Must show"): sipp over UDP and TCP, baresip, and a simulated Cisco
 * phone (a device on the default security profile, with its digest user) register with digest out of the box
 * (one MD5 challenge: sipp 3.6 refuses anything else); a REGISTER with no or wrong credentials never binds, and
 * `Contact: *` with Expires: 0 without credentials removes nothing. The daemon runs in its own process, so the
 * bindings are read the way a client sees them: the 200 to an authenticated query lists them (RFC 3261 §10.3).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { answerChallenge } from '../../../src/sip/core/auth/digest.js';
import { SipPhone } from '../../../src/sim/sip-ua/user-agent.js';
import { addLineUser, have, makeState, runSipp, writeFile } from './harness.js';

const scenarios = join(import.meta.dirname, 'scenarios');
let dir: string;
let daemon: ChildProcess;
let ports: { udp: number; tcp: number; tls?: number };

before(async () => {
  const made = makeState();
  dir = made.dir;
  for (const u of ['u1000', 'u1001', 'u5000']) addLineUser(made.state, u, `pw-${u}`);
  // A Cisco phone as `device add` makes it: the default security profile, a digest user with its password.
  addLineUser(made.state, 'ph7001', 'pw-ph7001');
  made.state.store.addDevice({ name: 'SEP00AABBCC7001', model: '8845', directoryNumber: '7001', digestUser: 'ph7001' });
  made.state.store.close();
  daemon = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'daemon', 'sip', '--state', dir, '--bind', '127.0.0.1', '--port', '0', '--tls-port', '0'],
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
  const l = JSON.parse(line) as { event: string; udp: number; tcp: number; tls?: number };
  assert.equal(l.event, 'listening');
  ports = l;
  lines.on('line', () => {});
});

after(async () => {
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
  }
});

/** One UDP socket exchanging REGISTERs with the daemon. */
async function udpClient(): Promise<{ sock: Socket; port: number; exchange: (text: string) => Promise<string> }> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  const exchange = async (text: string): Promise<string> => {
    const got = once(sock, 'message');
    sock.send(Buffer.from(text), ports.udp, '127.0.0.1');
    return String(((await got) as [Buffer])[0]);
  };
  return { sock, port, exchange };
}

let seq = 1;
function register(aor: string, port: number, extra: string[]): string {
  return [
    'REGISTER sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKdef${seq}x;rport`,
    'Max-Forwards: 70',
    `From: <sip:${aor}@127.0.0.1>;tag=d${seq}`,
    `To: <sip:${aor}@127.0.0.1>`,
    `Call-ID: defaults-${seq}@test`,
    `CSeq: ${seq++} REGISTER`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const challengeOf = (res: string) => /^WWW-Authenticate: (.*)$/m.exec(res)?.[1]?.trim();
const contactsOf = (res: string) => [...res.matchAll(/^Contact: (.*)$/gm)].map((m) => m[1]!.trim());

/** REGISTER, then again with the answer to its challenge: the final response text. */
async function withAuth(
  c: Awaited<ReturnType<typeof udpClient>>,
  aor: string,
  user: string,
  password: string,
  extra: string[],
): Promise<string> {
  const first = await c.exchange(register(aor, c.port, extra));
  assert.match(first, /^SIP\/2.0 401 /);
  const auth = answerChallenge({
    challenge: challengeOf(first)!,
    method: 'REGISTER',
    uri: 'sip:127.0.0.1',
    username: user,
    secret: { password },
    cnonce: 'abc',
    nc: 1,
  });
  return c.exchange(register(aor, c.port, [...extra, `Authorization: ${auth}`]));
}

test('default challenge: one MD5 challenge', async () => {
  const c = await udpClient();
  try {
    const res = await c.exchange(register('u1000', c.port, [`Contact: <sip:u1000@127.0.0.1:${c.port}>`]));
    assert.match(res, /^SIP\/2.0 401 /);
    const all = [...res.matchAll(/^WWW-Authenticate: (.*)$/gm)].map((m) => m[1]!);
    assert.equal(all.length, 1);
    assert.match(all[0]!, /algorithm=MD5/);
  } finally {
    c.sock.close();
  }
});

const sippSkip = have('sipp') ? false : 'sipp (Debian sip-tester) is not installed';

function users(u: string): string {
  return writeFile(dir, `users-${u}.csv`, `SEQUENTIAL\n${u};[authentication username=${u} password=pw-${u}];\n`);
}

test('sipp registers with digest over UDP out of the box', { skip: sippSkip }, async () => {
  const r = await runSipp(
    dir,
    [`127.0.0.1:${ports.udp}`, '-sf', join(scenarios, 'register.xml'), '-i', '127.0.0.1', '-inf', users('u1000'), '-m', '1', '-p', '0'],
    'defaults-udp',
  );
  assert.equal(r.code, 0, r.stdout.slice(-3000));
});

test('sipp registers with digest over TCP out of the box', { skip: sippSkip }, async () => {
  const r = await runSipp(
    dir,
    [
      `127.0.0.1:${ports.tcp}`,
      '-sf',
      join(scenarios, 'register.xml'),
      '-i',
      '127.0.0.1',
      '-t',
      't1',
      '-inf',
      users('u1001'),
      '-m',
      '1',
      '-p',
      '0',
    ],
    'defaults-tcp',
  );
  assert.equal(r.code, 0, r.stdout.slice(-3000));
});

test('baresip registers with digest out of the box', {
  skip: have('baresip') ? false : 'baresip is not installed',
  timeout: 60_000,
}, async () => {
  const bdir = join(dir, 'baresip');
  mkdirSync(bdir);
  writeFileSync(
    join(bdir, 'config'),
    [
      'poll_method epoll',
      'sip_listen 127.0.0.1:0',
      'net_interface 127.0.0.1',
      'audio_player aubridge,nil',
      'audio_source aubridge,nil',
      'module_path /usr/lib/baresip/modules',
      'module stdio.so',
      'module g711.so',
      'module aubridge.so',
      'module_app account.so',
      'module_app menu.so',
      '',
    ].join('\n'),
  );
  writeFileSync(join(bdir, 'accounts'), `<sip:u5000@127.0.0.1:${ports.udp};transport=udp>;auth_pass=pw-u5000;regint=600\n`);
  const bs = spawn('baresip', ['-f', bdir, '-v', '-t', '30'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  const exited = once(bs, 'close');
  try {
    await new Promise<void>((resolve, reject) => {
      const on = (d: Buffer) => {
        log += d.toString('utf8');
        if (/registered successfully/.test(log)) resolve();
        else if (/401|403|failed/i.test(log) && /reg: .*(failed|Unauthorized|Forbidden)/i.test(log)) reject(new Error(log.slice(-2000)));
      };
      bs.stdout.on('data', on);
      bs.stderr.on('data', on);
      exited.then(
        () => reject(new Error(`baresip exited before registering:\n${log.slice(-2000)}`)),
        () => {},
      );
    });
  } finally {
    if (bs.exitCode === null) bs.kill('SIGKILL');
    await exited;
  }
  const c = await udpClient();
  try {
    const q = await withAuth(c, 'u5000', 'u5000', 'pw-u5000', []);
    assert.match(q, /^SIP\/2.0 200 /);
    assert.equal(contactsOf(q).length, 1, "baresip's binding");
  } finally {
    c.sock.close();
  }
});

test('a simulated Cisco phone registers with its digest user; no or wrong credentials and Contact: * bind and remove nothing', async () => {
  const phone = await SipPhone.connect({
    flow: { transport: 'udp', host: '127.0.0.1', port: ports.udp },
    line: '7001',
    credentials: { username: 'ph7001', password: 'pw-ph7001' },
  });
  const c = await udpClient();
  try {
    assert.equal((await phone.register()).status, 200);
    const evil = `Contact: <sip:evil@127.0.0.1:${c.port}>`;
    assert.match(await c.exchange(register('7001', c.port, [evil, 'Expires: 600'])), /^SIP\/2.0 401 /, 'no credentials');
    assert.match(await withAuth(c, '7001', 'ph7001', 'wrong-password', [evil, 'Expires: 600']), /^SIP\/2.0 401 /, 'wrong password');
    assert.match(
      await c.exchange(register('7001', c.port, ['Contact: *', 'Expires: 0'])),
      /^SIP\/2.0 401 /,
      'Contact: * without credentials',
    );
    // What is bound now, as the phone's own credentials see it: the phone's contact alone.
    const q = await withAuth(c, '7001', 'ph7001', 'pw-ph7001', []);
    assert.match(q, /^SIP\/2.0 200 /);
    const bound = contactsOf(q);
    assert.equal(bound.length, 1, bound.join(', '));
    assert.ok(bound[0]!.startsWith(`<${phone.contact()}>`), bound[0]);
    // The phone itself may unregister everything.
    const gone = await withAuth(c, '7001', 'ph7001', 'pw-ph7001', ['Contact: *', 'Expires: 0']);
    assert.match(gone, /^SIP\/2.0 200 /);
    assert.equal(contactsOf(gone).length, 0);
  } finally {
    phone.close();
    c.sock.close();
  }
});
