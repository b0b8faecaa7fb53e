/**
 * A phone's digest password from `sbd device add` to a REGISTER, with processes as an administrator runs them:
 * `sbd device add` (encrypted-config profile) generates the password and prints it once; the simulated phone boots
 * over TFTP (sbd-tftpd on loopback), opens its .enc.sgn with its own key and takes `<authName>/<authPassword>`;
 * it registers against `sbd daemon sip` on loopback with them — in process (SipPhone, every REGISTER it sends is
 * looked at: the Authorization response is recomputed here from the delivered password, RFC 2617 §3.2.2) and with
 * `sbd phone register --state --mac`. A phone that has no such config (an impostor with the same MAC) gets no
 * password.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { systemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/log.js';
import { initAppliance } from '../../src/cluster/init.js';
import { openState } from '../../src/store/state.js';
import { storeApplianceSource } from '../../src/daemons/adapters/tftp-store.js';
import { TftpFetcher } from '../../src/sim/tftp-fetcher.js';
import { bootSimPhone } from '../../src/sim/phone.js';
import { ensurePhoneKey, installLsc, readLineCredentials } from '../../src/sim/phone-folder.js';
import { SipPhone } from '../../src/sim/sip-ua/user-agent.js';
import { privateKeyOf } from '../../src/pki/identity-store.js';
import { issueLsc } from '../../src/pki/lsc.js';
import { randomSerial } from '../../src/pki/certificate.js';
import { publisher } from '../../src/trust/cluster-lists.js';
import { createServer } from '../tftp/helpers.js';
import { clientPool, sbdCli, startDaemonProcess, tempDir, views } from './helpers.js';

const PHONE = 'SEP00DD00440001';
const PROFILE = 'Encrypted config, digest';
const sbd = sbdCli;

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** The digest parameters of an Authorization header value (RFC 3261 §25.1 digest-response). */
function params(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of value.replace(/^Digest\s+/i, '').matchAll(/([a-zA-Z-]+)=("([^"]*)"|[^,\s]+)/g)) out[m[1]!.toLowerCase()] = m[3] ?? m[2]!;
  return out;
}

