import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startDaemon, tempDir } from '../tvs/helpers.js';
import { verify } from '../pki/openssl.js';
import { main } from '../../src/cli/main.js';

/** The CLI in this process (the same `main` the sbd binary runs); the daemon runs as its own process. */
async function cliAsync(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await main(args, {
    out: (t) => (stdout += t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => (stderr += t.endsWith('\n') ? t : `${t}\n`),
  });
  return { status, stdout, stderr };
}
const cli = cliAsync;

test('sbd capf install/show + sbd daemon capf + sbd capf enroll: the phone folder gets its LSC and key, the store the LSC; then delete', async (t) => {
  const dir = tempDir(t);
  const state = path.join(dir, 'state');
  const phone = path.join(dir, 'phone');
  const tftp = path.join(dir, 'tftp');
  fs.mkdirSync(tftp);
  assert.equal((await cli(['init', '--state', state, '--hostname', 'cucm-pub', '--ip', '127.0.0.1'])).status, 0);
  assert.equal((await cli(['device', 'add', 'SEP001122334455', '--model', '8845', '--state', state])).status, 0);
  assert.equal((await cli(['itl', 'build', '--state', state, '--out', tftp])).status, 0);
  const sched = await cli(['capf', 'install', 'sep001122334455', '--auth', 'password', '--key', 'ec-P-256', '--state', state]);
  assert.equal(sched.status, 0, sched.stderr);
  const authString = /authentication string: (\d{8})/.exec(sched.stdout)?.[1];
  assert.ok(authString, sched.stdout);
  assert.match(
    (await cli(['capf', 'show', 'SEP001122334455', '--state', state])).stdout,
    /operation: install\nauthentication: password \(auth string set\)\nstatus: Operation Pending: install ec-P-256\nLSC: none/,
  );
  const daemon = await startDaemon(t, ['daemon', 'capf', '--state', state, '--bind', '127.0.0.1', '--port', '0']);
  const target = `127.0.0.1:${daemon.port}`;
  const itl = path.join(tftp, 'ITLFile.tlv');
  const bad = await cliAsync([
    'capf',
    'enroll',
    target,
    '--mac',
    '00:11:22:33:44:55',
    '--state',
    phone,
    '--password',
    '00000000',
    '--itl',
    itl,
  ]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /reason 7 \(invalid element \(refused\)\) \[ERR_CAPF_SERVER_REFUSED\]/);
  const ok = await cliAsync([
    'capf',
    'enroll',
    target,
    '--mac',
    '00:11:22:33:44:55',
    '--state',
    phone,
    '--password',
    authString,
    '--itl',
    itl,
  ]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^installed LSC \(ec-P-256\) serial [0-9a-f]+ in .*lsc\.pem\n$/);
  assert.equal(fs.statSync(path.join(phone, 'lsc.key')).mode & 0o777, 0o600);
  const lscPem = fs.readFileSync(path.join(phone, 'lsc.pem'), 'utf8');
  const show = (await cli(['capf', 'show', 'SEP001122334455', '--state', state])).stdout;
  assert.match(show, /operation: none\nauthentication: password\nstatus: Upgrade Success /);
  assert.match(show, /LSC: serial [0-9a-f]+, issuer C=US, O=sbd, OU=VOICE, CN=CAPF-[0-9a-f]{8}, ST=CA, L=San Jose/);
  // The LSC chains to the CAPF certificate in the ITL (openssl, with the CAPF record's certificate).
  const { capfCertificatesFromTrustList } = await import('../../src/capf/client.js');
  const capfDer = capfCertificatesFromTrustList(fs.readFileSync(itl))[0]!;
  const capfPem = `-----BEGIN CERTIFICATE-----\n${capfDer.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
  assert.ok(verify(dir, capfPem, lscPem).ok);
  // Nothing pending: the phone hears so. Then re-key with LSC authentication, then delete.
  assert.match(
    (await cliAsync(['capf', 'enroll', target, '--mac', '001122334455', '--state', phone, '--itl', itl])).stdout,
    /no operation pending/,
  );
  assert.equal((await cli(['capf', 'install', 'SEP001122334455', '--auth', 'lsc', '--key', 'rsa-2048', '--state', state])).status, 0);
  const rekey = await cliAsync(['capf', 'enroll', target, '--mac', '001122334455', '--state', phone, '--auth', 'lsc', '--itl', itl]);
  assert.match(rekey.stdout, /installed LSC \(rsa-2048\)/, rekey.stderr);
  assert.equal((await cli(['capf', 'delete', 'SEP001122334455', '--auth', 'lsc', '--state', state])).status, 0);
  const del = await cliAsync(['capf', 'enroll', target, '--mac', '001122334455', '--state', phone, '--auth', 'lsc', '--itl', itl]);
  assert.match(del.stdout, /deleted the LSC/, del.stderr);
  assert.equal(fs.existsSync(path.join(phone, 'lsc.pem')), false);
  assert.match((await cli(['capf', 'show', 'SEP001122334455', '--state', state])).stdout, /status: Delete Success .*\nLSC: none/);
  // Usage errors.
  assert.equal((await cli(['capf', 'install', 'SEP001122334455', '--auth', 'token', '--state', state])).status, 2);
  assert.equal((await cli(['capf', 'install', 'SEP001122334455', '--auth', 'none', '--key', 'rsa-1024', '--state', state])).status, 2);
  assert.equal((await cli(['capf', 'fetch', 'SEP00112233', '--state', state])).status, 1);
  assert.equal(await daemon.stop(), 0);
  assert.ok(daemon.lines.filter((l) => l.includes('"event":"session"')).length >= 5);
});
