/**
 * Autoregistration with the phone simulator over real TFTP (sbd-tftpd's server and appliance source on
 * loopback) and a real REGISTER to sbd-sipd: an unknown Security-by-Default phone boots from the signed
 * XMLDefault.cnf.xml.sgn, one without boots from the unsigned XMLDefault.cnf.xml; registering creates it with the
 * next free number of AutoRegistrationDnRange; after the reset it boots from its own config with that number and,
 * once given a digest password (the default profile requires digest), registers on it. Works in non-secure and mixed mode; refused when the parameter is off or the range is full.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAppliance, boot, tempDir } from '../sim/helpers.js';
import { AutoregErrorCode, autoRegisterPhone, nextFreeDn } from '../../src/cluster/autoreg.js';
import { defaultConfigNameFor } from '../../src/config/cluster-configs.js';
import { SipDaemon } from '../../src/daemons/sipd.js';
import { silentLogger } from '../../src/lib/log.js';
import type { Store } from '../../src/store/index.js';
import type { StateLayout } from '../../src/store/state.js';
import { randomBytes } from 'node:crypto';
import { answerChallenge } from '../../src/sip/core/auth/digest.js';
import { generatePhonePassword } from '../../src/credentials/phone-secret.js';
import { putPhoneDigestPassword } from '../../src/credentials/phone-digest.js';

const code = (c: string) => (err: unknown) => (err as { code?: string }).code === c;

/**
 * A REGISTER over UDP from loopback; a 401 is answered once with digest (RFC 3261 §22.2) when `password` is given
 * (the digest user is the device name). Resolves with the final status line and the whole response.
 */
