/**
 * Kernel TLS in the booted x86_64 image (issue 20), in one boot:
 *  - the `tls` module is loaded at boot (rootfs/usr/lib/modules-load.d/sbd-tls.conf): /proc/net/tls_stat exists;
 *  - the shipped units run TVS, CAPF and SIP's TLS listener on the engine without kTLS (the daemons' default: why in
 *    docs/tls.md "Kernel TLS in the image"): `show status` says `engine` for each;
 *  - TVS (2445), CAPF (3804) and SIP (5061) answer a TLS 1.2 client on the host on node:tls (a runtime drop-in per
 *    unit: `--tls-engine node`), then again with `--ktls` (engine, kTLS): each connection raises /proc/net/tls_stat's
 *    TlsTxSw/TlsRxSw (or Device) counts, and each answer has the same bytes as on the node:tls path (TVS: a
 *    VERIFY_RESPONSE about the guest's CallManager certificate; CAPF: the AUTH_REQUEST it opens with; SIP: the 407
 *    to an OPTIONS, To tag, rport and nonce masked);
 *  - over TLS 1.3 (which OpenSSL 3.0 does not hand to the kernel both ways) the engine with `--ktls` serves each
 *    listener, with the same bytes as node:tls;
 *  - an echo server in the guest (the image's own dist) on the engine with kTLS carries 4 MiB each way on one
 *    connection byte-exact through a kernel TLS session. Bytes/s and CPU, kTLS on and off: bench/tls-ktls.bench.ts.
 * TLS 1.2 with ECDHE-RSA-AES256-GCM-SHA384, what phones use (the engine hands a connection over only when OpenSSL
 * moved both directions into the kernel; OpenSSL 3.0's TLS 1.3 receive side does not).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { buildVerifyRequest } from '../../src/tvs/core/verify.js';
import { Guest, buildImage, repo, until } from './guest.js';
import { TLS12, echoKept, installEcho, putFile, startEcho, stopEcho, tlsStat } from './ktls-guest.js';

const BOOT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_PASSWORD = 'sbd-admin';
const NEW_PASSWORD = 'Sbd-Image-Test-2026';
const UNITS = { tvs: 'sbd-tvsd', capf: 'sbd-capfd', sip: 'sbd-sipd' } as const;
/** A unit's ExecStart as rootfs/ ships it (the drop-in below appends the engine and kTLS flags). */
function execStart(unit: string): string {
  const text = readFileSync(join(repo, 'rootfs/usr/lib/systemd/system', `${unit}.service`), 'utf8');
  const line = /^ExecStart=(.+)$/m.exec(text)?.[1];
  assert.ok(line, `${unit}.service has an ExecStart`);
  return line;
}

/** A TLS 1.2 connection from the host; sends `request` (if any) and collects the answer until `done` or 3 s of quiet. */
/** TLS 1.3 as node:tls offers it by default: OpenSSL 3.0 moves only its send side to the kernel; the engine keeps it. */
const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;
type Version = typeof TLS12 | typeof TLS13;

async function exchange(host: string, port: number, request: Buffer | undefined, done: (b: Buffer) => boolean, v: Version = TLS12) {
  const socket = connect({ host, port, rejectUnauthorized: false, ...v });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const peer = socket.getPeerCertificate().raw;
  let got = Buffer.alloc(0);
  let ended = false;
  const answer = await new Promise<Buffer>((resolve) => {
    let quiet = setTimeout(() => resolve(got), 30_000);
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      clearTimeout(quiet);
      if (done(got)) resolve(got);
      else quiet = setTimeout(() => resolve(got), 3000);
    });
    socket.once('end', () => {
      ended = true;
      resolve(got);
    });
    if (request) socket.write(request);
  });
  return { socket, answer, peer, ended, cipher: socket.getCipher().name, version: socket.getProtocol() };
}

const sipOptions = (guest: string) =>
  Buffer.from(
    `OPTIONS sip:${guest}:5061;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.200:5061;branch=z9hG4bKktlstest1;rport\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:ktls@192.0.2.200>;tag=ktls1\r\nTo: <sip:${guest}>\r\nCall-ID: ktls-test-1@192.0.2.200\r\n` +
      'CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
  );
const sipDone = (b: Buffer) => {
  const at = b.indexOf('\r\n\r\n');
  if (at < 0) return false;
  const len = Number(/\r\nContent-Length:\s*(\d+)/i.exec(b.subarray(0, at).toString('latin1'))?.[1] ?? 0);
  return b.length >= at + 4 + len;
};
/** What differs between two answers to the same OPTIONS: the To tag, the client's port, the challenge's nonce. */
const maskSip = (b: Buffer) =>
  b
    .toString('latin1')
    .replace(/(\r\nTo:[^\r]*;tag=)[^;\r>]+/i, '$1*')
    .replace(/rport=\d+/, 'rport=*')
    .replace(/nonce="[^"]*"/, 'nonce="*"');
