/** Registrar core against a real store: digest, expiry bounds, contacts, unregister, ITL report, limiter, mutual TLS. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answerChallenge } from '../../../src/sip/core/auth/digest.js';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import type { SipRequest, SipResponse } from '../../../src/sip/core/messages/message.js';
import { DigestServer } from '../../../src/sip/core/auth/digest.js';
import { Registrar, ITL_REPORT_HEADER } from '../../../src/sip/registrar/registrar.js';
import { ApplianceDirectory } from '../../../src/daemons/adapters/sip-store.js';
import { DEFAULT_SECURITY_PROFILE, openStore } from '../../../src/store/index.js';
import { digestHa1 } from '../../../src/credentials/index.js';
import { itlStatusRows } from '../../../src/reports/itl-status.js';
import type { MessageSource } from '../../../src/sip/transports/types.js';

const T0 = Date.parse('2026-11-25T10:00:00Z');
const udp: MessageSource = { transport: 'udp', address: '127.0.0.1', port: 5062 };

function setup(o: { algorithms?: ('MD5' | 'SHA-256')[] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sbd-reg-'));
  const store = openStore(join(dir, 'sbd.db'), { create: true });
  const realm = store.getParam('SipStationRealm');
  const add = (u: string, pw: string) => {
    store.putUser({ userid: u, credentialHash: 'x', algorithm: 'none' });
    const h = digestHa1(u, realm, pw);
    store.putDigestCredential(u, realm, h.ha1Md5, h.ha1Sha256);
  };
  add('alice', 'pw-alice');
  add('phone1', 'pw-phone1');
  store.putSecurityProfile({
    name: 'Digest Profile',
    deviceSecurityMode: 'non-secure',
    tftpEncryptedConfig: false,
    transport: 'tcp+udp',
    digestAuth: true,
  });
  store.addDevice({
    name: 'SEP001122334455',
    model: '8841',
    securityProfile: 'Digest Profile',
    digestUser: 'phone1',
    directoryNumber: '1001',
  });
  store.addDevice({ name: 'SEP0011223344AA', model: '8841', securityProfile: 'Authenticated Profile', directoryNumber: '1002' });
  let now = T0;
  const directory = new ApplianceDirectory(store, { now: () => now, refreshMs: 0 });
  if (o.algorithms) {
    // Line users and unknown AORs are challenged with the default security profile's algorithms.
    const p = store.getSecurityProfile(DEFAULT_SECURITY_PROFILE)!;
    store.putSecurityProfile({ ...p, digestAlgorithms: o.algorithms });
  }
  const digest = new DigestServer({ realm, secret: Buffer.alloc(32, 7) });
  const registrar = new Registrar({ digest, directory }, { minExpires: 60, maxExpires: 3600, gate: { perSource: { maxFailures: 3 } } });
  return {
    store,
    registrar,
    realm,
    setNow: (t: number) => {
      now = t;
    },
    done: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let cseq = 1;
function register(aor: string, extra: string[] = [], callId = 'c1@test'): SipRequest {
  const text = [
    `REGISTER sip:sbd.test SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK${Math.random().toString(36).slice(2)}`,
    `From: <sip:${aor}@sbd.test>;tag=f1`,
    `To: <sip:${aor}@sbd.test>`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq++} REGISTER`,
    'Max-Forwards: 70',
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

/** REGISTER, answer the challenge the way a phone does, REGISTER again: the final response. */
function registerWithAuth(
  r: ReturnType<typeof setup>,
  aor: string,
  user: string,
  password: string,
  extra: string[],
  now: number,
  pick = 0,
): SipResponse {
  const first = r.registrar.handleRegister(register(aor, extra), udp, now).response;
  assert.equal(first.status, 401);
  const challenge = first.getAll('WWW-Authenticate')[pick]!;
  const auth = answerChallenge({
    challenge,
    method: 'REGISTER',
    uri: 'sip:sbd.test',
    username: user,
    secret: { password },
    cnonce: 'abc123',
    nc: 1,
  });
  return r.registrar.handleRegister(register(aor, [...extra, `Authorization: ${auth}`]), udp, now).response;
}

test('by default one MD5 challenge (what sipp, baresip and Cisco phones answer)', () => {
  const r = setup();
  try {
    const ch = r.registrar
      .handleRegister(register('alice', ['Contact: <sip:alice@127.0.0.1:5062>']), udp, T0)
      .response.getAll('WWW-Authenticate');
    assert.equal(ch.length, 1);
    assert.match(ch[0]!, /algorithm=MD5/);
    assert.equal(registerWithAuth(r, 'alice', 'alice', 'pw-alice', ['Contact: <sip:alice@127.0.0.1:5062>'], T0).status, 200);
  } finally {
    r.done();
  }
});