async function register(
  port: number,
  dn: string,
  deviceName: string,
  model: string,
  password?: string,
): Promise<{ status: number; text: string }> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const local = sock.address().port;
  const mac = deviceName.slice(3).toLowerCase();
  const uri = `sip:127.0.0.1:${port}`;
  const msg = (cseq: number, auth?: string) =>
    [
      `REGISTER ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-${mac}-${dn}-${cseq};rport`,
      'Max-Forwards: 70',
      `From: <sip:${dn}@127.0.0.1>;tag=${mac}`,
      `To: <sip:${dn}@127.0.0.1>`,
      `Call-ID: autoreg-${mac}@127.0.0.1`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:${dn}@127.0.0.1:${local};transport=udp>;+sip.instance="<urn:uuid:00000000-0000-0000-0000-${mac}>"`,
      'Expires: 3600',
      `User-Agent: Cisco-CP${model}/14.2.1`,
      ...(auth ? [`Authorization: ${auth}`] : []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  const exchange = async (bytes: string) => {
    sock.send(bytes, port, '127.0.0.1');
    const [data] = (await once(sock, 'message')) as [Buffer];
    const text = data.toString('utf8');
    return { status: Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1]), text };
  };
  try {
    const first = await exchange(msg(1));
    const challenge = /^WWW-Authenticate: *(.*)$/im.exec(first.text)?.[1];
    if (first.status !== 401 || password === undefined || challenge === undefined) return first;
    const auth = answerChallenge({
      challenge,
      method: 'REGISTER',
      uri,
      username: deviceName,
      secret: { password },
      cnonce: randomBytes(8).toString('hex'),
      nc: 1,
    });
    return await exchange(msg(2, auth));
  } finally {
    sock.close();
  }
}

/** What the administrator does for an autoregistered phone under a digest profile: a digest user and password. */
function giveDigest(app: { state: { store: Store; layout: StateLayout } }, deviceName: string): string {
  const password = generatePhonePassword();
  app.state.store.updateDevice(deviceName, { digestUser: deviceName });
  putPhoneDigestPassword(
    app.state.store,
    app.state.layout.keysDir,
    { userid: deviceName, password },
    { hash: '$scrypt$unused', algorithm: 'scrypt', params: '' },
  );
  return password;
}

/**
 * sbd-sipd on loopback. Its directory re-reads the store at most once a second (StoreDirectoryOptions.refreshMs);
 * `storeChanged()` moves the daemon's clock past that interval instead of sleeping.
 */
async function sipDaemon(app: { state: { store: Store; layout: StateLayout } }) {
  let skewMs = 0;
  const d = new SipDaemon({
    store: app.state.store,
    layout: app.state.layout,
    host: '127.0.0.1',
    port: 0,
    tlsPort: null,
    logger: silentLogger,
    now: () => Date.now() + skewMs,
  });
  const ports = await d.listen();
  return { daemon: d, port: ports.udp, storeChanged: () => void (skewMs += 2000) };
}

test('unknown phones autoregister in non-secure and mixed mode and boot from their own config', async () => {
  const app = await startAppliance();
  const { store } = app.state;
  const phones = tempDir('sbd-autoreg-phones-');
  const { daemon, port, storeChanged } = await sipDaemon(app);
  try {
    store.setParam('AutoRegistration', 'true');

    // A Security-by-Default phone: first use of the ITL, then the signed default config.
    let r = await boot(app, phones, 'SEP0011223344A1', { model: '8845' });
    assert.equal(r.configTrusted, true);
    assert.equal(r.configFile, 'XMLDefault.cnf.xml.sgn');
    assert.equal(defaultConfigNameFor(store, '8845'), 'XMLDefault.cnf.xml.sgn');
    assert.equal(store.getDevice('SEP0011223344A1'), undefined);
    const a = autoRegisterPhone(store, { deviceName: 'sep0011223344a1', model: 'CP-8845' });
    assert.equal(a.kind, 'registered');
    assert.equal(a.kind === 'registered' && a.directoryNumber, '1000');
    assert.deepEqual(
      [a.device.name, a.device.model, a.device.description, a.device.directoryNumber],
      ['SEP0011223344A1', '8845', 'Auto 1000', '1000'],
    );
    assert.equal(
      autoRegisterPhone(store, { deviceName: 'SEP0011223344A1', model: '8845' }).kind,
      'known',
      'a second REGISTER changes nothing',
    );
    r = await boot(app, phones, 'SEP0011223344A1', { model: '8845' });
    assert.equal(r.configFile, 'SEP0011223344A1.cnf.xml.sgn');
    assert.equal(r.configTrusted, true);
    assert.match(readFileSync(join(phones, 'SEP0011223344A1', 'config.xml'), 'utf8'), /1000/);
    // The default profile requires digest (issue 16): the known device authenticates like any other.
    const pw1000 = giveDigest(app, 'SEP0011223344A1');
    storeChanged();
    let reg = await register(port, '1000', 'SEP0011223344A1', '8845');
    assert.equal(reg.status, 401, reg.text);
    reg = await register(port, '1000', 'SEP0011223344A1', '8845', pw1000);
    assert.equal(reg.status, 200, reg.text);

    // A model without Security by Default: the unsigned default config, then its own unsigned config.
    r = await boot(app, phones, 'SEP0011223344B2', { model: '6945' });
    assert.equal(r.configTrusted, true);
    assert.equal(r.configFile, 'XMLDefault.cnf.xml');
    assert.equal(defaultConfigNameFor(store, '6945'), 'XMLDefault.cnf.xml');
    const b = autoRegisterPhone(store, { deviceName: 'SEP0011223344B2', model: '6945' });
    assert.equal(b.kind === 'registered' && b.directoryNumber, '1001');
    r = await boot(app, phones, 'SEP0011223344B2', { model: '6945' });
    assert.equal(r.configFile, 'SEP0011223344B2.cnf.xml');
    assert.match(readFileSync(join(phones, 'SEP0011223344B2', 'config.xml'), 'utf8'), /1001/);
    // The default profile requires digest (issue 16): the known device authenticates like any other.
    const pw1001 = giveDigest(app, 'SEP0011223344B2');
    storeChanged();
    reg = await register(port, '1001', 'SEP0011223344B2', '6945');
    assert.equal(reg.status, 401, reg.text);
    reg = await register(port, '1001', 'SEP0011223344B2', '6945', pw1001);
    assert.equal(reg.status, 200, reg.text);

    // Mixed mode: the same, with the CTL served too.
    store.setParam('ClusterSecurityMode', 'mixed');
    r = await boot(app, phones, 'SEP0011223344C3', { model: '8865' });
    assert.equal(r.configFile, 'XMLDefault.cnf.xml.sgn');
    assert.equal(r.configTrusted, true);
    const c = autoRegisterPhone(store, { deviceName: 'SEP0011223344C3', model: '8865' });
    assert.equal(c.kind === 'registered' && c.directoryNumber, '1002');
    r = await boot(app, phones, 'SEP0011223344C3', { model: '8865' });
    assert.equal(r.configFile, 'SEP0011223344C3.cnf.xml.sgn');
    // The default profile requires digest (issue 16): the known device authenticates like any other.
    const pw1002 = giveDigest(app, 'SEP0011223344C3');
    storeChanged();
    reg = await register(port, '1002', 'SEP0011223344C3', '8865');
    assert.equal(reg.status, 401, reg.text);
    reg = await register(port, '1002', 'SEP0011223344C3', '8865', pw1002);
    assert.equal(reg.status, 200, reg.text);
  } finally {
    await daemon.close();
  }
});

test('autoregistration off, a full range, and reuse of a freed number', async () => {
  const app = await startAppliance();
  const { store } = app.state;
  const before = store.listDevices().length;
  assert.throws(() => autoRegisterPhone(store, { deviceName: 'SEP0000000000D1', model: '8845' }), code(AutoregErrorCode.disabled));
  assert.equal(store.listDevices().length, before);
  store.setParam('AutoRegistration', 'true');
  store.setParam('AutoRegistrationDnRange', '0100-0102');
  store.addDevice({ name: 'SEP0000000000AA', model: '8845', directoryNumber: '0101' });
  const dns = ['D1', 'D2'].map((m) => {
    const r = autoRegisterPhone(store, { deviceName: `SEP0000000000${m}`, model: '8845' });
    return r.kind === 'registered' ? r.directoryNumber : r.kind;
  });
  assert.deepEqual(dns, ['0100', '0102'], 'leading zeros kept, numbers in use skipped');
  assert.throws(() => autoRegisterPhone(store, { deviceName: 'SEP0000000000D3', model: '8845' }), code(AutoregErrorCode.rangeFull));
  assert.equal(store.getDevice('SEP0000000000D3'), undefined);
  store.removeDevice('SEP0000000000AA');
  const d3 = autoRegisterPhone(store, { deviceName: 'SEP0000000000D3', model: '8845' });
  assert.equal(d3.kind === 'registered' && d3.directoryNumber, '0101');
  assert.throws(() => autoRegisterPhone(store, { deviceName: 'SEP12', model: '8845' }), code('ERR_DEVICE_INVALID'));
  store.setParam('AutoRegistrationDnRange', '0100-0109');
  assert.throws(() => autoRegisterPhone(store, { deviceName: 'SEP0000000000D4', model: 'not a model!' }), code('ERR_DEVICE_INVALID'));
  assert.equal(store.getDevice('SEP0000000000D4'), undefined);
  assert.equal(nextFreeDn('1-3', ['1', '2', '3', '04']), undefined);
  assert.equal(nextFreeDn('98-99', ['98']), '99');
});
