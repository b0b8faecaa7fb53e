/**
 * sipsak (Debian) registers over TLS 1.2 with digest. sipsak has no option to pin the TLS version, so GnuTLS's
 * own system-priority override file disables TLS 1.3 for that process. sipsak compares the certificate with
 * "host:port" (the port included), which no certificate matches, hence --tls-ignore-cert-failure: the chain
 * is still offered (--tls-ca-cert) and the handshake, version and cipher are checked from its verbose output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addLineUser, have, run, startDaemon, writeFile } from './harness.js';

test('sipsak REGISTER with digest over TLS 1.2', {
  skip: have('sipsak') ? false : 'sipsak is not installed',
  timeout: 60_000,
}, async () => {
  const h = await startDaemon();
  try {
    addLineUser(h.state, 'u3000', 'pw-3000');
    const ca = writeFile(h.dir, 'cm.pem', h.state.store.currentCertificate('CallManager', 'sbd1')!.pem);
    const prio = writeFile(h.dir, 'gnutls.cfg', '[overrides]\ndisabled-version = tls1.3\n');
    const r = await run(
      'sipsak',
      [
        '-U',
        '-s',
        `sip:u3000@127.0.0.1:${h.ports.tls}`,
        '--transport=tls',
        `--tls-ca-cert=${ca}`,
        '--tls-ignore-cert-failure',
        '-a',
        'pw-3000',
        '-u',
        'u3000',
        '-vvv',
        '-x',
        '300',
        '-i',
      ],
      { timeoutMs: 30_000, env: { GNUTLS_SYSTEM_PRIORITY_FILE: prio } },
    );
    assert.equal(r.code, 0, r.stdout.slice(-2000) + r.stderr);
    assert.match(r.stdout, /Protocol: TLS1\.2/);
    assert.match(r.stdout, /Key Exchange: ECDHE-RSA/);
    assert.match(r.stdout, /SIP\/2\.0 401 Unauthorized[\s\S]*SIP\/2\.0 200 OK/);
    const b = h.daemon.registrar.bindings.lookup('u3000', Date.now());
    assert.equal(b.length, 1);
    assert.equal(b[0]!.source.transport, 'tls');
    // wrong password: sipsak exits non-zero and nothing more is bound
    const bad = await run(
      'sipsak',
      [
        '-U',
        '-s',
        `sip:u3000@127.0.0.1:${h.ports.tls}`,
        '--transport=tls',
        '--tls-ignore-cert-failure',
        '-a',
        'nope',
        '-u',
        'u3000',
        '-x',
        '300',
        '-i',
      ],
      { timeoutMs: 30_000, env: { GNUTLS_SYSTEM_PRIORITY_FILE: prio } },
    );
    assert.notEqual(bad.code, 0);
  } finally {
    await h.close();
  }
});