/** A CAPF frame with its session id (bytes 2..5) masked. */
const maskCapf = (b: Buffer) => {
  const c = Buffer.from(b);
  if (c.length >= 6) c.fill(0, 2, 6);
  return c.toString('hex');
};

interface Answers {
  tvs: string;
  capf: string;
  sip: string;
  ciphers: string[];
}

/**
 * One exchange per listener; `between` runs after each answer, before the client closes (tls_stat read then;
 * `ended`: the server closed already, as TVS does after its one answer).
 */
async function answers(g: Guest, between: (what: string, ended: boolean) => Promise<void>, v: Version = TLS12): Promise<Answers> {
  const sip = await exchange(g.guestIp, 5061, sipOptions(g.guestIp), sipDone, v);
  await between('sip', sip.ended);
  sip.socket.destroy();
  // The guest's CallManager certificate (SIP's TLS identity) is one its TVS vouches for.
  const request = buildVerifyRequest({ sessionId: 0x4b544c53, deviceName: 'CP-8845-SEP001122334455', certificate: sip.peer });
  const tvs = await exchange(g.guestIp, 2445, request, () => false, v);
  await between('tvs', tvs.ended);
  tvs.socket.destroy();
  const capf = await exchange(g.guestIp, 3804, undefined, () => false, v);
  await between('capf', capf.ended);
  capf.socket.destroy();
  for (const x of [sip, tvs, capf]) assert.equal(x.version, v.maxVersion);
  return {
    sip: maskSip(sip.answer),
    tvs: tvs.answer.toString('hex'),
    capf: maskCapf(capf.answer),
    ciphers: [sip.cipher, tvs.cipher, capf.cipher],
  };
}

async function restartAll(g: Guest): Promise<void> {
  const units = Object.values(UNITS).join(' ');
  const [status, out] = await g.root(`systemctl daemon-reload && systemctl restart ${units}`, 10 * 60_000);
  assert.equal(status, 0, out);
  for (const u of Object.values(UNITS))
    await until(g, `systemctl show -p SubState --value ${u}`, (o) => o === 'running', 5 * 60_000, `${u} running`);
  // READY comes once the sockets are bound; the listeners answer from then on.
}

/**
 * The units' TLS path for this test: a runtime drop-in per unit (/run: gone at the next boot) running the shipped
 * command with `flags` appended (a drop-in, not an admin setting: the image has none for the TLS path), then restart.
 */
async function dropIns(g: Guest, flags: string): Promise<void> {
  for (const unit of Object.values(UNITS)) {
    await putFile(
      g,
      `/run/systemd/system/${unit}.service.d/70-ktls.conf`,
      `[Service]\nExecStart=\nExecStart=${execStart(unit)} ${flags}\n`,
    );
  }
  await restartAll(g);
  for (const u of Object.values(UNITS)) {
    const [, cmd] = await g.root(`tr '\\0' ' ' < /proc/$(systemctl show -p MainPID --value ${u})/cmdline`);
    assert.ok(cmd.includes(flags), `${u}: ${cmd}`);
  }
}

/** The TLS column of `show status` for each unit. */
async function statusTls(g: Guest): Promise<Record<string, string>> {
  const out = await g.admin('show status', 300_000);
  const row = (unit: string) => new RegExp(`^${unit}\\s.*\\s(\\S+)$`, 'm').exec(out.replace(/\r/g, ''))?.[1] ?? `(no row in: ${out})`;
  return Object.fromEntries(Object.values(UNITS).map((u) => [u, row(u)]));
}