test('a profile asking SHA-256 first: both challenges answerable; wrong password re-challenged; limiter then refuses', () => {
  const r = setup({ algorithms: ['SHA-256', 'MD5'] });
  try {
    const first = r.registrar.handleRegister(register('alice', ['Contact: <sip:alice@127.0.0.1:5062>']), udp, T0).response;
    const ch = first.getAll('WWW-Authenticate');
    assert.equal(ch.length, 2);
    assert.match(ch[0]!, /algorithm=SHA-256/);
    assert.match(ch[1]!, /algorithm=MD5/);
    assert.notEqual(
      /nonce="([^"]+)"/.exec(ch[0]!)![1],
      /nonce="([^"]+)"/.exec(r.registrar.handleRegister(register('alice'), udp, T0).response.getAll('WWW-Authenticate')[0]!)![1],
    );
    assert.equal(registerWithAuth(r, 'alice', 'alice', 'pw-alice', ['Contact: <sip:alice@127.0.0.1:5062>'], T0, 0).status, 200);
    assert.equal(registerWithAuth(r, 'alice', 'alice', 'pw-alice', ['Contact: <sip:alice@127.0.0.1:5062>'], T0, 1).status, 200);
    for (let i = 0; i < 3; i++)
      assert.equal(registerWithAuth(r, 'alice', 'alice', 'guess', ['Contact: <sip:alice@127.0.0.1:5062>'], T0).status, 401);
    const blocked = r.registrar.handleRegister(register('alice', ['Contact: <sip:alice@127.0.0.1:5062>']), udp, T0).response;
    assert.equal(blocked.status, 403);
    assert.match(blocked.reason, /too many failed/);
  } finally {
    r.done();
  }
});

test('replayed credentials (same nonce and nc) are refused; an old nonce with the right digest gets stale=true', () => {
  const r = setup({ algorithms: ['SHA-256', 'MD5'] });
  try {
    const first = r.registrar.handleRegister(register('alice'), udp, T0).response;
    const auth = answerChallenge({
      challenge: first.getAll('WWW-Authenticate')[0]!,
      method: 'REGISTER',
      uri: 'sip:sbd.test',
      username: 'alice',
      secret: { password: 'pw-alice' },
      cnonce: 'c',
      nc: 1,
    });
    assert.equal(r.registrar.handleRegister(register('alice', [`Authorization: ${auth}`]), udp, T0).response.status, 200);
    assert.equal(r.registrar.handleRegister(register('alice', [`Authorization: ${auth}`]), udp, T0).response.status, 401);
    const auth2 = answerChallenge({
      challenge: first.getAll('WWW-Authenticate')[0]!,
      method: 'REGISTER',
      uri: 'sip:sbd.test',
      username: 'alice',
      secret: { password: 'pw-alice' },
      cnonce: 'c',
      nc: 2,
    });
    const late = r.registrar.handleRegister(register('alice', [`Authorization: ${auth2}`]), udp, T0 + 3600_000).response;
    assert.equal(late.status, 401);
    assert.match(late.getAll('WWW-Authenticate')[0]!, /stale=true/);
  } finally {
    r.done();
  }
});

test('right credentials of a user who does not own the AOR, or for an unknown AOR: the same 401 as a wrong password', () => {
  const r = setup();
  try {
    assert.equal(registerWithAuth(r, '1001', 'alice', 'pw-alice', ['Contact: <sip:x@127.0.0.1:5070>'], T0).status, 401);
    assert.equal(registerWithAuth(r, 'nobody', 'alice', 'pw-alice', ['Contact: <sip:x@127.0.0.1:5070>'], T0).status, 401);
    assert.equal(r.registrar.bindings.lookup('1001', T0).length, 0);
  } finally {
    r.done();
  }
});

