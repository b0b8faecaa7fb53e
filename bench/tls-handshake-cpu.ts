/**
 * Server CPU per bare full TLS 1.2 handshake (no SIP): the engine (its worker threads apart from Node's), `openssl
 * s_server` and Kamailio 5.6's tls.so, same RSA-2048 certificate, ECDHE-RSA-AES256-GCM-SHA384, X25519, driven by
 * `openssl s_time -new` (C, one process: a lighter client than sipp + stunnel). Separates the handshake's cost
 * from the SIP work in bench/sip's full-handshake row (docs/tls.md). Not in `make bench` (a diagnosis tool):
 *   node --import tsx bench/tls-handshake-cpu.ts
 * SBD_HS_ROWS (default engine,engine-req,server,kamailio; engine-req asks for a client certificate with the CAPF
 * CA as sbd-sipd does), SBD_HS_SECONDS (10) per row, SBD_HS_PAUSE=1 prints `READY pid` and waits 2 s before the
 * engine's measured part (attach strace -c there).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initAppliance } from '../src/cluster/init.js';
import { systemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/log.js';
import { privateKeyOf } from '../src/pki/identity-store.js';
import { openState } from '../src/store/state.js';
import { TlsEngineService } from '../src/tls/engine-service.js';
import { freePort, startKamailio, treeCpu, waitPort, writeKamailioDb } from './sip-kamailio.js';

const SECONDS = Number(process.env.SBD_HS_SECONDS ?? 10);
const TICKS = 100;
const root = mkdtempSync(join(tmpdir(), 'sbd-hs-'));
const stateDir = join(root, 'state');
initAppliance({ dir: stateDir, hostname: 'sbd1', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
const state = openState(stateDir);
const cm = state.store.currentCertificate('CallManager', 'sbd1')!;
const capf = state.store.currentCertificate('CAPF', 'sbd1');
const ciphers = state.store.getParam('TLSCiphers');
state.store.close();
const certPath = join(root, 'cert.pem');
const keyPath = join(root, 'key.pem');
writeFileSync(certPath, cm.pem);
writeFileSync(keyPath, privateKeyOf(cm), { mode: 0o600 });

function threads(pid: number): { main: number; engine: number; other: number } {
  const out = { main: 0, engine: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    const s = (Number(f[11]) + Number(f[12])) / TICKS;
    if (tid === String(pid)) out.main += s;
    else if (name.startsWith('sbd-tls')) out.engine += s;
    else out.other += s;
  }
  return out;
}

function sTime(port: number, seconds: number): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(
      'openssl',
      ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-tls1_2', '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384', '-time', String(seconds)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', () => {
      const m = /(\d+) connections in [\d.]+s/.exec(out);
      resolve(Number(m?.[1] ?? 0));
    });
  });
}

async function engineRow(request: boolean): Promise<void> {
  const engine = new TlsEngineService({
    secureContext: { cert: cm.pem, key: privateKeyOf(cm) },
    ciphers,
    host: '127.0.0.1',
    port: 0,
    handshakeTimeoutMs: 10000,
    maxConnections: 10000,
    maxConnectionsPerSource: 10000,
    reloadIntervalMs: 0,
    reload: () => {},
    logger: silentLogger,
    ...(request && capf ? { clientCertificates: { ca: capf.pem, require: false, admitUnverified: true } } : {}),
    onConnection: (s) => s.destroy(),
  });
  const a = await engine.listen();
  await sTime(a.port, 2);
  if (process.env.SBD_HS_PAUSE) {
    console.log(`READY ${process.pid}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  const t0 = threads(process.pid);
  const n = await sTime(a.port, SECONDS);
  const t1 = threads(process.pid);
  const us = (x: number, y: number) => (((y - x) / Math.max(1, n)) * 1e6).toFixed(0);
  console.log(
    `engine${request ? ' (client cert asked)' : ''}: ${n} handshakes, ${(n / SECONDS).toFixed(0)}/s; per handshake engine ${us(t0.engine, t1.engine)} µs, main ${us(t0.main, t1.main)}, other ${us(t0.other, t1.other)}`,
  );
  await engine.close();
}

async function sServerRow(): Promise<void> {
  const port = await freePort();
  const p = spawn(
    'openssl',
    [
      's_server',
      '-accept',
      String(port),
      '-cert',
      certPath,
      '-key',
      keyPath,
      '-tls1_2',
      '-cipher',
      'ECDHE-RSA-AES256-GCM-SHA384',
      '-quiet',
    ],
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );
  await waitPort(port);
  await sTime(port, 2);
  const c0 = treeCpu(p.pid!);
  const n = await sTime(port, SECONDS);
  const c1 = treeCpu(p.pid!);
  console.log(
    `s_server: ${n} handshakes, ${(n / SECONDS).toFixed(0)}/s; per handshake ${(((c1 - c0) / Math.max(1, n)) * 1e6).toFixed(0)} µs`,
  );
  p.kill();
}

async function kamailioRow(): Promise<void> {
  const dbDir = join(root, 'kdb');
  writeKamailioDb(dbDir, [{ user: 'x', realm: 'r', ha1Md5: '0'.repeat(32) }]);
  const k = await startKamailio({
    dir: join(root, 'kam'),
    dbDir,
    realm: 'r',
    certPath,
    keyPath,
    cipherList: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256',
  });
  await sTime(k.tls, 2);
  const c0 = treeCpu(k.pid);
  const n = await sTime(k.tls, SECONDS);
  const c1 = treeCpu(k.pid);
  console.log(
    `kamailio: ${n} handshakes, ${(n / SECONDS).toFixed(0)}/s; per handshake ${(((c1 - c0) / Math.max(1, n)) * 1e6).toFixed(0)} µs`,
  );
  k.process.kill();
}

const rows = (process.env.SBD_HS_ROWS ?? 'engine,engine-req,server,kamailio').split(',');
console.log(`uptime: ${spawnSync('uptime', { encoding: 'utf8' }).stdout.trim()}`);
for (const r of rows) {
  if (r === 'engine') await engineRow(false);
  else if (r === 'engine-req') await engineRow(true);
  else if (r === 'server') await sServerRow();
  else if (r === 'kamailio') await kamailioRow();
}
console.log(`uptime: ${spawnSync('uptime', { encoding: 'utf8' }).stdout.trim()}`);
process.exit(0);
