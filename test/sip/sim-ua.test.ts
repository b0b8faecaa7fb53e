/**
 * The simulated phone's SIP UA against sbd-sipd on loopback: two phones register over TLS (one with its LSC and
 * digest, one with its LSC only), report their ITL hash, call each other through the proxy with SDES SRTP, send
 * real SRTP both ways (decrypted by the other side's engine), and hang up with BYE; unregister drops the report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { itlStatusRows } from '../../src/reports/itl-status.js';
import { SipPhone } from '../../src/sim/sip-ua/user-agent.js';
import type { Call } from '../../src/sim/sip-ua/calls.js';
import { SipUaError, SipUaErrorCode } from '../../src/sim/sip-ua/errors.js';
import { addLineUser, makeState, startDaemon } from './interop/harness.js';
import { addPhoneWithLsc } from './lsc.js';

test('two simulated phones: TLS + digest + ITL report, SRTP call both ways through sbd, BYE, unregister', {
  timeout: 180_000,
}, async () => {
  const made = makeState();
  const store = made.state.store;
  // Phone A's profile asks SHA-256 first (per-profile challenge algorithms); phone B's ('Authenticated Profile')
  // has digest off, so its LSC over TLS alone authenticates it.
  store.putSecurityProfile({
    name: 'Encrypted Digest',
    deviceSecurityMode: 'encrypted',
    tftpEncryptedConfig: true,
    transport: 'tls',
    digestAuth: true,
    digestAlgorithms: ['SHA-256', 'MD5'],
  });
  addLineUser(made.state, 'phone-a', 'pw-a');
  const lscA = addPhoneWithLsc(made.state, 'SEP00AABBCC1001', '1001', 'Encrypted Digest', 'phone-a');
  const lscB = addPhoneWithLsc(made.state, 'SEP00AABBCC1002', '1002');
  const itl = store.listServerItlHashes()[0]!.sha256Hex;
  const cm = store.currentCertificate('CallManager', 'sbd1')!.pem;
  const h = await startDaemon({}, made);
  const phones: SipPhone[] = [];
  try {
    const flow = (lsc: { cert: string; key: string }) => ({
      transport: 'tls' as const,
      host: '127.0.0.1',
      port: h.ports.tls!,
      ca: cm,
      ...lsc,
    });
    let incoming: (c: Call) => void = () => {};
    const gotCall = new Promise<Call>((resolve) => {
      incoming = resolve;
    });
    const a = await SipPhone.connect({
      flow: flow(lscA),
      line: '1001',
      credentials: { username: 'phone-a', password: 'pw-a' },
      itlSha256: itl,
    });
    const b = await SipPhone.connect({ flow: flow(lscB), line: '1002', itlSha256: 'ee'.repeat(32), onCall: (c) => incoming(c) });
    phones.push(a, b);

    const ra = await a.register();
    assert.equal(ra.status, 200);
    assert.equal((await b.register()).status, 200);
    const rows = itlStatusRows(store);
    assert.equal(rows.find((r) => r.device === 'SEP00AABBCC1001')!.status, 'Match');
    assert.equal(rows.find((r) => r.device === 'SEP00AABBCC1002')!.status, 'MisMatch');

    // Wrong password: a typed refusal, not a hang.
    const bad = await SipPhone.connect({ flow: flow(lscA), line: '1001', credentials: { username: 'phone-a', password: 'nope' } });
    phones.push(bad);
    await assert.rejects(bad.register(), (e: unknown) => e instanceof SipUaError && e.code === 'ERR_SIM_SIP_AUTH');

    const call = await a.call('1002');
    const answered = await gotCall;
    assert.equal(call.suite, 'AEAD_AES_256_GCM', 'the highest suite of the call priority');
    assert.equal(answered.suite, call.suite);
    assert.equal(call.securityIndication, 'Encrypted', 'caller told the call is secure (2xx Call-Info)');
    assert.equal(answered.securityIndication, 'Encrypted', 'callee told the call is secure (INVITE Call-Info)');
    await answered.confirmed;

    await Promise.all([call.media.sendTone(15, 5), answered.media.sendTone(15, 5)]);
    await Promise.all([call.media.waitForPackets(15), answered.media.waitForPackets(15)]);
    assert.deepEqual(call.media.stats.refused, {});
    assert.deepEqual(answered.media.stats.refused, {});
    assert.equal(answered.media.stats.lastPayload!.length, 160, 'a decrypted 20 ms G.711 frame');

    const bye = await answered.hangup();
    assert.equal(bye.status, 200);
    assert.equal(await call.ended, 'remote-bye');
    assert.equal(await answered.ended, 'local-bye');

    await a.register(0);
    assert.equal(store.getDeviceItlHash('SEP00AABBCC1001'), undefined, 'the report goes with the last binding');
  } finally {
    for (const p of phones) p.close();
    await h.close();
  }
});

test('Block Unencrypted Calls: an answer that drops SRTP is refused — callee gets ACK + BYE, caller 488', {
  timeout: 180_000,
}, async () => {
  const made = makeState();
  addLineUser(made.state, 'u7001', 'pw-1');
  addLineUser(made.state, 'u7002', 'pw-2');
  made.state.store.setParam('BlockUnencryptedCalls', 'true');
  const h = await startDaemon({}, made);
  const phones: SipPhone[] = [];
  try {
    const flow = { transport: 'tls' as const, host: '127.0.0.1', port: h.ports.tls! };
    let incoming: (c: Call) => void = () => {};
    const gotCall = new Promise<Call>((resolve) => {
      incoming = resolve;
    });
    const caller = await SipPhone.connect({ flow, line: 'u7001', credentials: { username: 'u7001', password: 'pw-1' } });
    // A callee that answers with plain RTP whatever it is offered (no suite of its own).
    const callee = await SipPhone.connect({
      flow,
      line: 'u7002',
      credentials: { username: 'u7002', password: 'pw-2' },
      suites: [],
      onCall: (c) => incoming(c),
    });
    phones.push(caller, callee);
    await caller.register();
    await callee.register();
    await assert.rejects(
      caller.call('u7002'),
      (e: unknown) => e instanceof SipUaError && e.code === SipUaErrorCode.refused && e.status === 488,
    );
    const answered = await gotCall;
    assert.equal(answered.suite, undefined, 'the callee answered RTP');
    await answered.confirmed; // sbd's ACK for the callee's 2xx
    assert.equal(await answered.ended, 'remote-bye', 'sbd hung the callee up');
    assert.equal(caller.calls.size, 0);
  } finally {
    for (const p of phones) p.close();
    await h.close();
  }
});
