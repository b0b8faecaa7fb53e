/**
 * Kernel TLS in the booted x86_64 image (issue 20), in one boot:
 *  - the `tls` module is loaded at boot (rootfs/usr/lib/modules-load.d/sbd-tls.conf): /proc/net/tls_stat exists;
 *  - TVS (2445), CAPF (3804) and SIP (5061) answer a TLS 1.2 client on the host on node:tls (a runtime drop-in per
 *    unit: `--tls-engine node`), then again on the C engine with kTLS (`--tls-engine native --ktls`): each
 *    connection raises /proc/net/tls_stat's TlsTxSw/TlsRxSw (or Device) counts, and each answer has the same bytes
 *    as on the node:tls path (TVS: a VERIFY_RESPONSE about the guest's CallManager certificate; CAPF: the
 *    AUTH_REQUEST it opens with; SIP: the 407 to an OPTIONS, To tag, rport and nonce masked);
 *  - a small bench: an echo server in the guest (the image's own dist) on node:tls, on the engine and on the
 *    engine with kTLS; the host streams ECHO_MIB MiB through one kept connection: bytes/s and guest CPU per MiB.
 * TLS 1.2 with ECDHE-RSA-AES256-GCM-SHA384, what phones use (the engine hands a connection over only when OpenSSL
 * moved both directions into the kernel; OpenSSL 3.0's TLS 1.3 receive side is not expected to).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { buildVerifyRequest } from '../../src/tvs/core/verify.js';
import { Guest, buildImage, repo, until } from './guest.js';

const BOOT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_PASSWORD = 'sbd-admin';
const NEW_PASSWORD = 'Sbd-Image-Test-2026';
const UNITS = { tvs: 'sbd-tvsd', capf: 'sbd-capfd', sip: 'sbd-sipd' } as const;
const ECHO_MIB = Number(process.env.SBD_KTLS_ECHO_MIB ?? 16);
const ECHO_PORT = 4443;
const TLS12 = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' } as const;
/**
 * First run (2026-12-06): no kTLS session at all (tls_stat all 0). Cause, found on the host with gdb and strace:
 * koffi loads libsbdtls.so into a process whose executable (node) exports its own OpenSSL, built without kTLS,
 * so the engine's SSL_* calls bind to Node's copy, not Debian's libssl.so.3. Loaded with RTLD_DEEPBIND
 * (`koffi.load(path, { deep: true })` in src/tls/engine-library.ts) OpenSSL tries TCP_ULP "tls" and TLS_TX/RX.
 * The engine loads that way with ktls since 5aa7ccd; until a QEMU run shows kTLS sessions this part stays a todo
 * (it runs and prints, its failure does not fail the file): set KTLS_TODO to false then.
 */
const KTLS_TODO: string | false = 'kTLS under QEMU not yet seen (libsbdtls.so with RTLD_DEEPBIND since 5aa7ccd, not rerun)';

/** A unit's ExecStart as rootfs/ ships it (the drop-in below appends the engine and kTLS flags). */
function execStart(unit: string): string {
  const text = readFileSync(join(repo, 'rootfs/usr/lib/systemd/system', `${unit}.service`), 'utf8');
  const line = /^ExecStart=(.+)$/m.exec(text)?.[1];
  assert.ok(line, `${unit}.service has an ExecStart`);
  return line;
}

/** Writes a file in the guest through the debug shell (base64 in short lines: the serial tty is line-buffered). */
async function putFile(g: Guest, path: string, content: string | Buffer, mode = '0644'): Promise<void> {
  const b64 = Buffer.from(content).toString('base64');
  assert.equal((await g.root(`mkdir -p "$(dirname ${path})" && : > ${path}.b64`))[0], 0);
  for (let i = 0; i < b64.length; i += 1000) assert.equal((await g.root(`echo -n '${b64.slice(i, i + 1000)}' >> ${path}.b64`))[0], 0);
  const [status, out] = await g.root(`base64 -d ${path}.b64 > ${path} && rm ${path}.b64 && chmod ${mode} ${path}`);
  assert.equal(status, 0, out);
}

async function tlsStat(g: Guest): Promise<Record<string, number>> {
  const [status, out] = await g.root('cat /proc/net/tls_stat');
  assert.equal(status, 0, out);
  return Object.fromEntries(
    out
      .split('\n')
      .map((l) => l.trim().split(/\s+/) as [string, string])
      .map(([k, v]) => [k, Number(v)]),
  );
}

