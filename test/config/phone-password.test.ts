/**
 * Where a phone's digest password may appear in the files TFTP serves (src/config/cluster-configs.ts), as an
 * attacker on the LAN sees them — fetch any SEP<MAC> name: by default it is in no file anyone can read; inside the
 * .enc.sgn (which only the phone's key opens) always; in a signed-only .sgn only with
 * SipDigestPasswordInSignedConfig, and that .sgn is still accepted by the independent checker (tlv-check.py).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { systemClock } from '../../src/lib/clock.js';
import { initAppliance } from '../../src/cluster/init.js';
import { openState, type State } from '../../src/store/state.js';
import { deviceConfigFile } from '../../src/config/cluster-configs.js';
import { putPhoneDigestPassword } from '../../src/credentials/phone-digest.js';
import { PhoneSecretError } from '../../src/credentials/phone-secret.js';
import { decryptEncryptedConfig } from '../../src/trust/enc-sgn.js';
import { privateKeyOpener } from '../../src/pki/config-key.js';
import { sgnBody } from '../../src/trust/sgn.js';
import { privateKeyOf } from '../../src/pki/identity-store.js';
import { issueLsc } from '../../src/pki/lsc.js';
import { randomSerial } from '../../src/pki/certificate.js';
import { publisher } from '../../src/trust/cluster-lists.js';
import { phoneLineCredentials } from '../../src/sim/phone-config.js';
import { tlvCheck } from '../trust/helpers.js';

const SIGNED = 'SEP0000000000A1';
const ENCRYPTED = 'SEP0000000000A2';
const PW_SIGNED = 'Signed-Line-Pw-1';
const PW_ENC = 'Encrypted-Line-Pw-2';
const login = { hash: '$scrypt$unused', algorithm: 'scrypt', params: '' };

function appliance(): { dir: string; state: State } {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-config-pw-'));
  initAppliance({ dir, hostname: 'sbd.example', ipv4: '127.0.0.1', clock: systemClock, keySpec: { type: 'rsa', bits: 2048 } });
  const state = openState(dir);
  after(() => {
    state.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, state };
}

type Suffix = '.cnf.xml' | '.cnf.xml.sgn' | '.cnf.xml.enc.sgn';
const SUFFIXES: Suffix[] = ['.cnf.xml', '.cnf.xml.sgn', '.cnf.xml.enc.sgn'];

function files(state: State, name: string): Map<Suffix, Buffer> {
  const d = state.store.getDevice(name)!;
  const m = new Map<Suffix, Buffer>();
  for (const s of SUFFIXES) {
    const b = deviceConfigFile(state.store, d, s, systemClock);
    if (b) m.set(s, b);
  }
  return m;
}

test('the password is in the .enc.sgn only; signed-only configs carry it only when the parameter says so', () => {
  const { dir, state } = appliance();
  const store = state.store;
  store.putSecurityProfile({
    name: 'Encrypted digest',
    deviceSecurityMode: 'non-secure',
    tftpEncryptedConfig: true,
    transport: 'tcp+udp',
    digestAuth: true,
  });
  store.addDevice({ name: SIGNED, model: '8845', directoryNumber: '3001', digestUser: SIGNED });
  store.addDevice({ name: ENCRYPTED, model: '8845', securityProfile: 'Encrypted digest', directoryNumber: '3002', digestUser: ENCRYPTED });
  putPhoneDigestPassword(store, state.layout.keysDir, { userid: SIGNED, password: PW_SIGNED }, login);
  putPhoneDigestPassword(store, state.layout.keysDir, { userid: ENCRYPTED, password: PW_ENC }, login);
  const phoneKey = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const capf = store.currentCertificate('CAPF', publisher(store).name)!;
  const lsc = issueLsc({
    capfCertPem: capf.pem,
    capfKeyPem: privateKeyOf(capf),
    deviceName: ENCRYPTED,
    subjectPublicKey: phoneKey.publicKey,
    serial: randomSerial(),
    now: new Date(),
  }).pem;

  // Encrypted profile without a key yet: nothing is served at all.
  assert.equal(files(state, ENCRYPTED).size, 0);
  store.updateDevice(ENCRYPTED, { lscPem: lsc });

  // Default: no file a LAN attacker can read holds either password.
  const signed = files(state, SIGNED);
  const encrypted = files(state, ENCRYPTED);
  assert.deepEqual([...signed.keys()], ['.cnf.xml', '.cnf.xml.sgn']);
  assert.deepEqual([...encrypted.keys()], ['.cnf.xml.sgn', '.cnf.xml.enc.sgn'], 'no unsigned config for an encrypting profile');
  for (const [suffix, bytes] of [...signed, ...encrypted]) {
    for (const pw of [PW_SIGNED, PW_ENC])
      assert.ok(!bytes.includes(Buffer.from(pw)), `${suffix} must not carry a password in readable form`);
  }
  assert.deepEqual(phoneLineCredentials(sgnBody(signed.get('.cnf.xml.sgn')!)), { line: '3001', authName: SIGNED, authPassword: '' });
  assert.deepEqual(phoneLineCredentials(signed.get('.cnf.xml')!), { line: '3001', authName: SIGNED, authPassword: '' });
  assert.equal(phoneLineCredentials(sgnBody(encrypted.get('.cnf.xml.sgn')!)), undefined, 'the stub has no line');
  const opened = decryptEncryptedConfig(encrypted.get('.cnf.xml.enc.sgn')!, privateKeyOpener(phoneKey.privateKey));
  assert.deepEqual(phoneLineCredentials(opened), { line: '3002', authName: ENCRYPTED, authPassword: PW_ENC });

  // The administrator's explicit choice: the signed-only config carries it (and stays a valid .sgn); never the unsigned one.
  store.setParam('SipDigestPasswordInSignedConfig', 'true');
  const exposed = files(state, SIGNED);
  assert.deepEqual(phoneLineCredentials(sgnBody(exposed.get('.cnf.xml.sgn')!)), {
    line: '3001',
    authName: SIGNED,
    authPassword: PW_SIGNED,
  });
  assert.ok(!exposed.get('.cnf.xml')!.includes(Buffer.from(PW_SIGNED)), 'the unsigned config never carries it');
  assert.ok(!files(state, ENCRYPTED).get('.cnf.xml.sgn')!.includes(Buffer.from(PW_ENC)), 'the stub never carries it');
  const sgnPath = join(dir, `${SIGNED}.cnf.xml.sgn`);
  const cmPem = join(dir, 'cm.pem');
  writeFileSync(sgnPath, exposed.get('.cnf.xml.sgn')!);
  writeFileSync(cmPem, store.currentCertificate('CallManager', publisher(store).name)!.pem);
  const check = tlvCheck(sgnPath, cmPem);
  assert.equal(check.status, 0, check.out);

  // A phone without a digest user, or without a line, gets no password anywhere.
  store.updateDevice(SIGNED, { directoryNumber: null });
  assert.ok(!files(state, SIGNED).get('.cnf.xml.sgn')!.includes(Buffer.from(PW_SIGNED)));
});

test('XML special characters in a password are escaped and read back exactly', () => {
  const { state } = appliance();
  const store = state.store;
  store.putSecurityProfile({
    name: 'Encrypted digest',
    deviceSecurityMode: 'non-secure',
    tftpEncryptedConfig: true,
    transport: 'tcp+udp',
    digestAuth: true,
  });
  const key = Buffer.alloc(16, 9).toString('hex');
  store.addDevice({ name: ENCRYPTED, model: '8845', securityProfile: 'Encrypted digest', directoryNumber: '3002', digestUser: 'line3002' });
  store.updateDevice(ENCRYPTED, { symmetricKeyHex: key });
  const pw = `a<b>&"c'</authPassword><x>`;
  putPhoneDigestPassword(store, state.layout.keysDir, { userid: 'line3002', password: pw }, login);
  const enc = deviceConfigFile(store, store.getDevice(ENCRYPTED)!, '.cnf.xml.enc.sgn', systemClock)!;
  const xml = decryptEncryptedConfig(enc, { kind: 'symmetric', key: Buffer.from(key, 'hex') });
  assert.equal(phoneLineCredentials(xml)!.authPassword, pw);
  assert.equal((xml.toString().match(/<authPassword>/g) ?? []).length, 1);
});

test('a stored password whose key is gone stops the config build with a typed error instead of dropping it', () => {
  const { state } = appliance();
  const store = state.store;
  store.addDevice({ name: SIGNED, model: '8845', directoryNumber: '3001', digestUser: SIGNED });
  putPhoneDigestPassword(store, state.layout.keysDir, { userid: SIGNED, password: PW_SIGNED }, login);
  store.setParam('SipDigestPasswordInSignedConfig', 'true');
  rmSync(join(state.layout.keysDir, 'sip-phone.key'));
  assert.throws(
    () => deviceConfigFile(store, store.getDevice(SIGNED)!, '.cnf.xml.sgn', systemClock),
    (e) => e instanceof PhoneSecretError && e.code === 'ERR_PHONE_SECRET_KEY',
  );
  // The file that never carries it is still served.
  assert.ok(deviceConfigFile(store, store.getDevice(SIGNED)!, '.cnf.xml', systemClock));
});
