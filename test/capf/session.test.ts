import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CapfClientSession, type CapfClientEvent } from '../../src/capf/core/client-session.js';
import { CapfError } from '../../src/capf/core/errors.js';
import { CapfCommand } from '../../src/capf/core/frame.js';
import { encodeMessage } from '../../src/capf/core/messages.js';
import { CapfServerSession, type CapfDecision, type CapfServerEvent } from '../../src/capf/core/server-session.js';
import { authData, signAuthData, verifyAuthData } from '../../src/capf/core/signed-data.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import { tempDir } from '../tvs/helpers.js';

const device = 'SEP001122334455';
const sends = (events: ReadonlyArray<CapfServerEvent | CapfClientEvent>) =>
  events.filter((e): e is { type: 'send'; bytes: Buffer } => e.type === 'send').map((e) => e.bytes);
const others = <E extends { type: string }>(events: readonly E[]) => events.filter((e) => e.type !== 'send');

/**
 * Wires a phone core to a server core in memory, feeding each side's bytes to the other split into 1..7-byte
 * pieces; the callbacks play the shells. Returns every non-send event of both sides in order.
 */
function run(decision: CapfDecision, phone: { password?: string; lsc?: Buffer } = {}, split = 3) {
  const server = new CapfServerSession({ sessionId: 0x01020304 });
  const client = new CapfClientSession({ auth: { deviceName: device, password: phone.password } });
  const log: Array<{ side: string; type: string; [k: string]: unknown }> = [];
  const toClient: Buffer[] = [];
  const toServer: Buffer[] = [];
  const onServer = (events: CapfServerEvent[]) => {
    toClient.push(...sends(events));
    for (const e of others(events)) {
      log.push({ side: 'server', ...e });
      if (e.type === 'authenticate') onServer(server.decide(decision));
      if (e.type === 'publicKey') onServer(server.certificateIssued(Buffer.concat([Buffer.from('LSC for '), e.spki.subarray(0, 4)])));
    }
  };
  const onClient = (events: CapfClientEvent[]) => {
    toServer.push(...sends(events));
    for (const e of others(events)) {
      log.push({ side: 'phone', ...e });
      if (e.type === 'keyGenerate') onClient(client.keyGenerated(generateKeyPair({ type: 'ec', curve: 'P-256' }).spkiDer));
      if (e.type === 'storeCertificate') onClient(client.certificateStored(true));
      if (e.type === 'fetchCertificate') onClient(client.fetchResponse(phone.lsc));
      if (e.type === 'deleteCertificate') onClient(client.deleted(true));
    }
  };
  const pump = (bytes: Buffer, into: (b: Buffer) => void) => {
    for (let i = 0; i < bytes.length; i += split) into(bytes.subarray(i, i + split));
  };
  onServer(server.start());
  while (toClient.length || toServer.length) {
    const c = toClient.shift();
    if (c) pump(c, (b) => onClient(client.receive(b)));
    const s = toServer.shift();
    if (s) pump(s, (b) => onServer(server.receive(b)));
  }
  return { log, server, client };
}

test('in-memory install: AUTH → KEY_GENERATE (REQUEST_IN_PROGRESS tolerated) → STORE → END_SESSION{1}', () => {
  for (const split of [1, 3, 7, 1000]) {
    const { log, server, client } = run({ kind: 'install', keySpec: { type: 'ec', curve: 'P-256' } }, { password: '123456' }, split);
    const auth = log.find((e) => e.type === 'authenticate')!.auth as { deviceName: string; password: string };
    assert.deepEqual({ d: auth.deviceName, p: auth.password }, { d: device, p: '123456' });
    assert.deepEqual(
      log.map((e) => `${e.side}:${e.type}`),
      [
        'phone:authRequest',
        'server:authenticate',
        'phone:keyGenerate',
        'server:publicKey',
        'phone:storeCertificate',
        'server:stored',
        'server:end',
        'phone:end',
      ],
    );
    assert.equal(log.find((e) => e.type === 'stored')!.reason, 1);
    assert.equal(log.at(-1)!.reason, 1);
    assert.equal(server.state, 'done');
    assert.equal(client.state, 'done');
    assert.equal(client.sessionId, 0x01020304);
  }
});

test('in-memory fetch, delete, nothing to do, and a refusal', () => {
  const lsc = Buffer.from('308201', 'hex');
  const f = run({ kind: 'fetch' }, { lsc });
  assert.deepEqual(
    f.log.map((e) => `${e.side}:${e.type}`),
    ['phone:authRequest', 'server:authenticate', 'phone:fetchCertificate', 'server:fetched', 'server:end', 'phone:end'],
  );
  assert.deepEqual(
    f.log.find((e) => e.type === 'fetched'),
    { side: 'server', type: 'fetched', reason: 1, certificate: lsc },
  );
  assert.equal(f.log.at(-1)!.reason, 0);
  const d = run({ kind: 'delete' });
  assert.deepEqual(
    d.log.map((e) => `${e.type}`),
    ['authRequest', 'authenticate', 'deleteCertificate', 'deleted', 'end', 'end'],
  );
  assert.equal(d.log.find((e) => e.type === 'deleted')!.reason, 1);
  const n = run({ kind: 'none' });
  assert.deepEqual(
    n.log.map((e) => `${e.side}:${e.type}:${e.reason ?? ''}`),
    ['phone:authRequest:', 'server:authenticate:', 'server:end:0', 'phone:end:0'],
  );
  const r = run({ kind: 'reject', reason: 9, why: 'unknown device' });
  assert.deepEqual(
    r.log.slice(-2).map((e) => e.reason),
    [9, 9],
  );
});

