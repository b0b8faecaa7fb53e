/**
 * linphone (Debian `linphone-cli`, liblinphone 5) against `sbd daemon sip` as shipped (issue 16: digest required,
 * one MD5 challenge, out of the box). The daemon runs in its own process like registrar-defaults.test.ts, so a
 * binding is read the way a client sees it: the 200 to an authenticated REGISTER query lists the contacts
 * (RFC 3261 §10.3). linphonec runs non-interactively: a fresh HOME holding an rc file with one proxy and its
 * auth_info, its debug log streamed from stdout/stderr, and `quit` on stdin (it is SIGKILLed if it lingers).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { answerChallenge } from '../../../src/sip/core/auth/digest.js';
import { addLineUser, have, makeState } from './harness.js';

const skip = have('linphonec') ? false : 'linphonec (Debian linphone-cli) is not installed';
let dir: string;
let daemon: ChildProcess | undefined;
let udpPort: number;
const daemonLog: string[] = [];

before(async () => {
  if (skip) return;
  const made = makeState();
  dir = made.dir;
  addLineUser(made.state, 'u6000', 'pw-u6000');
  addLineUser(made.state, 'u6001', 'pw-u6001');
  made.state.store.close();
  // No security option at all: the defaults are what is under test.
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
  const l = JSON.parse(line) as { event: string; udp: number };
  assert.equal(l.event, 'listening');
  udpPort = l.udp;
  lines.on('line', (x) => daemonLog.push(x));
});

after(async () => {
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await once(daemon, 'exit');
  }
});

/** The contacts bound to `aor`, as an authenticated REGISTER query (no Contact) from a fresh UDP socket sees them. */
async function boundContacts(aor: string, password: string): Promise<string[]> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  const exchange = async (text: string): Promise<string> => {
    const got = once(sock, 'message');
    sock.send(Buffer.from(text), udpPort, '127.0.0.1');
    return String(((await got) as [Buffer])[0]);
  };
  const req = (cseq: number, extra: string[]) =>
    [
      'REGISTER sip:127.0.0.1 SIP/2.0',
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bKlq${aor}${cseq};rport`,
      'Max-Forwards: 70',
      `From: <sip:${aor}@127.0.0.1>;tag=q${cseq}`,
      `To: <sip:${aor}@127.0.0.1>`,
      `Call-ID: linphone-query-${aor}@test`,
      `CSeq: ${cseq} REGISTER`,
      ...extra,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  try {
    const first = await exchange(req(1, []));
    assert.match(first, /^SIP\/2.0 401 /);
    const challenge = /^WWW-Authenticate: (.*)$/m.exec(first)![1]!.trim();
    const auth = answerChallenge({
      challenge,
      method: 'REGISTER',
      uri: 'sip:127.0.0.1',
      username: aor,
      secret: { password },
      cnonce: 'lq',
      nc: 1,
    });
    const res = await exchange(req(2, [`Authorization: ${auth}`]));
    assert.match(res, /^SIP\/2.0 200 /);
    return [...res.matchAll(/^Contact: (.*)$/gm)].map((m) => m[1]!.trim());
  } finally {
    sock.close();
  }
}

/**
 * Runs linphonec for `user` with `password` until its log shows `until` (or it fails/exits: rejected with the log),
 * calls `inspect` while it is still registered (linphonec unregisters on quit), then quits it; SIGKILL in any case.
 */
async function withLinphone(
  user: string,
  password: string,
  until: (log: string) => boolean,
  inspect: () => Promise<void>,
): Promise<string> {
  const home = join(dir, `linphone-${user}-${password}`);
  // liblinphone refuses to start without a writable place for its sqlite database.
  mkdirSync(join(home, '.local', 'share', 'linphone'), { recursive: true });
  const rc = join(home, 'linphonerc');
  writeFileSync(
    rc,
    [
      '[sip]',
      'sip_port=-1',
      'sip_tcp_port=0',
      'sip_tls_port=0',
      'bind_address=127.0.0.1',
      'use_ipv6=0',
      '',
      '[proxy_0]',
      `reg_proxy=<sip:127.0.0.1:${udpPort};transport=udp>`,
      `reg_identity=sip:${user}@127.0.0.1`,
      'reg_expires=600',
      'reg_sendregister=1',
      'publish=0',
      '',
      '[auth_info_0]',
      `username=${user}`,
      `passwd=${password}`,
      'domain=127.0.0.1',
      '',
    ].join('\n'),
  );
  const lp = spawn('linphonec', ['-c', rc, '-d', '6'], {
    cwd: home,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, HOME: home, XDG_DATA_HOME: join(home, '.local', 'share'), XDG_CONFIG_HOME: join(home, '.config') },
  });
  const exited = once(lp, 'close');
  let log = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const on = (d: Buffer) => {
        log += d.toString('utf8');
        if (until(log)) resolve();
      };
      lp.stdout.on('data', on);
      lp.stderr.on('data', on);
      exited.then(
        () => reject(new Error(`linphonec exited early:\n${log.slice(-3000)}`)),
        () => {},
      );
      // A bound on a hung peer, not a timing assertion.
      setTimeout(() => reject(new Error(`linphonec never got there:\n${log.slice(-3000)}`)), 30_000).unref();
    });
    await inspect();
    lp.stdin.write('quit\n');
  } finally {
    lp.stdin.end();
    const killer = setTimeout(() => lp.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  }
  return log;
}

test('linphonec registers with digest (MD5) out of the box', { skip, timeout: 60_000 }, async () => {
  let contacts: string[] = [];
  const log = await withLinphone(
    'u6000',
    'pw-u6000',
    (l) => /to \[LinphoneRegistrationOk\]|to \[LinphoneRegistrationFailed\]/.test(l),
    async () => {
      contacts = await boundContacts('u6000', 'pw-u6000');
    },
  );
  assert.match(log, /to \[LinphoneRegistrationOk\]/, log.slice(-3000));
  assert.match(log, /^Authorization: +Digest .*algorithm=MD5/m, 'linphone answered the MD5 challenge');
  assert.equal(contacts.length, 1, contacts.join(', '));
  const port = /Random port for listening point \S+ is (\d+)/.exec(log)?.[1];
  assert.ok(port, "linphonec's UDP port");
  assert.match(contacts[0]!, new RegExp(`^<sip:u6000@127\\.0\\.0\\.1:${port};transport=udp>`), "linphone's own contact");
  const registered = daemonLog
    .map((x) => JSON.parse(x) as Record<string, unknown>)
    .filter((e) => e.event === 'register' && e.result === 'registered' && e.aor === 'u6000' && e.from === `udp:127.0.0.1:${port}`);
  assert.equal(registered.length, 1, daemonLog.join('\n'));
});

test('linphonec with a wrong password gets no binding', { skip, timeout: 60_000 }, async () => {
  let contacts: string[] = ['not queried'];
  // Rejected for good: a 401 to a REGISTER that carried credentials (liblinphone then waits for a new password).
  const log = await withLinphone(
    'u6001',
    'not-the-password',
    (l) => /^Authorization: +Digest[\s\S]*Register refresher \[401\]/m.test(l),
    async () => {
      contacts = await boundContacts('u6001', 'pw-u6001');
    },
  );
  assert.doesNotMatch(log, /to \[LinphoneRegistrationOk\]/);
  assert.deepEqual(contacts, []);
  assert.equal(
    daemonLog.filter((x) => /"event":"register"/.test(x) && /"aor":"u6001"/.test(x) && /"result":"registered"/.test(x)).length,
    0,
  );
});