test('expiry bounds, several contacts, refresh, query, out-of-order CSeq, unregister with *', () => {
  const r = setup();
  try {
    const brief = registerWithAuth(r, 'alice', 'alice', 'pw-alice', ['Contact: <sip:alice@127.0.0.1:5062>;expires=10'], T0);
    assert.equal(brief.status, 423);
    assert.equal(brief.get('Min-Expires'), '60');
    const ok = registerWithAuth(
      r,
      'alice',
      'alice',
      'pw-alice',
      ['Contact: <sip:alice@127.0.0.1:5062>;expires=99999, <sip:alice@10.9.9.9:5070>;q=0.5', 'Expires: 120'],
      T0,
    );
    assert.equal(ok.status, 200);
    const cs = ok.getAll('Contact');
    assert.equal(cs.length, 2);
    assert.match(cs.find((c) => c.includes('5062'))!, /expires=3600/);
    assert.match(cs.find((c) => c.includes('5070'))!, /expires=120/);
    assert.equal(r.registrar.bindings.lookup('alice', T0)[0]!.contact, 'sip:alice@127.0.0.1:5062');
    // refresh one, the other expires
    assert.equal(
      registerWithAuth(r, 'alice', 'alice', 'pw-alice', ['Contact: <sip:alice@127.0.0.1:5062>', 'Expires: 600'], T0 + 100_000).status,
      200,
    );
    assert.equal(r.registrar.bindings.lookup('alice', T0 + 130_000).length, 1);
    // query (no Contact) lists the binding
    const q = registerWithAuth(r, 'alice', 'alice', 'pw-alice', [], T0 + 130_000);
    assert.equal(q.getAll('Contact').length, 1);
    // same Call-ID, lower CSeq → 400
    const stale = cseq;
    cseq = 1;
    const ooo = registerWithAuth(r, 'alice', 'alice', 'pw-alice', ['Contact: <sip:alice@127.0.0.1:5062>'], T0 + 140_000);
    cseq = stale;
    assert.equal(ooo.status, 400);
    assert.equal(registerWithAuth(r, 'alice', 'alice', 'pw-alice', ['Contact: *'], T0 + 150_000).status, 400);
    assert.equal(registerWithAuth(r, 'alice', 'alice', 'pw-alice', ['Contact: *', 'Expires: 0'], T0 + 150_000).status, 200);
    assert.equal(r.registrar.bindings.lookup('alice', T0 + 150_000).length, 0);
  } finally {
    r.done();
  }
});

test('ITL report on REGISTER is stored per device, feeds the ITL File Status report, and goes on unregister', () => {
  const r = setup();
  try {
    const hash = 'ab'.repeat(32);
    r.store.recordServerItlHash('sbd1', 'ITLFile.tlv', hash, new Date(T0).toISOString());
    const ok = registerWithAuth(
      r,
      '1001',
      'phone1',
      'pw-phone1',
      ['Contact: <sip:1001@127.0.0.1:5062>', `${ITL_REPORT_HEADER}: ${hash.toUpperCase()}`],
      T0,
    );
    assert.equal(ok.status, 200);
    assert.equal(r.store.getDeviceItlHash('SEP001122334455')!.sha256Hex, hash);
    assert.equal(itlStatusRows(r.store).find((x) => x.device === 'SEP001122334455')!.status, 'Match');
    registerWithAuth(
      r,
      '1001',
      'phone1',
      'pw-phone1',
      ['Contact: <sip:1001@127.0.0.1:5062>', `${ITL_REPORT_HEADER}: ${'cd'.repeat(32)};status=not-installed`],
      T0 + 1000,
    );
    assert.equal(itlStatusRows(r.store).find((x) => x.device === 'SEP001122334455')!.status, 'Not Installed');
    registerWithAuth(
      r,
      '1001',
      'phone1',
      'pw-phone1',
      ['Contact: <sip:1001@127.0.0.1:5062>', `${ITL_REPORT_HEADER}: not-a-hash`],
      T0 + 2000,
    );
    assert.equal(r.store.getDeviceItlHash('SEP001122334455')!.sha256Hex, 'cd'.repeat(32), 'a malformed report changes nothing');
    assert.equal(
      registerWithAuth(r, '1001', 'phone1', 'pw-phone1', ['Contact: <sip:1001@127.0.0.1:5062>;expires=0'], T0 + 3000).status,
      200,
    );
    assert.equal(r.store.getDeviceItlHash('SEP001122334455'), undefined);
  } finally {
    r.done();
  }
});

test('a device with an authenticated profile is refused without TLS and its LSC', () => {
  const r = setup();
  try {
    const res = r.registrar.handleRegister(register('1002', ['Contact: <sip:1002@127.0.0.1:5062>']), udp, T0).response;
    assert.equal(res.status, 403);
    assert.match(res.reason, /requires TLS/);
    const tls: MessageSource = {
      transport: 'tls',
      address: '127.0.0.1',
      port: 40000,
      connectionId: 1,
      peerCertificate: { subject: 'CN=x', issuer: 'CN=CAPF', fingerprint256: 'AA:BB' },
    };
    assert.equal(r.registrar.handleRegister(register('1002', ['Contact: <sip:1002@127.0.0.1:5062>']), tls, T0).response.status, 403);
  } finally {
    r.done();
  }
});
