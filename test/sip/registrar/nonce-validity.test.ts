/**
 * Nonce validity per security profile (issue 18 item 7): sbd-sipd (SipDaemon over a real store, UDP on loopback,
 * its clock given by the test) challenges a phone, and the phone answers that challenge some seconds later. A
 * phone whose profile says 30 s is told stale=true when it answers after 40 s and is registered when it answers
 * after 20 s; a phone on the default profile (300 s) is registered after 40 s and told stale after 301 s; a
 * 600 s profile keeps its nonce good past 300 s (sbd-sipd's DigestServer lifetime is only the ceiling). The
 * value is read per request: a profile edited while the daemon runs applies to the next REGISTER. Counted, not
 * timed: the daemon's clock is the test's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { answerChallenge } from '../../../src/sip/core/auth/digest.js';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import type { SipResponse } from '../../../src/sip/core/messages/message.js';
import { nonceIssuedAt } from '../../../src/sip/auth/digest-gate.js';
import { DigestServer } from '../../../src/sip/core/auth/digest.js';
import { addLineUser, makeState, startDaemon } from '../interop/harness.js';

const UNIVERSAL = 'Universal Device Template - Model-independent Security Profile';

test('nonceIssuedAt reads the issue time DigestServer writes into a nonce (its layout, checked here)', () => {
  const server = new DigestServer({ realm: 'r', secret: Buffer.alloc(32, 1) });
  for (const t of [0, 1_700_000_000_123, 4_102_444_800_999])
    assert.equal(nonceIssuedAt(server.makeNonce(t, '127.0.0.1')), Math.floor(t / 1000));
  for (const bad of ['', 'abc', '!'.repeat(43), Buffer.alloc(31).toString('base64url')]) assert.equal(nonceIssuedAt(bad), undefined);
});

test("sbd-sipd: the digest nonce lives as long as the phone's security profile says", async (t) => {
  const made = makeState();
  const { store } = made.state;
  const base = { deviceSecurityMode: 'non-secure', tftpEncryptedConfig: false, transport: 'tcp+udp', digestAuth: true } as const;
  store.putSecurityProfile({ name: 'Short Nonce', ...base, nonceValiditySeconds: 30 });
  store.putSecurityProfile({ name: 'Long Nonce', ...base, nonceValiditySeconds: 600 });
  const phones = [
    { dn: '4001', name: 'SEP00AABBCC4001', profile: 'Short Nonce' },
    { dn: '4002', name: 'SEP00AABBCC4002', profile: UNIVERSAL },
    { dn: '4003', name: 'SEP00AABBCC4003', profile: 'Long Nonce' },
  ];
  for (const p of phones) {
    addLineUser(made.state, `u${p.dn}`, `pw-${p.dn}`);
    store.addDevice({ name: p.name, model: '8845', directoryNumber: p.dn, securityProfile: p.profile, digestUser: `u${p.dn}` });
  }
  let clock = Date.parse('2026-12-06T12:00:00Z');
  const h = await startDaemon({ now: () => clock }, made);
  t.after(() => h.close());
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  t.after(() => sock.close());
  const port = h.ports.udp!;
  const local = sock.address().port;
  let seq = 0;

  const send = (dn: string, auth?: string): Promise<SipResponse> =>
    new Promise((resolve) => {
      seq += 1;
      const msg = [
        'REGISTER sip:127.0.0.1 SIP/2.0',
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bKnv${seq}`,
        `From: <sip:${dn}@127.0.0.1>;tag=nv${dn}`,
        `To: <sip:${dn}@127.0.0.1>`,
        `Call-ID: nv-${dn}@test`,
        `CSeq: ${seq} REGISTER`,
        'Max-Forwards: 70',
        `Contact: <sip:${dn}@127.0.0.1:${local}>`,
        'Expires: 600',
        ...(auth ? [`Authorization: ${auth}`] : []),
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      sock.once('message', (b) => resolve(parseMessage(b) as SipResponse));
      sock.send(msg, port, '127.0.0.1');
    });

  /** Challenged at the current clock, answered `after` seconds later: the final status and whether it said stale. */
  const registerAfter = async (dn: string, after: number): Promise<{ status: number; stale: boolean }> => {
    const c = await send(dn);
    assert.equal(c.status, 401);
    const challenge = c.getAll('WWW-Authenticate').find((v) => /algorithm=MD5/.test(v))!;
    clock += after * 1000;
    const auth = answerChallenge({
      challenge,
      method: 'REGISTER',
      uri: 'sip:127.0.0.1',
      username: `u${dn}`,
      secret: { password: `pw-${dn}` },
      cnonce: `c${seq}`,
      nc: 1,
    });
    const r = await send(dn, auth);
    return { status: r.status, stale: r.getAll('WWW-Authenticate').some((v) => /stale=true/.test(v)) };
  };

  assert.deepEqual(await registerAfter('4001', 40), { status: 401, stale: true }, '30 s profile, answered after 40 s');
  assert.deepEqual(await registerAfter('4001', 20), { status: 200, stale: false }, '30 s profile, answered after 20 s');
  assert.deepEqual(await registerAfter('4002', 40), { status: 200, stale: false }, 'default profile (300 s), after 40 s');
  assert.deepEqual(await registerAfter('4002', 301), { status: 401, stale: true }, 'default profile, after 301 s');
  assert.deepEqual(await registerAfter('4003', 400), { status: 200, stale: false }, '600 s profile, after 400 s');
  assert.deepEqual(await registerAfter('4003', 601), { status: 401, stale: true }, '600 s profile, after 601 s');

  // Edited while the daemon runs: the next REGISTER uses the new value.
  store.putSecurityProfile({ name: 'Short Nonce', ...base, nonceValiditySeconds: 60 });
  clock += 5000; // past the directory's refresh interval
  assert.deepEqual(await registerAfter('4001', 40), { status: 200, stale: false }, 'after the edit to 60 s, 40 s is in time');
});
