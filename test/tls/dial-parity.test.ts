/**
 * The trunk dial-out on the TLS engine against node:tls (issue 20 item 3): the same StreamTransport dial to the
 * same far end on both paths, and the same outcome — connected, or the same error text. Name checking's corner
 * cases (CN fallback, wildcards, an IP in the SAN or only in the CN, case, a trailing dot) with certificates made by
 * the openssl CLI, and every bad input (refused, wrong CA, expired, wrong name, a silent peer, a peer that closes
 * in the handshake, an old TLS version). A third-party peer: `openssl s_server -Verify` as the trunk, which
 * requires and checks the client certificate (the CallManager's) on both paths.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamTransport } from '../../src/sip/transports/stream-transport.js';
import { engineMissing } from './helpers.js';

const skip = engineMissing || (spawnSync('sh', ['-c', 'command -v openssl']).status === 0 ? false : 'openssl is not installed');
let dir = '';
const read = (f: string) => readFileSync(join(dir, f), 'utf8');

function ossl(args: string[]): string {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A leaf signed by ca.pem with subject CN `cn` (or none) and the given subjectAltName (or none). */
function leaf(name: string, cn: string | undefined, san: string | undefined, days = '2'): { cert: string; key: string } {
  ossl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', cn ? `/CN=${cn}` : '/O=sbd test']);
  writeFileSync(join(dir, `${name}.cnf`), san ? `subjectAltName=${san}\n` : 'basicConstraints=CA:FALSE\n');
  ossl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`].concat([
      '-days',
      days,
      '-extfile',
      `${name}.cnf`,
    ]),
  );
  return { cert: read(`${name}.pem`), key: read(`${name}.key`) };
}

let ca = '';
let client: { cert: string; key: string };
const transports: Record<'engine' | 'node', { t: StreamTransport; errors: string[] }> = {} as never;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'sbd-dial-parity-'));
  ossl(['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Parity CA']);
  ossl(['req', '-x509', ...EC, '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=Other CA']);
  ca = read('ca.pem');
  client = leaf('cucm', 'cucm.example', 'DNS:cucm.example');
  for (const path of ['engine', 'node'] as const) {
    const errors: string[] = [];
    const t = new StreamTransport(() => {}, {
      host: '127.0.0.1',
      port: 0,
      tls: client,
      tlsEngine: path === 'engine' ? 'native' : 'node',
      connectTimeout: 1500,
      onConnectError: (_t, e) => errors.push(`${(e as { code?: string }).code ?? '-'}: ${e.message}`),
    });
    if (path === 'engine') await t.listen();
    assert.equal(t.tlsDialPath, path);
    transports[path] = { t, errors };
  }
});
after(async () => {
  for (const x of Object.values(transports)) await x.t.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const message = Buffer.from('OPTIONS sip:trunk SIP/2.0\r\nCall-ID: parity@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');

async function listen(s: Server): Promise<number> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}
const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

/** One dial on `path`: 'connected' once the far end got the message, else the error reported. */
async function dialOn(path: 'engine' | 'node', target: string, port: number, got: () => number, o: { ca?: string; servername?: string }) {
  const { t, errors } = transports[path];
  const n = errors.length;
  const before = got();
  assert.equal(t.send(target, port, message, { ca: o.ca ?? ca, ...(o.servername ? { servername: o.servername } : {}) }), true);
  for (let i = 0; i < 300 && errors.length === n && got() === before; i++) await new Promise((r) => setTimeout(r, 10));
  return errors.length > n ? errors[n]! : got() > before ? 'connected' : 'nothing within 3 s';
}

/** Both paths against a node:tls far end with `cert`; the outcomes, engine first, and how many handshakes the far end completed on the engine's dial. */
async function both(cert: { cert: string; key: string }, target: string, o: { ca?: string; servername?: string } = {}) {
  let bytes = 0;
  let secure = 0;
  const peers: Socket[] = [];
  const far = createTlsServer(cert, (s) => {
    secure++;
    peers.push(s);
    s.on('data', () => bytes++);
    s.on('error', () => {});
  });
  far.on('tlsClientError', () => {});
  const port = await listen(far);
  try {
    const engine = await dialOn('engine', target, port, () => bytes, o);
    const engineSecure = secure;
    const node = await dialOn('node', target, port, () => bytes, o);
    return { engine, node, engineSecure };
  } finally {
    for (const p of peers) p.destroy();
    await close(far);
  }
}

// [what, CN, subjectAltName, target, servername, connects]
const names: Array<[string, string | undefined, string | undefined, string, string | undefined, boolean]> = [
  ['DNS SAN, the name', 'x', 'DNS:trunk.example', '127.0.0.1', 'trunk.example', true],
  ['DNS SAN, another name', 'x', 'DNS:trunk.example', '127.0.0.1', 'other.example', false],
  ['DNS SAN, case differs', 'x', 'DNS:Trunk.Example', '127.0.0.1', 'trunk.EXAMPLE', true],
  ['wildcard, one label', 'x', 'DNS:*.example.net', '127.0.0.1', 'a.example.net', true],
  ['wildcard, two labels', 'x', 'DNS:*.example.net', '127.0.0.1', 'a.b.example.net', false],
  ['wildcard, the bare domain', 'x', 'DNS:*.example.net', '127.0.0.1', 'example.net', false],
  ['wildcard over a TLD', 'x', 'DNS:*.net', '127.0.0.1', 'example.net', false],
  ['partial wildcard', 'x', 'DNS:f*.example.org', '127.0.0.1', 'foo.example.org', true],
  ['CN only, the name (CN fallback)', 'cn.example', undefined, '127.0.0.1', 'cn.example', true],
  ['CN only, another name', 'cn.example', undefined, '127.0.0.1', 'other.example', false],
  ['IP SAN only and CN: the CN name (no DNS SAN: fallback)', 'cn.example', 'IP:127.0.0.1', '127.0.0.1', 'cn.example', true],
  ['DNS SAN and CN: the CN name (no fallback)', 'cn.example', 'DNS:other.example', '127.0.0.1', 'cn.example', false],
  ['IP target, IP SAN', 'x', 'IP:127.0.0.1', '127.0.0.1', undefined, true],
  ['IP target, another IP SAN', 'x', 'IP:127.0.0.2', '127.0.0.1', undefined, false],
  ['IP target, IP only in the CN', '127.0.0.1', undefined, '127.0.0.1', undefined, false],
  ['IP target, IP as a DNS SAN', 'x', 'DNS:127.0.0.1', '127.0.0.1', undefined, false],
  ['name target resolved (localhost), DNS SAN', 'x', 'DNS:localhost', 'localhost', undefined, true],
];

for (const [what, cn, san, target, servername, connects] of names) {
  test(`name check, ${what}: ${connects ? 'connects' : 'refused'} on both paths, same error`, { skip }, async () => {
    const cert = leaf(`n${names.findIndex((n) => n[0] === what)}`, cn, san);
    const r = await both(cert, target, servername ? { servername } : {});
    if (connects) assert.deepEqual(r, { engine: 'connected', node: 'connected', engineSecure: 1 });
    else {
      assert.match(r.node, /^ERR_TLS_CERT_ALTNAME_INVALID: /);
      assert.equal(r.engine, r.node);
    }
  });
}

test('wrong CA, expired, self-signed: refused on both paths with the same code and text', { skip }, async () => {
  const good = leaf('good', 'x', 'IP:127.0.0.1');
  const wrongCa = await both(good, '127.0.0.1', { ca: read('other.pem') });
  assert.equal(wrongCa.node, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate');
  assert.equal(wrongCa.engine, wrongCa.node);
  // The engine fails the handshake itself: the far end never completes one (node:tls completes TLS 1.2 and closes).
  assert.equal(wrongCa.engineSecure, 0);
  const expired = await both(leaf('expired', 'x', 'IP:127.0.0.1', '-1'), '127.0.0.1');
  assert.equal(expired.node, 'CERT_HAS_EXPIRED: certificate has expired');
  assert.equal(expired.engine, expired.node);
  const self = await both({ cert: read('other.pem'), key: read('other.key') }, '127.0.0.1', { ca });
  assert.equal(self.engine, self.node);
  assert.match(self.node, /self.signed/);
});

test('refused, silent peer (handshake stall), peer closing in the handshake, TLS 1.0-only peer: the same error on both paths', {
  skip,
}, async () => {
  // refused: a port nobody listens on (bound, then closed)
  const probe = createTcpServer();
  const closed = await listen(probe);
  await close(probe);
  const refused = {
    engine: await dialOn('engine', '127.0.0.1', closed, () => 0, {}),
    node: await dialOn('node', '127.0.0.1', closed, () => 0, {}),
  };
  assert.equal(refused.node, `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${closed}`);
  assert.equal(refused.engine, refused.node);

  const held: Socket[] = [];
  const silent = createTcpServer((s) => held.push(s));
  const sp = await listen(silent);
  const stall = { engine: await dialOn('engine', '127.0.0.1', sp, () => 0, {}), node: await dialOn('node', '127.0.0.1', sp, () => 0, {}) };
  assert.equal(stall.node, `-: no connection to 127.0.0.1:${sp} within 1500 ms`);
  assert.equal(stall.engine, stall.node);
  for (const s of held) s.destroy();
  await close(silent);

  const rude = createTcpServer((s) => s.once('data', () => s.destroy()));
  const rp = await listen(rude);
  const reset = { engine: await dialOn('engine', '127.0.0.1', rp, () => 0, {}), node: await dialOn('node', '127.0.0.1', rp, () => 0, {}) };
  assert.equal(reset.node, 'ECONNRESET: Client network socket disconnected before secure TLS connection was established');
  assert.equal(reset.engine, reset.node);
  await close(rude);

  const old = leaf('old', 'x', 'IP:127.0.0.1');
  let bytes = 0;
  const gw = createTlsServer({ ...old, minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'AES128-SHA:@SECLEVEL=0' }, (s) =>
    s.on('data', () => bytes++),
  );
  gw.on('tlsClientError', () => {});
  const gp = await listen(gw);
  const version = {
    engine: await dialOn('engine', '127.0.0.1', gp, () => bytes, {}),
    node: await dialOn('node', '127.0.0.1', gp, () => bytes, {}),
  };
  await close(gw);
  // The alert's reason is OpenSSL's on both; node:tls's message adds its own prefix and OpenSSL's source position.
  assert.match(version.node, /^ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: .*tlsv1 alert protocol version/);
  assert.match(version.engine, /^ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: .*tlsv1 alert protocol version/);
  assert.equal(bytes, 0);
});

test('a third-party trunk: openssl s_server -Verify requires the client certificate; both paths present the CallManager certificate and deliver the message', {
  skip,
}, async () => {
  const server = leaf('sserver', 'trunk.example', 'DNS:trunk.example,IP:127.0.0.1');
  const probe = createTcpServer();
  const port = await listen(probe);
  await close(probe);
  for (const path of ['engine', 'node'] as const) {
    const s = spawn(
      'openssl',
      [
        's_server',
        '-accept',
        `127.0.0.1:${port}`,
        '-cert',
        'sserver.pem',
        '-key',
        'sserver.key',
        '-CAfile',
        'ca.pem',
        '-Verify',
        '1',
      ].concat(['-naccept', '1', '-ign_eof']),
      { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    s.stdout.on('data', (d: Buffer) => (out += d.toString()));
    s.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      for (let i = 0; i < 200 && !out.includes('ACCEPT'); i++) await new Promise((r) => setTimeout(r, 20));
      const r = await dialOn(path, '127.0.0.1', port, () => (out.includes('Call-ID: parity@x') ? 1 : 0), { servername: 'trunk.example' });
      assert.equal(r, 'connected', `${path}: ${out}`);
      assert.match(out, /subject=CN = cucm.example/, `${path}: s_server saw the client certificate`);
      assert.match(out, /verify return:1/);
    } finally {
      s.kill();
    }
    void server;
  }
});

test('a new CallManager certificate (setTlsSettings) is the client certificate of the next dial on both paths; the open connection keeps its own', {
  skip,
}, async () => {
  const server = leaf('reload-far', 'x', 'IP:127.0.0.1');
  const fresh = leaf('cucm2', 'cucm2.example', 'DNS:cucm2.example');
  const seen: string[] = [];
  const peers: Socket[] = [];
  const far = createTlsServer({ ...server, ca, requestCert: true, rejectUnauthorized: true }, (s) => {
    peers.push(s);
    s.on('error', () => {});
    s.once('data', () => seen.push(s.getPeerCertificate().subject.CN as string));
  });
  far.on('tlsClientError', () => {});
  const port = await listen(far);
  try {
    for (const path of ['engine', 'node'] as const) {
      const { t } = transports[path];
      seen.length = 0;
      assert.equal(await dialOn(path, '127.0.0.1', port, () => seen.length, {}), 'connected');
      t.setTlsSettings(fresh);
      for (const p of peers.splice(0)) p.destroy(); // the trunk drops the connection: the next message dials anew
      for (let i = 0; i < 200 && t.findConnection('127.0.0.1', port) !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await dialOn(path, '127.0.0.1', port, () => seen.length, {}), 'connected');
      assert.deepEqual(seen, ['cucm.example', 'cucm2.example'], path);
      t.setTlsSettings(client);
    }
  } finally {
    for (const p of peers) p.destroy();
    await close(far);
  }
});
