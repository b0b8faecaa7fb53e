/**
 * Autoregistration through the registrar (real store): an unknown phone registering under its device name gets a
 * device and the next free number of AutoRegistrationDnRange (src/cluster/autoreg.ts), is bound under that
 * number, told it in P-Associated-URI, and then registers on the number; off, full range and no model refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerChallenge, DigestServer } from '../../../src/sip/core/auth/digest.js';
import { digestHa1 } from '../../../src/credentials/index.js';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import type { SipRequest } from '../../../src/sip/core/messages/message.js';
import { Registrar, modelFromUserAgent } from '../../../src/sip/registrar/registrar.js';
import { ApplianceDirectory } from '../../../src/daemons/adapters/sip-store.js';
import { openStore } from '../../../src/store/index.js';
import { DEFAULT_SECURITY_PROFILE } from '../../../src/store/index.js';
import type { MessageSource } from '../../../src/sip/transports/types.js';

const T0 = Date.parse('2026-11-25T10:00:00Z');
const src = (port: number): MessageSource => ({ transport: 'udp', address: '127.0.0.1', port });

let cseq = 1;
function register(aor: string, port: number, ua?: string, extra: string[] = []): SipRequest {
  return parseMessage(
    Buffer.from(
      [
        `REGISTER sip:sbd.test SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${cseq}x`,
        `From: <sip:${aor}@sbd.test>;tag=f${port}`,
        `To: <sip:${aor}@sbd.test>`,
        `Call-ID: ar-${port}@test`,
        `CSeq: ${cseq++} REGISTER`,
        'Max-Forwards: 70',
        `Contact: <sip:${aor}@127.0.0.1:${port}>`,
        ...(ua ? [`User-Agent: ${ua}`] : []),
        ...extra,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    ),
  ) as SipRequest;
}

/** REGISTER, answer the 401 with the phone's credentials (as its config delivers them), REGISTER again. */
function registerWithAuth(registrar: Registrar, aor: string, port: number, ua: string, user: string, password: string, at: number) {
  const first = registrar.handleRegister(register(aor, port, ua), src(port), at).response;
  assert.equal(first.status, 401, first.reason);
  const auth = answerChallenge({
    challenge: first.get('WWW-Authenticate')!,
    method: 'REGISTER',
    uri: 'sip:sbd.test',
    username: user,
    secret: { password },
    cnonce: 'c0ffee',
    nc: 1,
  });
  return registrar.handleRegister(register(aor, port, ua, [`Authorization: ${auth}`]), src(port), at).response;
}

test('User-Agent model extraction', () => {
  assert.equal(modelFromUserAgent('Cisco-CP8845/14.2.1'), '8845');
  assert.equal(modelFromUserAgent('Cisco-CP-7975G/9.4'), '7975G');
  assert.equal(modelFromUserAgent('baresip v3'), undefined);
  assert.equal(modelFromUserAgent(undefined), undefined);
});