/** A TLS 1.2 connection from the host; sends `request` (if any) and collects the answer until `done` or 3 s of quiet. */
async function exchange(host: string, port: number, request: Buffer | undefined, done: (b: Buffer) => boolean) {
  const socket = connect({ host, port, rejectUnauthorized: false, ...TLS12 });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const peer = socket.getPeerCertificate().raw;
  let got = Buffer.alloc(0);
  const answer = await new Promise<Buffer>((resolve) => {
    let quiet = setTimeout(() => resolve(got), 30_000);
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      clearTimeout(quiet);
      if (done(got)) resolve(got);
      else quiet = setTimeout(() => resolve(got), 3000);
    });
    socket.once('end', () => resolve(got));
    if (request) socket.write(request);
  });
  return { socket, answer, peer, cipher: socket.getCipher().name, version: socket.getProtocol() };
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

/** One exchange per listener; `between` runs after each connection is up (tls_stat read while it is open). */
async function answers(g: Guest, between: (what: string) => Promise<void>): Promise<Answers> {
  const sip = await exchange(g.guestIp, 5061, sipOptions(g.guestIp), sipDone);
  await between('sip');
  sip.socket.destroy();
  // The guest's CallManager certificate (SIP's TLS identity) is one its TVS vouches for.
  const request = buildVerifyRequest({ sessionId: 0x4b544c53, deviceName: 'CP-8845-SEP001122334455', certificate: sip.peer });
  const tvs = await exchange(g.guestIp, 2445, request, () => false);
  await between('tvs');
  tvs.socket.destroy();
  const capf = await exchange(g.guestIp, 3804, undefined, () => false);
  await between('capf');
  capf.socket.destroy();
  for (const x of [sip, tvs, capf]) assert.equal(x.version, 'TLSv1.2');
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

const ECHO_SERVER = `
import { readFileSync } from 'node:fs';
const [mode, port] = process.argv.slice(2);
const lib = '/usr/lib/sbd/dist/src';
const { TlsEngineService } = await import(lib + '/tls/engine-service.js');
const { TlsService } = await import(lib + '/lib/tls-service.js');
const { silentLogger } = await import(lib + '/lib/log.js');
const o = {
  secureContext: { cert: readFileSync('/run/sbd-ktls/cert.pem', 'utf8'), key: readFileSync('/run/sbd-ktls/key.pem', 'utf8') },
  host: '0.0.0.0', port: Number(port), handshakeTimeoutMs: 10000, maxConnections: 16, reloadIntervalMs: 0, reload() {},
  logger: silentLogger, ktls: mode === 'ktls',
  onConnection(s) {
    s.on('data', (d) => { if (!s.write(d)) { s.pause(); s.once('drain', () => s.resume()); } });
    s.on('end', () => s.end());
    s.on('error', () => {});
  },
};
const svc = mode === 'node' ? new TlsService(o) : new TlsEngineService(o);
await svc.listen();
console.log('ready ' + process.pid);
`;

/** utime + stime of a guest process, seconds (CLK_TCK 100 on Debian's kernel). */
async function guestCpu(g: Guest, pid: number): Promise<number> {
  const [, stat] = await g.root(`cat /proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Streams `mib` MiB through the echo server on one connection; resolves with the seconds from first byte to last echo. */
async function echo(host: string, mib: number): Promise<{ seconds: number; cipher: string }> {
  const socket: TLSSocket = connect({ host, port: ECHO_PORT, rejectUnauthorized: false, ...TLS12 });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const total = mib * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const t0 = performance.now();
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      for (const byte of [d[0], d[d.length - 1]]) if (byte !== 0x5a) reject(new Error('echo: wrong bytes'));
      received += d.length;
      if (received >= total) resolve();
    });
    socket.once('error', reject);
    socket.once('close', () => (received >= total ? resolve() : reject(new Error(`echo closed after ${received} bytes`))));
  });
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const cipher = socket.getCipher().name;
  socket.end();
  return { seconds, cipher };
}

test('x86_64 image: kTLS under the TLS engine for TVS, CAPF and SIP; same answers as node:tls; echo bench', {
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

  let reference: Answers | undefined;
  await t.test('on node:tls (--tls-engine node): each listener answers; no kTLS session', async () => {
    await dropIns(g, '--tls-engine node');
    const before = await tlsStat(g);
    reference = await answers(g, async () => {});
    const after = await tlsStat(g);
    assert.equal(after.TlsTxSw, before.TlsTxSw, 'node:tls never uses kernel TLS');
    assert.match(reference.sip, /^SIP\/2\.0 \d{3} /);
    assert.ok(reference.tvs.length > 20 && reference.capf.length > 12, JSON.stringify(reference));
    console.log(
      `# node:tls answers: SIP "${reference.sip.split('\r\n')[0]}", TVS ${reference.tvs.length / 2} bytes, CAPF ${reference.capf.length / 2} bytes`,
    );
  });

  await t.test(
    'on the engine with kTLS: each connection is a kernel TLS session, the answers are the same bytes',
    { todo: KTLS_TODO },
    async () => {
      assert.ok(reference, 'the node:tls answers');
      await dropIns(g, '--tls-engine native --ktls');
      const seen: string[] = [];
      let last = await tlsStat(g);
      const got = await answers(g, async (what) => {
        const now = await tlsStat(g);
        const tx = now.TlsTxSw! + now.TlsTxDevice! - last.TlsTxSw! - last.TlsTxDevice!;
        const rx = now.TlsRxSw! + now.TlsRxDevice! - last.TlsRxSw! - last.TlsRxDevice!;
        const open = now.TlsCurrTxSw! + now.TlsCurrTxDevice!;
        seen.push(`${what}: TX +${tx}, RX +${rx}, ${open} open`);
        assert.ok(tx >= 1 && rx >= 1, `${what}: a kTLS session in both directions (${JSON.stringify(now)})`);
        assert.ok(open >= 1, `${what}: the kTLS session is open while the connection is`);
        last = now;
      });
      console.log(`# /proc/net/tls_stat per connection: ${seen.join('; ')}`);
      assert.equal(got.sip, reference.sip);
      assert.equal(got.tvs, reference.tvs);
      assert.equal(got.capf, reference.capf);
      assert.deepEqual(got.ciphers, reference.ciphers);
    },
  );

  await t.test('bench: echo on one kept connection, node:tls vs engine vs engine+kTLS (bytes/s, guest CPU per MiB)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbd-ktls-'));
    try {
      const r = spawnSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '2',
          '-subj',
          '/CN=ktls-echo',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      assert.equal(r.status, 0);
      await putFile(g, '/run/sbd-ktls/cert.pem', readFileSync(join(dir, 'cert.pem')));
      await putFile(g, '/run/sbd-ktls/key.pem', readFileSync(join(dir, 'key.pem')), '0600');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await putFile(g, '/run/sbd-ktls/echo.mjs', ECHO_SERVER);
    const rows: string[] = [];
    for (const mode of ['node', 'engine', 'ktls']) {
      await g.root(
        `(cd /usr/lib/sbd && nohup /usr/local/bin/node /run/sbd-ktls/echo.mjs ${mode} ${ECHO_PORT} > /run/sbd-ktls/${mode}.log 2>&1 &)`,
      );
      const log = await until(
        g,
        `cat /run/sbd-ktls/${mode}.log`,
        (o) => /ready \d+|Error/.test(o),
        5 * 60_000,
        `echo server (${mode}) ready`,
      );
      const pid = Number(/ready (\d+)/.exec(log)?.[1]);
      assert.ok(pid > 0, log);
      try {
        await echo(g.guestIp, 1); // warm-up (JIT, first handshake)
        const stat0 = await tlsStat(g);
        const cpu0 = await guestCpu(g, pid);
        const { seconds, cipher } = await echo(g.guestIp, ECHO_MIB);
        const cpu = (await guestCpu(g, pid)) - cpu0;
        const stat1 = await tlsStat(g);
        const kernel = stat1.TlsTxSw! - stat0.TlsTxSw!;
        if (mode === 'ktls' && !KTLS_TODO) assert.equal(kernel, 1, 'the kTLS row ran in the kernel');
        else assert.equal(kernel, 0, `${mode} never uses kernel TLS`);
        // Both directions cross the guest's TLS: ECHO_MIB in, ECHO_MIB out.
        const row = `| ${mode === 'ktls' ? 'engine + kTLS' : mode === 'engine' ? 'engine (record layer in OpenSSL)' : 'node:tls'} | ${cipher} | ${((2 * ECHO_MIB) / seconds).toFixed(2)} MiB/s | ${((cpu * 1000) / (2 * ECHO_MIB)).toFixed(0)} ms |`;
        rows.push(row);
        console.log(`# ${row}`);
      } finally {
        await g.root(`kill ${pid}; sleep 1`);
      }
    }
    console.log(
      `# echo through the guest, ${ECHO_MIB} MiB each way on one connection, TLS 1.2\n# | path | suite | bytes through guest TLS per second | guest CPU per MiB |\n# |---|---|---|---|\n${rows.map((r) => `# ${r}`).join('\n')}`,
    );
  });
});
