/**
 * Kernel TLS in a booted image: what test/image/ktls.test.ts and bench/tls-ktls.bench.ts share. Files written
 * into the guest through the debug shell, /proc/net/tls_stat, a guest process's CPU, and an echo server in the
 * guest built from the image's own dist on node:tls, on the TLS engine, or on the engine with kTLS, which the host
 * drives over one kept connection (bytes) or over new connections (handshakes).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { type Guest, until } from './guest.js';

export const ECHO_PORT = 4443;
/** TLS 1.2 with the suite phones use: the engine hands a connection to the kernel only when OpenSSL moved both directions. */
export const TLS12 = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' } as const;
export type EchoMode = 'node' | 'engine' | 'ktls';
export const echoModeName: Record<EchoMode, string> = {
  node: 'node:tls',
  engine: 'engine, kTLS off (record layer in OpenSSL)',
  ktls: 'engine, kTLS on (record layer in the kernel)',
};

/** Writes a file in the guest through the debug shell (base64 in short lines: the serial tty is line-buffered). */
export async function putFile(g: Guest, path: string, content: string | Buffer, mode = '0644'): Promise<void> {
  const b64 = Buffer.from(content).toString('base64');
  assert.equal((await g.root(`mkdir -p "$(dirname ${path})" && : > ${path}.b64`))[0], 0);
  for (let i = 0; i < b64.length; i += 1000) assert.equal((await g.root(`echo -n '${b64.slice(i, i + 1000)}' >> ${path}.b64`))[0], 0);
  const [status, out] = await g.root(`base64 -d ${path}.b64 > ${path} && rm ${path}.b64 && chmod ${mode} ${path}`);
  assert.equal(status, 0, out);
}

/** /proc/net/tls_stat as numbers (TlsTxSw, TlsRxSw, TlsCurrTxSw, …). */
export async function tlsStat(g: Guest): Promise<Record<string, number>> {
  const [status, out] = await g.root('cat /proc/net/tls_stat');
  assert.equal(status, 0, out);
  return Object.fromEntries(
    out
      .split('\n')
      .map((l) => l.trim().split(/\s+/) as [string, string])
      .map(([k, v]) => [k, Number(v)]),
  );
}

/** utime + stime of a guest process, all its threads, seconds (CLK_TCK 100 on Debian's kernel). */
export async function guestCpu(g: Guest, pid: number): Promise<number> {
  const [, stat] = await g.root(`cat /proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
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
  host: '0.0.0.0', port: Number(port), handshakeTimeoutMs: 10000, maxConnections: 64, reloadIntervalMs: 0, reload() {},
  logger: silentLogger, ktls: mode === 'ktls',
  onConnection(s) {
    s.on('data', (d) => { if (!s.write(d)) { s.pause(); s.once('drain', () => s.resume()); } });
    s.on('end', () => s.end());
    s.on('error', () => s.destroy());
  },
};
const svc = mode === 'node' ? new TlsService(o) : new TlsEngineService(o);
await svc.listen();
console.log('ready ' + process.pid);
`;

/** A throwaway RSA-2048 certificate and the echo server's script, in the guest's /run/sbd-ktls. */
export async function installEcho(g: Guest): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-ktls-'));
  try {
    const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ktls-echo'];
    const r = spawnSync('openssl', [...args, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    assert.equal(r.status, 0, 'openssl req');
    await putFile(g, '/run/sbd-ktls/cert.pem', readFileSync(join(dir, 'cert.pem')));
    await putFile(g, '/run/sbd-ktls/key.pem', readFileSync(join(dir, 'key.pem')), '0600');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await putFile(g, '/run/sbd-ktls/echo.mjs', ECHO_SERVER);
}

/** Starts the echo server in `mode`; resolves with its pid once it listens. */
export async function startEcho(g: Guest, mode: EchoMode): Promise<number> {
  await g.root(
    `(cd /usr/lib/sbd && nohup /usr/local/bin/node /run/sbd-ktls/echo.mjs ${mode} ${ECHO_PORT} > /run/sbd-ktls/${mode}.log 2>&1 &)`,
  );
  const log = await until(g, `cat /run/sbd-ktls/${mode}.log`, (o) => /ready \d+|Error/.test(o), 5 * 60_000, `echo server (${mode}) ready`);
  const pid = Number(/ready (\d+)/.exec(log)?.[1]);
  assert.ok(pid > 0, log);
  return pid;
}

export async function stopEcho(g: Guest, pid: number): Promise<void> {
  await g.root(`kill ${pid}; sleep 1`);
}

/** Byte i of an echo stream: a counter mixed with its position, so a lost, doubled or reordered chunk shows. */
const patternByte = (i: number) => (i * 131 + (i >>> 13)) & 0xff;

/**
 * Streams `mib` MiB through the echo server on one TLS 1.2 connection and compares every byte that comes back.
 * Resolves with the seconds from first byte sent to last byte back.
 */
export async function echoKept(host: string, mib: number): Promise<{ seconds: number; cipher: string }> {
  const socket: TLSSocket = connect({ host, port: ECHO_PORT, rejectUnauthorized: false, ...TLS12 });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const total = mib * 1024 * 1024;
  const chunkSize = 64 * 1024;
  const t0 = performance.now();
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      for (let i = 0; i < d.length; i++)
        if (d[i] !== patternByte(received + i)) return reject(new Error(`echo: wrong byte at offset ${received + i}`));
      received += d.length;
      if (received >= total) resolve();
    });
    socket.once('error', reject);
    socket.once('close', () => (received >= total ? resolve() : reject(new Error(`echo closed after ${received} bytes`))));
  });
  for (let sent = 0; sent < total; sent += chunkSize) {
    const chunk = Buffer.alloc(chunkSize);
    for (let i = 0; i < chunkSize; i++) chunk[i] = patternByte(sent + i);
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const cipher = socket.getCipher().name;
  socket.end();
  return { seconds, cipher };
}

/** `count` new TLS 1.2 connections one after another, each a 200-byte echo then close; resolves with the seconds. */
export async function echoNew(host: string, count: number): Promise<number> {
  const request = Buffer.alloc(200, 0x61);
  const t0 = performance.now();
  for (let n = 0; n < count; n++) {
    const socket: TLSSocket = connect({ host, port: ECHO_PORT, rejectUnauthorized: false, ...TLS12 });
    await new Promise<void>((resolve, reject) => {
      let got = 0;
      socket.once('secureConnect', () => socket.write(request));
      socket.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= request.length) socket.end();
      });
      // A kTLS server reads our close_notify as EIO (a record that is no data: docs/tls.md) and resets; after the
      // echo that ends the connection as well as its FIN would.
      socket.once('error', (e) => (got >= request.length ? resolve() : reject(e)));
      socket.once('close', () => (got >= request.length ? resolve() : reject(new Error(`connection ${n}: ${got} bytes back`))));
    });
  }
  return (performance.now() - t0) / 1000;
}