test('REGISTER from an unknown SEP device: autoregistered when the parameter is on, then registers on its number', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-autoreg-sip-'));
  const store = openStore(join(dir, 'sbd.db'), { create: true });
  try {
    const directory = new ApplianceDirectory(store, { now: () => T0, refreshMs: 0 });
    const registrar = new Registrar({
      digest: new DigestServer({ realm: store.getParam('SipStationRealm'), secret: Buffer.alloc(32, 3) }),
      directory,
    });
    // Off (the default): an unknown AOR like any other, challenged and nothing added.
    const off = registrar.handleRegister(register('SEP00AABBCC0001', 5100, 'Cisco-CP8845/14.2.1'), src(5100), T0).response;
    assert.equal(off.status, 401);
    assert.equal(store.getDevice('SEP00AABBCC0001'), undefined);

    store.setParam('AutoRegistration', 'true');
    const ok = registrar.handleRegister(register('SEP00AABBCC0001', 5100, 'Cisco-CP8845/14.2.1'), src(5100), T0).response;
    assert.equal(ok.status, 200, ok.reason);
    assert.equal(ok.get('P-Associated-URI'), '<sip:1000@sbd.test>');
    const d = store.getDevice('SEP00AABBCC0001')!;
    assert.equal(d.directoryNumber, '1000');
    assert.equal(d.description, 'Auto 1000');
    assert.equal(d.model, '8845');
    assert.equal(d.securityProfile, DEFAULT_SECURITY_PROFILE);
    assert.equal(registrar.bindings.lookup('1000', T0)[0]!.device, 'SEP00AABBCC0001');

    // After its config download (which carries its digest credentials) the phone registers on the number itself,
    // with digest: the default profile requires it, and only the REGISTER that created the device binds without.
    const realm = store.getParam('SipStationRealm');
    const ha1 = digestHa1('ph1000', realm, 'pw-ph1000');
    store.putUser({ userid: 'ph1000', credentialHash: 'x', algorithm: 'none' });
    store.putDigestCredential('ph1000', realm, ha1.ha1Md5, ha1.ha1Sha256);
    store.updateDevice('SEP00AABBCC0001', { digestUser: 'ph1000' });
    assert.equal(registrar.handleRegister(register('1000', 5100, 'Cisco-CP8845/14.2.1'), src(5100), T0 + 1000).response.status, 401);
    const onDn = registerWithAuth(registrar, '1000', 5100, 'Cisco-CP8845/14.2.1', 'ph1000', 'pw-ph1000', T0 + 1000);
    assert.equal(onDn.status, 200);
    // The same phone again under its name: known now, so it authenticates like on its number; no second device.
    const anonymous = registrar.handleRegister(register('sep00aabbcc0001', 5100, 'Cisco-CP8845/14.2.1'), src(5100), T0 + 2000).response;
    assert.equal(anonymous.status, 401, 'a known device under its name binds nothing without credentials');
    const again = registerWithAuth(registrar, 'sep00aabbcc0001', 5100, 'Cisco-CP8845/14.2.1', 'ph1000', 'pw-ph1000', T0 + 2000);
    assert.equal(again.status, 200, again.reason);
    assert.equal(again.get('P-Associated-URI'), '<sip:1000@sbd.test>');
    assert.equal(store.listDevices().length, 1);

    // A second phone gets the next number; no model in User-Agent → not added.
    assert.equal(
      registrar.handleRegister(register('SEP00AABBCC0002', 5101, 'Cisco-CP7841/12.0'), src(5101), T0).response.get('P-Associated-URI'),
      '<sip:1001@sbd.test>',
    );
    assert.equal(registrar.handleRegister(register('SEP00AABBCC0003', 5102, 'softphone/1.0'), src(5102), T0).response.status, 401);
    assert.equal(store.getDevice('SEP00AABBCC0003'), undefined);

    // Range full → 503 with the reason.
    store.setParam('AutoRegistrationDnRange', '1000-1001');
    const full = registrar.handleRegister(register('SEP00AABBCC0004', 5103, 'Cisco-CP8845/14.2.1'), src(5103), T0).response;
    assert.equal(full.status, 503);
    assert.match(full.reason, /taken/);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('autoregistration rate limit: per source address and per appliance, 503 with Retry-After, known devices never limited', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-autoreg-rate-'));
  const store = openStore(join(dir, 'sbd.db'), { create: true });
  try {
    const directory = new ApplianceDirectory(store, { now: () => T0, refreshMs: 0 });
    const registrar = new Registrar(
      { digest: new DigestServer({ realm: store.getParam('SipStationRealm'), secret: Buffer.alloc(32, 3) }), directory },
      { autoregLimit: { perSourcePerMinute: 2, globalPerSecond: 1, globalBurst: 3 } },
    );
    const from = (address: string, port: number): MessageSource => ({ transport: 'udp', address, port });
    const reg = (name: string, address: string, port: number, at: number) =>
      registrar.handleRegister(register(name, port, 'Cisco-CP8845/14.2.1'), from(address, port), at).response;
    // Off: unknown names are not autoregistered and use no tokens (401 as any unknown AOR).
    for (let i = 0; i < 5; i++) assert.equal(reg(`SEP00AABBCC10${i}0`, '127.0.0.5', 5200 + i, T0).status, 401);
    store.setParam('AutoRegistration', 'true');
    assert.equal(reg('SEP00AABBCC1001', '127.0.0.5', 5201, T0).status, 200);
    assert.equal(reg('SEP00AABBCC1002', '127.0.0.5', 5202, T0).status, 200);
    const third = reg('SEP00AABBCC1003', '127.0.0.5', 5203, T0);
    assert.equal(third.status, 503);
    assert.match(third.reason, /rate limit of this source address/);
    assert.equal(third.get('Retry-After'), '30');
    assert.equal(store.getDevice('SEP00AABBCC1003'), undefined, 'nothing added when refused');
    // A known device from the same address is not limited (challenged: it authenticates now, no 503).
    assert.equal(reg('SEP00AABBCC1001', '127.0.0.5', 5201, T0).status, 401);
    // Another address: the appliance bucket (burst 3) has one token left, then it is empty.
    assert.equal(reg('SEP00AABBCC2001', '127.0.0.6', 5301, T0).status, 200);
    const global = reg('SEP00AABBCC2002', '127.0.0.6', 5302, T0);
    assert.equal(global.status, 503);
    assert.match(global.reason, /rate limit of the appliance/);
    assert.equal(global.get('Retry-After'), '1');
    // Time refills both: 30 s later the first address may add one more, and the phone that was refused retries.
    assert.equal(reg('SEP00AABBCC1003', '127.0.0.5', 5203, T0 + 30_000).status, 200);
    assert.equal(store.listDevices().length, 4);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('AutoregLimiter: buckets refill with time, source table bounded', async () => {
  const { AutoregLimiter } = await import('../../../src/sip/auth/autoreg-limiter.js');
  const l = new AutoregLimiter({ perSourcePerMinute: 1, globalPerSecond: 1000, globalBurst: 1000, maxSources: 3 }, T0);
  assert.deepEqual(l.tryCreate('a', T0), { ok: true });
  assert.deepEqual(l.tryCreate('a', T0 + 1000), { ok: false, scope: 'source', retryAfterSeconds: 59 });
  assert.deepEqual(l.tryCreate('a', T0 + 60_000), { ok: true });
  for (const s of ['b', 'c', 'd', 'e']) assert.deepEqual(l.tryCreate(s, T0), { ok: true });
  assert.equal(l.trackedSources, 3);
  // 'a' was dropped as the oldest: it starts again with a full bucket.
  assert.deepEqual(l.tryCreate('a', T0 + 60_001), { ok: true });
});
