/**
 * Issue 16 row 3: digest passwords cannot be guessed without limit, and no answer tells a right password from a
 * wrong one or a known user from an unknown one.
 *  - failures are counted per credential (username and realm) whatever the To user or the source address, and
 *    the store's lockout policy (CredentialLockoutThreshold / CredentialLockoutMinutes) blocks it; per source
 *    address too; an account the store has locked is refused over SIP as well;
 *  - one nonce serves one guess (nonce-count tracked on failure too);
 *  - right credentials for an AOR the user does not own, or an unknown AOR, get the same 401 as a wrong password;
 *  - a blocked key is never evicted by a flood of other keys;
 *  - Proxy-Authorization failures on INVITE are counted, and an unknown From line gets the same 407 as a known one.
 * On the old code rotating the To user gave unlimited guesses (the key was source|To-user), the right password
 * answered 404/403 instead of 401, one nonce served every guess, 100,000 other keys evicted a block, the router
 * said "not a line of this cluster" (403) and never counted a wrong Proxy-Authorization.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DigestServer, answerChallenge } from '../../src/sip/core/auth/digest.js';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import type { SipRequest, SipResponse } from '../../src/sip/core/messages/message.js';
import { AttemptLimiter } from '../../src/sip/auth/attempt-limiter.js';
import { Registrar } from '../../src/sip/registrar/registrar.js';
import { Router } from '../../src/sip/routing/router.js';
import { StoreRoutingDirectory } from '../../src/daemons/adapters/sip-store.js';
import { assertStatus, authorization, register, registerWithAuth, registrarSetup, T0, udp } from './row-sip-helpers.js';

test('row 3: rotating the To user does not reset the count: the credential locks after CredentialLockoutThreshold', () => {
  const r = registrarSetup();
  try {
    const threshold = r.store.getIntParam('CredentialLockoutThreshold');
    assert.ok(threshold > 0 && threshold <= 10, `a lockout threshold is set by default (${threshold})`);
    for (let i = 0; i < threshold; i++) {
      // Each from its own address and for another To user; the one reaching the threshold is answered 403.
      assertStatus(
        registerWithAuth(r, `to-${i}`, 'ph1000', `guess-${i}`, [], T0, udp(`127.0.1.${i + 1}`)),
        i < threshold - 1 ? 401 : 403,
        `guess ${i}`,
      );
    }
    // Blocked now: from yet another address, for its own number, even with the right password.
    const locked = registerWithAuth(r, '1000', 'ph1000', 'pw-ph1000', ['Contact: <sip:1000@127.0.0.1:5062>'], T0 + 1000, udp('127.0.2.1'));
    assertStatus(locked, 403, 'locked credential');
    assert.match(locked.reason, /too many failed/);
    assert.equal(r.registrar.bindings.lookup('1000', T0 + 1000).length, 0);
    // CredentialLockoutMinutes later it works again.
    const minutes = r.store.getIntParam('CredentialLockoutMinutes');
    assertStatus(
      registerWithAuth(
        r,
        '1000',
        'ph1000',
        'pw-ph1000',
        ['Contact: <sip:1000@127.0.0.1:5062>'],
        T0 + minutes * 60_000 + 2000,
        udp('127.0.2.1'),
      ),
      200,
      'after the lockout',
    );
  } finally {
    r.done();
  }
});

test('row 3: the same answer for a wrong password, an unknown user, an unknown AOR and an AOR the user does not own', () => {
  const r = registrarSetup();
  try {
    const answers = [
      registerWithAuth(r, '1000', 'ph1000', 'wrong-password', [], T0, udp('127.0.3.1')),
      registerWithAuth(r, '1000', 'nobody', 'whatever-pw', [], T0, udp('127.0.3.2')),
      registerWithAuth(r, 'no-such-aor', 'alice', 'pw-alice', [], T0, udp('127.0.3.3')),
      registerWithAuth(r, '1000', 'alice', 'pw-alice', [], T0, udp('127.0.3.4')),
    ];
    const shape = (res: SipResponse) =>
      `${res.status} ${res.reason} ${res
        .getAll('WWW-Authenticate')
        .map((c) => c.replace(/nonce="[^"]+"/, 'nonce=N'))
        .join('|')}`;
    assert.deepEqual(new Set(answers.map(shape)).size, 1, answers.map(shape).join('\n'));
    assert.equal(answers[0]!.status, 401);
  } finally {
    r.done();
  }
});

test('row 3: one nonce serves one guess: after a wrong answer even the right password on that nonce is refused', () => {
  const r = registrarSetup();
  try {
    const first = r.registrar.handleRegister(register('1000', ['Contact: <sip:1000@127.0.0.1:5062>']), udp(), T0).response;
    const challenge = first.get('WWW-Authenticate')!;
    const send = (password: string, nc: number) =>
      r.registrar.handleRegister(
        register('1000', ['Contact: <sip:1000@127.0.0.1:5062>', `Authorization: ${authorization(challenge, 'ph1000', password, nc)}`]),
        udp(),
        T0,
      ).response;
    assertStatus(send('guess-1', 1), 401, 'wrong');
    assertStatus(send('pw-ph1000', 2), 401, 'right password on a spent nonce');
    assert.equal(r.registrar.bindings.lookup('1000', T0).length, 0);
    assertStatus(registerWithAuth(r, '1000', 'ph1000', 'pw-ph1000', ['Contact: <sip:1000@127.0.0.1:5062>'], T0), 200, 'a fresh nonce');
  } finally {
    r.done();
  }
});

test('row 3: one source guessing many usernames is blocked by its address; an account the store locked is refused', () => {
  const r = registrarSetup({ gate: { perSource: { maxFailures: 20 } } });
  try {
    const src = udp('127.0.4.1');
    for (let i = 0; i < 20; i++) registerWithAuth(r, '1000', `user-${i}`, 'guess-pw', [], T0, src);
    const res = r.registrar.handleRegister(register('1000', ['Contact: <sip:x@127.0.4.1:5062>']), src, T0 + 1000).response;
    assertStatus(res, 403, 'source blocked before any check');
    // Another source is not affected.
    assertStatus(registerWithAuth(r, '1000', 'ph1000', 'pw-ph1000', ['Contact: <sip:1000@127.0.0.1:5062>'], T0 + 1000), 200, 'the phone');
    // The store locked alice after failed logins elsewhere (CredentialLockoutThreshold): SIP refuses her too.
    for (let i = 0; i < r.store.getIntParam('CredentialLockoutThreshold'); i++) r.store.recordLoginResult('alice', false);
    assert.ok(r.store.isUserLocked('alice'));
    assertStatus(
      registerWithAuth(r, 'alice', 'alice', 'pw-alice', ['Contact: <sip:alice@127.0.0.1:5070>'], Date.now(), udp('127.0.5.1')),
      403,
      'store-locked account',
    );
  } finally {
    r.done();
  }
});

test('row 3: 100,000 distinct failing keys never evict an active block', () => {
  const l = new AttemptLimiter({ maxFailures: 3, windowSeconds: 60, blockSeconds: 300, maxKeys: 1000 });
  for (let i = 0; i < 3; i++) l.recordFailure('victim-guessed', T0);
  assert.equal(l.isBlocked('victim-guessed', T0), true);
  for (let i = 0; i < 100_000; i++) l.recordFailure(`k${i}`, T0 + 1);
  assert.equal(l.isBlocked('victim-guessed', T0 + 2), true, 'the block survives the flood');
  assert.ok(l.trackedKeys <= 1000 + 100_000, 'bounded');
  assert.equal(l.isBlocked('victim-guessed', T0 + 301_000), false, 'and ends on time');
});

test('row 3: wrong Proxy-Authorization on INVITE is counted; an unknown From line is challenged like a known one', () => {
  const r = registrarSetup();
  try {
    const digest = new DigestServer({ realm: r.realm, secret: Buffer.alloc(32, 5) });
    const registrar = new Registrar({ digest, directory: r.directory });
    const router = new Router({ registrar, directory: r.directory, routing: new StoreRoutingDirectory(r.store), digest }, [
      { transport: 'udp', host: '127.0.0.1', port: 5060 },
    ]);
    const invite = (from: string, extra: string[] = []) =>
      parseMessage(
        Buffer.from(
          [
            'INVITE sip:1000@127.0.0.1:5060 SIP/2.0',
            `Via: SIP/2.0/UDP 127.0.0.77:5099;branch=z9hG4bK${Math.random().toString(36).slice(2)}`,
            `From: <sip:${from}@127.0.0.1>;tag=a`,
            'To: <sip:1000@127.0.0.1>',
            `Call-ID: ${Math.random()}@x`,
            'CSeq: 1 INVITE',
            'Max-Forwards: 70',
            `Contact: <sip:${from}@127.0.0.77:5099>`,
            ...extra,
            'Content-Length: 0',
            '',
            '',
          ].join('\r\n'),
        ),
      ) as SipRequest;
    const status = (a: ReturnType<Router['handleRequest']>) => (a as { response: SipResponse }).response;
    const src = udp('127.0.0.77', 5099);
    const unknown = status(router.handleRequest(invite('no-such-line'), src, T0));
    const known = status(router.handleRequest(invite('1000'), src, T0));
    assert.equal(unknown.status, 407, `unknown From: ${unknown.status} ${unknown.reason}`);
    assert.equal(`${unknown.status} ${unknown.reason}`, `${known.status} ${known.reason}`);
    // Guess the phone's password by Proxy-Authorization until the credential locks.
    const threshold = r.store.getIntParam('CredentialLockoutThreshold');
    let last: SipResponse | undefined;
    for (let i = 0; i <= threshold; i++) {
      const ch = status(router.handleRequest(invite('1000'), src, T0)).get('Proxy-Authenticate')!;
      const auth = answerChallenge({
        challenge: ch,
        method: 'INVITE',
        uri: 'sip:1000@127.0.0.1:5060',
        username: 'ph1000',
        secret: { password: `guess-${i}` },
        cnonce: 'c1',
        nc: 1,
      });
      last = status(router.handleRequest(invite('1000', [`Proxy-Authorization: ${auth}`]), src, T0));
    }
    assert.equal(last!.status, 403, 'the guessed credential is locked');
    assert.equal(registrar.gate.byCredential.isBlocked(`ph1000\u0000${r.realm}`, T0), true);
  } finally {
    r.done();
  }
});
