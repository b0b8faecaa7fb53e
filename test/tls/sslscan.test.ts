/**
 * testssl-style check with a third-party scanner (Debian's sslscan) against both TLS paths with the TVS identity
 * and the store's cipher list: the same versions (TLS 1.2 and 1.3 only), the same TLS 1.2 suites (ECDHE with
 * AES-GCM, server order), no renegotiation, no compression. The one difference is deliberate: node:tls keeps
 * OpenSSL's default TLS 1.3 suites (ChaCha20 among them), the engine offers AES-GCM only.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { echoService, engineMissing } from './helpers.js';

const noScanner = spawnSync('sslscan', ['--version']).error ? 'sslscan is not installed (deps/apt/tls.txt)' : false;

// Asynchronous: the node:tls server answers from this process's event loop.
async function scan(port: number): Promise<{ protocols: string[]; renegotiation: string; ciphers: string[] }> {
  const r = await promisify(execFile)('sslscan', ['--no-colour', '--no-heartbleed', `127.0.0.1:${port}`], { timeout: 120000 });
  const out = r.stdout;
  const protocols = [...out.matchAll(/^(SSLv\d|TLSv1\.\d)\s+enabled$/gm)].map((m) => m[1]!);
  const renegotiation = /TLS renegotiation:\n(.*)\n/.exec(out)?.[1]?.trim() ?? '';
  const ciphers = [...out.matchAll(/^(?:Preferred|Accepted)\s+(TLSv1\.\d)\s+\d+ bits\s+(\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.ok(protocols.length > 0, out + r.stderr);
  return { protocols, renegotiation, ciphers };
}

test('sslscan: engine and node:tls offer the same versions, TLS 1.2 suites and renegotiation refusal; the engine TLS 1.3 is AES-GCM only', {
  skip: engineMissing || noScanner,
}, async (t) => {
  const engine = await scan((await echoService(t, 'engine')).port);
  const node = await scan((await echoService(t, 'node')).port);
  assert.deepEqual(engine.protocols, ['TLSv1.2', 'TLSv1.3']);
  assert.deepEqual(node.protocols, engine.protocols);
  assert.equal(engine.renegotiation, 'Session renegotiation not supported');
  assert.equal(node.renegotiation, engine.renegotiation);
  const v12 = (l: string[]) => l.filter((c) => c.startsWith('TLSv1.2'));
  assert.deepEqual(v12(engine.ciphers), ['TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384', 'TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256']);
  assert.deepEqual(v12(node.ciphers), v12(engine.ciphers));
  assert.deepEqual(
    engine.ciphers.filter((c) => c.startsWith('TLSv1.3')),
    ['TLSv1.3 TLS_AES_256_GCM_SHA384', 'TLSv1.3 TLS_AES_128_GCM_SHA256'],
  );
  assert.deepEqual(node.ciphers.filter((c) => c.startsWith('TLSv1.3')).sort(), [
    'TLSv1.3 TLS_AES_128_GCM_SHA256',
    'TLSv1.3 TLS_AES_256_GCM_SHA384',
    'TLSv1.3 TLS_CHACHA20_POLY1305_SHA256',
  ]);
});

// node:tls, by contrast, lets a client renegotiate TLS 1.2 up to tls.CLIENT_RENEG_LIMIT (3) times per 10 minutes
// (checked by hand with the same s_client command; sslscan's probe reports "not supported" for both).
test('openssl s_client: a client-initiated TLS 1.2 renegotiation is refused by the engine with a no_renegotiation alert', {
  skip: engineMissing,
}, async (t) => {
  const { port, service } = await echoService(t, 'engine');
  // `R` asks s_client to renegotiate (spawnSync is fine: the engine answers from its own threads).
  const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-noservername'], {
    input: 'R\n',
    encoding: 'utf8',
    timeout: 60000,
  });
  const out = r.stdout + r.stderr;
  assert.match(out, /RENEGOTIATING/, out);
  assert.match(out, /:no renegotiation:/, out);
  const st = (service as { stats(): Record<string, number> }).stats();
  assert.equal(st.handshakes, 1, 'one handshake, no second one');
});