test('server core: unexpected command, wrong session id, wrong version, too many REQUEST_IN_PROGRESS → END_SESSION{7} + protocolError', () => {
  const reasonOf = (events: CapfServerEvent[]) => {
    const err = events.find((e) => e.type === 'protocolError') as { error: CapfError } | undefined;
    const end = sends(events).at(-1)!;
    return { code: err?.error.code, endCommand: end[1], endReason: end.at(-1) };
  };
  const fresh = () => {
    const s = new CapfServerSession({ sessionId: 9, maxInProgress: 2 });
    s.start();
    return s;
  };
  const authResponse = (over: Partial<Parameters<typeof encodeMessage>[0]> = {}) =>
    encodeMessage({ command: CapfCommand.authResponse, sessionId: 9, reason: 1, version: 3, deviceName: device, ...over });
  assert.deepEqual(reasonOf(fresh().receive(encodeMessage({ command: CapfCommand.storeCertificateResponse, sessionId: 9, reason: 1 }))), {
    code: 'ERR_CAPF_COMMAND',
    endCommand: 15,
    endReason: 7,
  });
  assert.deepEqual(reasonOf(fresh().receive(authResponse({ sessionId: 10 }))), { code: 'ERR_CAPF_SESSION', endCommand: 15, endReason: 7 });
  assert.deepEqual(reasonOf(fresh().receive(authResponse({ version: 2 }))), { code: 'ERR_CAPF_VERSION', endCommand: 15, endReason: 7 });
  assert.deepEqual(reasonOf(fresh().receive(authResponse({ deviceName: 'sep001122334455' }))), {
    code: 'ERR_CAPF_DEVICE_NAME',
    endCommand: 15,
    endReason: 7,
  });
  assert.deepEqual(reasonOf(fresh().receive(Buffer.from('57010100', 'hex'))), {
    code: 'ERR_CAPF_PROTOCOL_ID',
    endCommand: 15,
    endReason: 7,
  });
  const s = fresh();
  s.receive(authResponse());
  s.decide({ kind: 'install', keySpec: { type: 'rsa', bits: 2048 } });
  const rip = encodeMessage({ command: CapfCommand.requestInProgress, sessionId: 9 });
  assert.deepEqual(s.receive(rip), []);
  assert.deepEqual(s.receive(rip), []);
  assert.deepEqual(reasonOf(s.receive(rip)), { code: 'ERR_CAPF_COMMAND', endCommand: 15, endReason: 7 });
  assert.equal(s.state, 'done');
  assert.deepEqual(s.receive(rip), [], 'nothing after done');
  assert.throws(
    () => s.decide({ kind: 'none' }),
    (e: unknown) => e instanceof CapfError && e.code === 'ERR_CAPF_STATE' && !e.remote,
  );
});

const keys = [
  ['RSA 2048', generateKeyPair({ type: 'rsa', bits: 2048 })],
  ['EC P-256', generateKeyPair({ type: 'ec', curve: 'P-256' })],
  ['EC P-521', generateKeyPair({ type: 'ec', curve: 'P-521' })],
] as const;

for (const [label, kp] of keys) {
  test(`signed data (${label}): our signatures verify with openssl; tampering fails`, (t) => {
    const dir = tempDir(t, 'sbd-capf-');
    const cert = crypto.randomBytes(300); // the signed bytes treat the certificate as opaque
    const key = crypto.createPrivateKey(kp.privateKeyPem);
    const pub = crypto.createPublicKey(kp.publicKeyPem);
    const s = signAuthData(key, device, cert);
    verifyAuthData(pub, device, cert, s);
    const data = authData(device, cert);
    assert.deepEqual(data.subarray(0, 16), Buffer.concat([Buffer.from(device), Buffer.of(0)]));
    fs.writeFileSync(path.join(dir, 'pub.pem'), kp.publicKeyPem);
    fs.writeFileSync(path.join(dir, 'data'), data);
    for (const [alg, sig] of [
      ['sha1', s.signedData],
      ['sha512', s.sha2SignedData.signature],
    ] as const) {
      fs.writeFileSync(path.join(dir, 'sig'), sig);
      if (key.asymmetricKeyType === 'rsa') {
        // Raw PKCS#1 type 1 without DigestInfo: openssl recovers exactly the bare hash.
        const rec = execFileSync('openssl', [
          'pkeyutl',
          '-verifyrecover',
          '-pubin',
          '-inkey',
          path.join(dir, 'pub.pem'),
          '-in',
          path.join(dir, 'sig'),
          '-pkeyopt',
          'rsa_padding_mode:pkcs1',
        ]);
        assert.deepEqual(rec, crypto.createHash(alg).update(data).digest());
      } else {
        const out = execFileSync(
          'openssl',
          ['dgst', `-${alg}`, '-verify', path.join(dir, 'pub.pem'), '-signature', path.join(dir, 'sig'), path.join(dir, 'data')],
          { encoding: 'utf8' },
        );
        assert.match(out, /Verified OK/);
      }
    }
    const auth = (e: unknown) => e instanceof CapfError && e.code === 'ERR_CAPF_AUTH';
    assert.throws(() => verifyAuthData(pub, 'SEP001122334466', cert, s), auth);
    assert.throws(() => verifyAuthData(pub, device, cert, { signedData: s.signedData }), auth);
    assert.throws(
      () => verifyAuthData(pub, device, cert, { ...s, sha2SignedData: { hash: 2, signature: s.sha2SignedData.signature } }),
      auth,
    );
    const other = generateKeyPair(key.asymmetricKeyType === 'rsa' ? { type: 'rsa', bits: 2048 } : { type: 'ec', curve: 'P-256' });
    assert.throws(() => verifyAuthData(crypto.createPublicKey(other.publicKeyPem), device, cert, s), auth);
  });
}