test('x86_64 image: kTLS under the TLS engine for TVS, CAPF and SIP; same answers as node:tls', {
  timeout: 60 * 60_000,
}, async (t) => {
  buildImage('x86_64');
  const g = new Guest({ arch: 'x86_64', net: 1 + Math.floor(Math.random() * 250), debugShell: true });
  t.after(() => g.dispose());
  t.after(() => console.log(`# guest console (tail):\n${g.console.text.slice(-3000)}`));
  await g.login('admin', DEFAULT_PASSWORD, NEW_PASSWORD, BOOT_TIMEOUT_MS);
  await g.root('true', 5 * 60_000);
  await until(g, 'systemctl is-active sbd-firstboot', (o) => o === 'active', BOOT_TIMEOUT_MS, 'sbd-firstboot finished');
  for (const u of Object.values(UNITS))
    await until(g, `systemctl show -p SubState --value ${u}`, (o) => o === 'running', 5 * 60_000, `${u} running`);

  await t.test('the tls module is loaded at boot and /proc/net/tls_stat exists', async () => {
    const [status, out] = await g.root("grep -E '^tls ' /proc/modules && test -r /proc/net/tls_stat");
    assert.equal(status, 0, out);
  });

  await t.test('as shipped, each TLS listener runs on the engine, kTLS off: show status says engine', async () => {
    for (const u of Object.values(UNITS)) {
      const [, cmd] = await g.root(`tr '\\0' ' ' < /proc/$(systemctl show -p MainPID --value ${u})/cmdline`);
      assert.doesNotMatch(cmd, /--(no-)?ktls|--tls-engine/, `${u} runs with the daemon's defaults: ${cmd}`);
    }
    assert.deepEqual(await statusTls(g), { 'sbd-tvsd': 'engine', 'sbd-capfd': 'engine', 'sbd-sipd': 'engine' });
  });

  let reference: Answers | undefined;
  let reference13: Answers | undefined;
  await t.test('on node:tls (--tls-engine node): each listener answers; no kTLS session', async () => {
    await dropIns(g, '--tls-engine node');
    const before = await tlsStat(g);
    reference = await answers(g, async () => {});
    reference13 = await answers(g, async () => {}, TLS13);
    const after = await tlsStat(g);
    assert.equal(after.TlsTxSw, before.TlsTxSw, 'node:tls never uses kernel TLS');
    assert.match(reference.sip, /^SIP\/2\.0 \d{3} /);
    assert.ok(reference.tvs.length > 20 && reference.capf.length > 12, JSON.stringify(reference));
    assert.deepEqual(await statusTls(g), { 'sbd-tvsd': 'node', 'sbd-capfd': 'node', 'sbd-sipd': 'node' });
    console.log(
      `# node:tls answers: SIP "${reference.sip.split('\r\n')[0]}", TVS ${reference.tvs.length / 2} bytes, CAPF ${reference.capf.length / 2} bytes`,
    );
  });

  await t.test('with --ktls: each connection is a kernel TLS session, the answers are the same bytes', async () => {
    assert.ok(reference, 'the node:tls answers');
    await dropIns(g, '--ktls');
    assert.deepEqual(await statusTls(g), { 'sbd-tvsd': 'engine+ktls', 'sbd-capfd': 'engine+ktls', 'sbd-sipd': 'engine+ktls' });
    const seen: string[] = [];
    let last = await tlsStat(g);
    const got = await answers(g, async (what, ended) => {
      const now = await tlsStat(g);
      const tx = now.TlsTxSw! + now.TlsTxDevice! - last.TlsTxSw! - last.TlsTxDevice!;
      const rx = now.TlsRxSw! + now.TlsRxDevice! - last.TlsRxSw! - last.TlsRxDevice!;
      const open = now.TlsCurrTxSw! + now.TlsCurrTxDevice!;
      seen.push(`${what}: TX +${tx}, RX +${rx}, ${open} open${ended ? ' (closed by the server after its answer)' : ''}`);
      assert.ok(tx >= 1 && rx >= 1, `${what}: a kTLS session in both directions (${JSON.stringify(now)})`);
      // TVS answers one question and closes; SIP and CAPF keep the connection, and its session is open.
      if (!ended) assert.ok(open >= 1, `${what}: the kTLS session is open while the connection is`);
      last = now;
    });
    console.log(`# /proc/net/tls_stat per connection: ${seen.join('; ')}`);
    assert.equal(got.sip, reference.sip);
    assert.equal(got.tvs, reference.tvs);
    assert.equal(got.capf, reference.capf);
    assert.deepEqual(got.ciphers, reference.ciphers);
  });

  await t.test('with --ktls, TLS 1.3 (no kTLS hand-over): the engine serves each listener, the same bytes as node:tls', async () => {
    assert.ok(reference13, 'the node:tls answers over TLS 1.3');
    const got = await answers(g, async () => {}, TLS13);
    assert.equal(got.sip, reference13.sip);
    assert.equal(got.tvs, reference13.tvs);
    assert.equal(got.capf, reference13.capf);
    assert.deepEqual(got.ciphers, reference13.ciphers);
    console.log(`# TLS 1.3 suites: ${got.ciphers.join(', ')}`);
  });

  await t.test('an echo server on the engine with kTLS: 4 MiB each way on one connection, byte-exact, in the kernel', async () => {
    await installEcho(g);
    const pid = await startEcho(g, 'ktls');
    try {
      const before = await tlsStat(g);
      const { cipher } = await echoKept(g.guestIp, 4);
      const after = await tlsStat(g);
      assert.equal(cipher, TLS12.ciphers);
      assert.equal(after.TlsTxSw! - before.TlsTxSw!, 1, 'one kernel TLS session sent');
      assert.equal(after.TlsRxSw! - before.TlsRxSw!, 1, 'and received');
    } finally {
      await stopEcho(g, pid);
    }
  });
});
