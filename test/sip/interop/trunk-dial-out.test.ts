/**
 * sbd dialling out to trunks over TCP and TLS, real peers on loopback: a sipp phone (UDP) calls a number routed
 * to a trunk; the trunk is a sipp UAS over TCP (sbd opens the connection, the 407 is answered over it, ACK and
 * BYE reuse it), and over TLS an stunnel server (certificate for the trunk's IP, signed by a CA made here with
 * the openssl CLI) in front of a sipp UAS. A trunk whose certificate does not chain to its CA bundle gets no
 * request at all. The TLS dials run on the TLS engine where it is built (sipd's TLS listener runs there, and its
 * dial-out with it); test/tls/sip-dial.test.ts runs this file again with SBD_TLS_ENGINE=node (node:tls).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { encryptTrunkPassword } from '../../../src/sip/auth/trunk-secret.js';
import { createLogger } from '../../../src/lib/log.js';
import type { SipTransport } from '../../../src/store/sip.js';
import { dialPath } from './dial-path.js';
import { addLineUser, freePort, have, makeState, run, runSipp, startDaemon, writeFile, type Harness } from './harness.js';

const scenarios = join(import.meta.dirname, 'scenarios');
const skip = !have('sipp')
  ? 'sipp (Debian sip-tester) is not installed'
  : !have('stunnel4')
    ? 'stunnel4 is not installed'
    : !have('openssl')
      ? 'openssl is not installed'
      : false;
const PASSWORD = 'carrier-pw-dial';
let h: Harness;
const logLines: string[] = [];
const children: ChildProcess[] = [];
let pki: { ca: string; otherCa: string; cert: (ip: string) => { cert: string; key: string } };

/** A test CA and server certificates for trunk IPs, made by the openssl CLI (the real OpenSSL). */
function makePki(dir: string) {
  const ossl = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  for (const name of ['ca', 'other-ca']) {
    ossl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=Test ${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  }
  return {
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    otherCa: readFileSync(join(dir, 'other-ca.pem'), 'utf8'),
    cert(ip: string) {
      writeFile(dir, `ext-${ip}.cnf`, `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth\n`);
      ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `trunk-${ip}.key`, '-out', `trunk-${ip}.csr`, '-subj', `/CN=trunk ${ip}`]);
      ossl([
        'x509',
        '-req',
        '-in',
        `trunk-${ip}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `trunk-${ip}.pem`,
        '-days',
        '2',
        '-extfile',
        `ext-${ip}.cnf`,
      ]);
      return { cert: join(dir, `trunk-${ip}.pem`), key: join(dir, `trunk-${ip}.key`) };
    },
  };
}

before(async () => {
  if (skip) return;
  const made = makeState();
  pki = makePki(made.dir);
  h = await startDaemon(
    {
      logger: createLogger('sip', { write: (l) => logLines.push(l) }),
      trunkTlsCa: { 'carrier-tls': pki.ca, 'carrier-bad': pki.otherCa },
      connectTimeout: 10_000,
    },
    made,
  );
  addLineUser(h.state, 'u1000', 'pw-u1000');
});
after(async () => {
  for (const c of children) c.kill();
  await h?.close();
});

/** Resolves once something accepts TCP connections on host:port (bounded). */
async function accepting(host: string, port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing accepts on ${host}:${port}`);
}

function trunk(name: string, ip: string, port: number, transport: SipTransport, prefix: string): void {
  h.state.store.sip.putTrunk({ name, host: ip, port, transport, digestAuth: false });
  h.state.store.sip.putRoutePattern(`${prefix}!`, null, name);
  h.state.store.sip.putTrunkCredential(
    name,
    'carrier.example',
    'sbd-account',
    encryptTrunkPassword(h.state.layout, name, 'carrier.example', PASSWORD),
  );
}

const sipp = (args: string[], name: string, timeoutS = 30) => runSipp(h.dir, args, name, timeoutS);

async function phoneCalls(number: string, name: string, timeoutS = 30) {
  const users = writeFile(h.dir, `${name}-users.csv`, `SEQUENTIAL\nu1000;[authentication username=u1000 password=pw-u1000];${number}\n`);
  return sipp(
    [
      `127.0.0.1:${h.ports.udp}`,
      '-sf',
      join(scenarios, 'phone-trunk-call.xml'),
      '-i',
      '127.0.0.1',
      '-p',
      String(await freePort('udp', '127.0.0.1')),
      '-m',
      '1',
      '-inf',
      users,
    ],
    `${name}-phone`,
    timeoutS,
  );
}

test('trunk over TCP: sbd opens the connection, answers the 407 over it, ACK and BYE reuse it', { skip }, async () => {
  const ip = '127.0.0.4';
  const port = await freePort('tcp', ip);
  trunk('carrier-tcp', ip, port, 'tcp', '8');
  const before = h.daemon.tcp.stats.outboundConnections;
  const uas = sipp(
    [
      '-sf',
      join(scenarios, 'trunk-auth-uas-contact.xml'),
      '-t',
      't1',
      '-i',
      ip,
      '-p',
      String(port),
      '-m',
      '1',
      '-key',
      'contact_hostport',
      `${ip}:${port}`,
      '-key',
      'contact_transport',
      'tcp',
    ],
    'tcp-trunk',
  );
  await new Promise((r) => setTimeout(r, 500)); // sipp binds; a refused first connect is retried on the phone's retransmission
  const phone = await phoneCalls('8123', 'tcp');
  const t = await uas;
  assert.equal(t.code, 0, t.stdout.slice(-4000));
  assert.equal(phone.code, 0, phone.stdout.slice(-4000));
  const opened = h.daemon.tcp.stats.outboundConnections - before;
  assert.ok(opened >= 1 && opened <= 2, `outbound connections opened: ${opened}`); // 2 only if the first connect raced sipp's bind
  assert.ok(logLines.some((l) => l.includes('trunk-challenge-answered') && l.includes('carrier-tcp')));
});

test("trunk over TLS (stunnel server in front of sipp): certificate verified against the trunk's CA, call with challenge, ACK/BYE on the same connection", {
  skip,
}, async () => {
  const ip = '127.0.0.5';
  const backend = await freePort('tcp', ip);
  const front = await freePort('tcp', ip);
  const { cert, key } = pki.cert(ip);
  const conf = writeFile(
    h.dir,
    'stunnel-trunk.conf',
    [
      'foreground = yes',
      'pid =',
      `output = ${join(h.dir, 'stunnel-trunk.log')}`,
      'debug = 5',
      '[trunk]',
      `accept = ${ip}:${front}`,
      `connect = ${ip}:${backend}`,
      `cert = ${cert}`,
      `key = ${key}`,
      'sslVersionMin = TLSv1.2',
      '',
    ].join('\n'),
  );
  const uas = sipp(
    [
      '-sf',
      join(scenarios, 'trunk-auth-uas-contact.xml'),
      '-t',
      't1',
      '-i',
      ip,
      '-p',
      String(backend),
      '-m',
      '1',
      '-key',
      'contact_hostport',
      `${ip}:${front}`,
      '-key',
      'contact_transport',
      'tls',
    ],
    'tls-trunk',
  );
  const tunnel = spawn('stunnel4', [conf], { stdio: 'ignore' });
  children.push(tunnel);
  await accepting(ip, front);
  trunk('carrier-tls', ip, front, 'tls', '7');
  const before = h.daemon.tls!.stats.outboundConnections;
  assert.equal(h.daemon.tls!.tlsDialPath, dialPath);
  const phone = await phoneCalls('7123', 'tls');
  const t = await uas;
  tunnel.kill();
  assert.equal(t.code, 0, t.stdout.slice(-4000));
  assert.equal(phone.code, 0, phone.stdout.slice(-4000));
  assert.equal(h.daemon.tls!.stats.outboundConnections - before, 1);
  // one TLS session carried the whole call (stunnel opened one connection to sipp behind it)
  const log = readFileSync(join(h.dir, 'stunnel-trunk.log'), 'utf8');
  assert.equal((log.match(/connected remote server/g) ?? []).length, 1, log);
});

test("trunk over TLS whose certificate does not chain to the trunk's CA bundle: no connection, nothing sent, the failure logged", {
  skip,
}, async () => {
  const ip = '127.0.0.6';
  const backend = await freePort('tcp', ip);
  const front = await freePort('tcp', ip);
  const { cert, key } = pki.cert(ip);
  const conf = writeFile(
    h.dir,
    'stunnel-bad.conf',
    [
      'foreground = yes',
      'pid =',
      `output = ${join(h.dir, 'stunnel-bad.log')}`,
      'debug = 5',
      '[trunk]',
      `accept = ${ip}:${front}`,
      `connect = ${ip}:${backend}`,
      `cert = ${cert}`,
      `key = ${key}`,
      '',
    ].join('\n'),
  );
  // what stunnel would pass on: a plain listener that must see no connection
  let reached = 0;
  const sink = createServer((s) => {
    reached++;
    s.destroy();
  });
  await new Promise<void>((r) => sink.listen(backend, ip, r));
  const tunnel = spawn('stunnel4', [conf], { stdio: 'ignore' });
  children.push(tunnel);
  try {
    await accepting(ip, front);
    reached = 0; // our own probe went through stunnel without TLS and reached nothing, but count from here
    trunk('carrier-bad', ip, front, 'tls', '6');
    const failures = h.daemon.tls!.stats.connectFailures;
    const phone = await phoneCalls('6123', 'bad', 4);
    assert.notEqual(phone.code, 0);
    assert.ok(h.daemon.tls!.stats.connectFailures > failures);
    assert.equal(reached, 0);
    const failed = logLines.filter((l) => l.includes('connect-failed') && l.includes(`${ip}:${front}`));
    assert.ok(failed.length > 0);
    assert.match(failed[0]!, /certificate|self.signed|issuer/i);
  } finally {
    tunnel.kill();
    await new Promise<void>((r) => sink.close(() => r()));
  }
});

// --- the trunk's CA bundle from the store, set with the CLI while the daemon runs (no trunkTlsCa option for it)
const cliMain = join(import.meta.dirname, '..', '..', '..', 'src', 'cli', 'main.ts');
const sbd = (...args: string[]) => run(process.execPath, ['--import', 'tsx', cliMain, ...args, '--state', h.dir], { timeoutMs: 90_000 });

test('trunk over TLS with its CA bundle from the store (sbd trunk add --ca, sbd trunk ca): the wrong CA refuses the connection, the right one set with the CLI is used on the next call without a restart', {
  skip,
}, async () => {
  const ip = '127.0.0.7';
  const backend = await freePort('tcp', ip);
  const front = await freePort('tcp', ip);
  const { cert, key } = pki.cert(ip);
  const conf = writeFile(
    h.dir,
    'stunnel-store.conf',
    [
      'foreground = yes',
      'pid =',
      `output = ${join(h.dir, 'stunnel-store.log')}`,
      'debug = 5',
      '[trunk]',
      `accept = ${ip}:${front}`,
      `connect = ${ip}:${backend}`,
      `cert = ${cert}`,
      `key = ${key}`,
      'sslVersionMin = TLSv1.2',
      '',
    ].join('\n'),
  );
  const tunnel = spawn('stunnel4', [conf], { stdio: 'ignore' });
  children.push(tunnel);
  try {
    await accepting(ip, front);
    const caFile = join(h.dir, 'ca.pem');
    const otherCaFile = join(h.dir, 'other-ca.pem');
    const added = await sbd(
      'trunk',
      'add',
      'carrier-store',
      '--host',
      ip,
      '--port',
      String(front),
      '--transport',
      'tls',
      '--ca',
      otherCaFile,
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /ca:1 \(Test other-ca\)/);
    for (const args of [
      ['route', 'add', '5!', '--trunk', 'carrier-store'],
      ['trunk', 'credential', 'carrier-store', '--realm', 'carrier.example', '--username', 'sbd-account', '--password', PASSWORD],
    ]) {
      const r = await sbd(...args);
      assert.equal(r.code, 0, r.stderr);
    }
    // The wrong CA in the store: the handshake is refused by sbd, the call fails, nothing reaches a backend.
    const failures = h.daemon.tls!.stats.connectFailures;
    const refused = await phoneCalls('5123', 'store-wrong', 4);
    assert.notEqual(refused.code, 0);
    assert.ok(h.daemon.tls!.stats.connectFailures > failures);
    const failed = logLines.filter((l) => l.includes('connect-failed') && l.includes(`${ip}:${front}`));
    assert.ok(failed.length > 0);
    assert.match(failed[0]!, /certificate|self.signed|issuer/i);
    assert.doesNotMatch(readFileSync(join(h.dir, 'stunnel-store.log'), 'utf8'), /connected remote server/);

    // A bad file is refused by the CLI with the store's error code, and the stored bundle stays.
    const bad = await sbd('trunk', 'ca', 'carrier-store', '--file', join(h.dir, `trunk-${ip}.key`));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /PEM block 1 is a 'PRIVATE KEY', not a CERTIFICATE.*\[ERR_SIP_TRUNK_CA_INVALID\]/);
    const listed = await sbd('trunk', 'list');
    assert.match(listed.stdout, /^carrier-store\ttls:127\.0\.0\.7:\d+\t.*\tca:1 \(Test other-ca\)$/m);

    // The right CA, set while the daemon runs: the next call dials with it.
    const fixed = await sbd('trunk', 'ca', 'carrier-store', '--file', caFile);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stdout, /trunk carrier-store: ca:1 \(Test ca\)/);
    const uas = sipp(
      [
        '-sf',
        join(scenarios, 'trunk-auth-uas-contact.xml'),
        '-t',
        't1',
        '-i',
        ip,
        '-p',
        String(backend),
        '-m',
        '1',
        '-key',
        'contact_hostport',
        `${ip}:${front}`,
        '-key',
        'contact_transport',
        'tls',
      ],
      'store-trunk',
    );
    await accepting(ip, backend).catch(() => undefined); // sipp binds its TCP listener (probe goes straight to it)
    const opened = h.daemon.tls!.stats.outboundConnections;
    const phone = await phoneCalls('5123', 'store-right');
    const t = await uas;
    assert.equal(t.code, 0, t.stdout.slice(-4000));
    assert.equal(phone.code, 0, phone.stdout.slice(-4000));
    assert.equal(h.daemon.tls!.stats.outboundConnections - opened, 1);
    assert.match(readFileSync(join(h.dir, 'stunnel-store.log'), 'utf8'), /connected remote server/);

    const cleared = await sbd('trunk', 'ca', 'carrier-store', '--clear');
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /ca:-/);
    const usage = await sbd('trunk', 'ca', 'carrier-store', '--clear', '--file', caFile);
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr, /exactly one of --file FILE or --clear/);
  } finally {
    tunnel.kill();
  }
});