test('device add → encrypted config over TFTP → the phone registers with the delivered digest credentials', async (t) => {
  const state = tempDir('sbd-digest-state-');
  const phones = tempDir('sbd-digest-phones-');
  initAppliance({ dir: state, hostname: 'sbd.example', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
  const app = openState(state);
  t.after(() => app.store.close());
  // Encrypted configs over a non-TLS line, so the phone needs no LSC on the SIP side (mutual TLS is another profile).
  app.store.putSecurityProfile({
    name: PROFILE,
    deviceSecurityMode: 'non-secure',
    tftpEncryptedConfig: true,
    transport: 'tcp+udp',
    digestAuth: true,
  });

  const add = await sbd(['device', 'add', PHONE, '--model', '8845', '--dn', '4001', '--security-profile', PROFILE, '--state', state]);
  assert.equal(add.code, 0, add.out + add.err);
  const password = /digest password \(shown once, not stored in clear\): (\S+)/.exec(add.out)?.[1];
  assert.ok(password && password.length === 20, add.out);
  assert.match(add.out, new RegExp(`delivered only inside ${PHONE}\\.cnf\\.xml\\.enc\\.sgn`));
  assert.match(add.out, /no LSC or symmetric key yet/);
  assert.doesNotMatch(add.err, /WARNING/, 'an encrypted profile needs no warning');

  // The phone's key and LSC (what CAPF would have installed).
  const key = ensurePhoneKey(phones, PHONE);
  const capf = app.store.currentCertificate('CAPF', publisher(app.store).name)!;
  const lsc = issueLsc({
    capfCertPem: capf.pem,
    capfKeyPem: privateKeyOf(capf),
    deviceName: PHONE,
    subjectPublicKey: key.publicKeyPem,
    serial: randomSerial(),
    now: new Date(),
  }).pem;
  app.store.updateDevice(PHONE, { lscPem: lsc });
  await installLsc(phones, PHONE, lsc);

  const tftp = createServer({
    source: storeApplianceSource({ store: app.store }),
    addresses: ['127.0.0.1'],
    port: 0,
    logger: silentLogger,
  });
  await tftp.listen();
  t.after(() => tftp.close());
  const fetcher = new TftpFetcher({ host: '127.0.0.1', port: tftp.port }, clientPool(), { timeoutMs: 2000 });
  const report = await bootSimPhone({ stateDir: phones, deviceName: PHONE, fetcher, views });
  assert.equal(report.configFile, `${PHONE}.cnf.xml.enc.sgn`, JSON.stringify(report.decisions, null, 1));
  assert.deepEqual(report.line, { number: '4001', authName: PHONE, passwordDelivered: true });
  const creds = (await readLineCredentials(phones, PHONE))!;
  assert.deepEqual(creds, { line: '4001', authName: PHONE, authPassword: password });

  // An impostor with the same MAC and a key of its own gets no config it can open, so no password.
  const impostor = tempDir('sbd-digest-impostor-');
  ensurePhoneKey(impostor, PHONE);
  const bad = await bootSimPhone({ stateDir: impostor, deviceName: PHONE, fetcher, views });
  assert.equal(bad.configTrusted, false);
  assert.equal(await readLineCredentials(impostor, PHONE), undefined);

  // sbd daemon sip on 127.0.0.1, UDP/TCP port 0, no TLS.
  const sipPort = (await startDaemonProcess(t, ['sip', '--state', state, '--bind', '127.0.0.1', '--port', '0', '--no-tls'])).udp as number;
  const phone = await SipPhone.connect({
    flow: { transport: 'udp', host: '127.0.0.1', port: sipPort },
    line: creds.line,
    credentials: { username: creds.authName, password: creds.authPassword },
  });
  t.after(() => phone.close());
  const sent: string[] = [];
  const send = phone.flow.send.bind(phone.flow);
  phone.flow.send = (bytes: Buffer) => {
    sent.push(bytes.toString('utf8'));
    send(bytes);
  };
  const res = await phone.register(600);
  assert.equal(res.status, 200);
  const registers = sent.filter((m) => m.startsWith('REGISTER '));
  const authorized = registers.map((m) => /^Authorization: *(.*)$/im.exec(m)?.[1]).filter((v): v is string => v !== undefined);
  assert.equal(authorized.length, 1, `one REGISTER answered the challenge:\n${registers.join('\n---\n')}`);
  // Recompute the response from the delivered password: the REGISTER proved knowledge of exactly that password.
  const p = params(authorized[0]!);
  assert.equal(p.username, PHONE);
  const ha1 = md5(`${PHONE}:${p.realm}:${password}`);
  const ha2 = md5(`REGISTER:${p.uri}`);
  const expected = p.qop ? md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`);
  assert.equal(p.response, expected);

  // The CLI phone takes the same credentials from the config it holds.
  const reg = await sbd([
    'phone',
    'register',
    '--server',
    `127.0.0.1:${sipPort}`,
    '--transport',
    'udp',
    '--state',
    phones,
    '--mac',
    PHONE,
    '--expires',
    '60',
  ]);
  assert.equal(reg.code, 0, reg.out + reg.err);
  assert.equal((JSON.parse(reg.out) as { status: number }).status, 200);
  // With a wrong password given explicitly, the same command is refused (the registrar checks digest).
  const wrong = await sbd([
    'phone',
    'register',
    '--server',
    `127.0.0.1:${sipPort}`,
    '--transport',
    'udp',
    '--state',
    phones,
    '--mac',
    PHONE,
    '--user',
    PHONE,
    '--password',
    'not-the-password',
    '--expires',
    '60',
  ]);
  assert.notEqual(wrong.code, 0, wrong.out);
});
