/**
 * DigestGate and AttemptLimiter on their own (sans-I/O, a fixed clock): what counts as a failure (a wrong or
 * unknown answer, right credentials that do not own the request) and what does not (no credentials, a stale or
 * spent nonce, a header that cannot be read); the store's lockout policy (0 = never); per-source blocks; a full
 * block table records no new block but evicts none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerChallenge, computeHa1, DigestServer, type DigestAlgorithm } from '../../../src/sip/core/auth/digest.js';
import { AttemptLimiter } from '../../../src/sip/auth/attempt-limiter.js';
import { DigestGate, type LockoutPolicy } from '../../../src/sip/auth/digest-gate.js';
import type { MessageSource } from '../../../src/sip/transports/types.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const realm = 'ccmsipline';
const src = (address: string): MessageSource => ({ transport: 'udp', address, port: 5060 });

function gate(lockout: LockoutPolicy = { threshold: 3, minutes: 10 }, perSourceMax = 100) {
  const digest = new DigestServer({ realm, secret: Buffer.alloc(32, 4), nonceLifetime: 60 });
  const lookupHa1 = (u: string, r: string, a: DigestAlgorithm) => (u === 'alice' ? computeHa1(a, u, r, 'right-pw') : undefined);
  const g = new DigestGate({ digest, lookupHa1, lockout: () => lockout }, { perSource: { maxFailures: perSourceMax } });
  // Nonces are bound to the address the challenge went to: an answer is made for the address it is sent from.
  const answer = (username: string, password: string, now = T0, nc = 1, from = '127.0.0.1') =>
    answerChallenge({
      challenge: g.challenges(now, false, undefined, src(from))[0]!,
      method: 'REGISTER',
      uri: 'sip:sbd',
      username,
      secret: { password },
      cnonce: 'c',
      nc,
    });
  const check = (header: string | undefined, from = '127.0.0.1', now = T0, owns: (u: string) => boolean = (u) => u === 'alice') =>
    g.check({ header, method: 'REGISTER', requestUri: 'sip:sbd', source: src(from), now, owns });
  return { g, digest, answer, check };
}

test('failures: wrong password, unknown user and "not the owner" count; no credentials, stale and unreadable do not', () => {
  const t = gate({ threshold: 100, minutes: 10 });
  assert.deepEqual(t.check(undefined), { ok: false, answer: 'challenge' });
  assert.deepEqual(t.check('Digest garbage'), { ok: false, answer: 'challenge' });
  const old = t.answer('alice', 'right-pw', T0 - 120_000);
  assert.equal((t.check(old) as { answer: string }).answer, 'stale');
  assert.equal(t.g.byCredential.trackedKeys + t.g.bySource.trackedKeys, 0, 'nothing counted so far');
  assert.equal((t.check(t.answer('alice', 'wrong')) as { answer: string }).answer, 'challenge');
  assert.equal((t.check(t.answer('mallory', 'x')) as { answer: string }).answer, 'challenge');
  assert.equal((t.check(t.answer('alice', 'right-pw'), '127.0.0.1', T0, () => false) as { answer: string }).answer, 'challenge');
  assert.equal(t.g.byCredential.trackedKeys, 2, 'alice and mallory');
  assert.deepEqual(t.check(t.answer('alice', 'right-pw')), { ok: true, username: 'alice' });
  assert.equal(t.g.byCredential.trackedKeys, 1, 'a success clears alice (consecutive failures, as the store counts)');
});

test('the store lockout policy: threshold failures block the credential for its minutes; threshold 0 never blocks', () => {
  const t = gate({ threshold: 3, minutes: 10 });
  for (let i = 0; i < 2; i++)
    assert.equal(
      (t.check(t.answer('alice', `g${i}`, T0, 1, `127.0.0.${i + 1}`), `127.0.0.${i + 1}`) as { answer: string }).answer,
      'challenge',
    );
  assert.equal((t.check(t.answer('alice', 'g2', T0, 1, '127.0.0.3'), '127.0.0.3') as { answer: string }).answer, 'blocked');
  assert.equal(
    (t.check(t.answer('alice', 'right-pw', T0, 1, '127.0.0.9'), '127.0.0.9') as { answer: string }).answer,
    'blocked',
    'even right, from elsewhere',
  );
  assert.deepEqual(t.check(t.answer('alice', 'right-pw', T0 + 600_001, 1, '127.0.0.9'), '127.0.0.9', T0 + 600_001), {
    ok: true,
    username: 'alice',
  });

  const never = gate({ threshold: 0, minutes: 10 });
  for (let i = 0; i < 50; i++) never.check(never.answer('alice', `g${i}`, T0, 1, `127.0.1.${i}`), `127.0.1.${i}`);
  assert.deepEqual(never.check(never.answer('alice', 'right-pw', T0, 1, '127.0.2.1'), '127.0.2.1'), { ok: true, username: 'alice' });
});

test('per source: an address that failed too often is refused before anything is read', () => {
  const t = gate({ threshold: 0, minutes: 10 }, 5);
  for (let i = 0; i < 5; i++) t.check(t.answer(`user${i}`, 'x', T0, 1, '127.0.0.7'), '127.0.0.7');
  assert.deepEqual(t.check(undefined, '127.0.0.7'), { ok: false, answer: 'blocked' });
  assert.equal(t.g.sourceBlocked(src('127.0.0.7'), T0), true);
  assert.deepEqual(t.check(t.answer('alice', 'right-pw', T0, 1, '127.0.0.8'), '127.0.0.8'), { ok: true, username: 'alice' });
});

test('nonces are bound to the address they were sent to: an answer from elsewhere is refused and counts for nobody', () => {
  const t = gate({ threshold: 3, minutes: 10 });
  const fetchedBy = t.answer('alice', 'right-pw', T0, 1, '127.0.0.66');
  assert.deepEqual(t.check(fetchedBy, '127.0.0.1'), { ok: false, answer: 'challenge' }, 'even the right password');
  for (let i = 0; i < 10; i++) t.check(t.answer('alice', `g${i}`, T0, 1, '127.0.0.66'), '127.0.0.1');
  assert.equal(t.g.byCredential.trackedKeys + t.g.bySource.trackedKeys, 0, 'spoofed guesses are not counted');
});

test('strangers cannot lock a phone out: the credential stays open from an address it authenticated from', () => {
  const t = gate({ threshold: 3, minutes: 10 });
  assert.deepEqual(t.check(t.answer('alice', 'right-pw', T0, 1, '127.0.0.10'), '127.0.0.10'), { ok: true, username: 'alice' });
  for (let i = 0; i < 3; i++) t.check(t.answer('alice', `g${i}`, T0, 1, '127.0.0.66'), '127.0.0.66');
  assert.equal(
    (t.check(t.answer('alice', 'right-pw', T0, 1, '127.0.0.66'), '127.0.0.66') as { answer: string }).answer,
    'blocked',
    'locked for the stranger',
  );
  assert.equal(
    (t.check(t.answer('alice', 'right-pw', T0, 1, '127.0.0.11'), '127.0.0.11') as { answer: string }).answer,
    'blocked',
    'and for any new address',
  );
  assert.deepEqual(
    t.check(t.answer('alice', 'right-pw', T0, 1, '127.0.0.10'), '127.0.0.10'),
    { ok: true, username: 'alice' },
    'the phone re-registers',
  );
  // The phone's own failures count for its address only (the per-source limit), never to lock the credential further.
  const before = t.g.byCredential.trackedKeys;
  t.check(t.answer('alice', 'typo', T0, 1, '127.0.0.10'), '127.0.0.10');
  assert.equal(t.g.byCredential.trackedKeys, before);
});

test('AttemptLimiter: a full block table records no new block and evicts none; expired blocks make room', () => {
  const l = new AttemptLimiter({ maxFailures: 1, blockSeconds: 10, maxKeys: 10, maxBlocked: 2 });
  assert.equal(l.recordFailure('a', T0), true);
  assert.equal(l.recordFailure('b', T0), true);
  assert.equal(l.recordFailure('c', T0), false, 'no room: not blocked yet');
  assert.equal(l.overflows, 1);
  assert.deepEqual(
    ['a', 'b', 'c'].map((k) => l.isBlocked(k, T0 + 1)),
    [true, true, false],
  );
  assert.equal(l.recordFailure('c', T0 + 10_001), true, 'blocked once the first blocks ended');
  assert.equal(l.blockedKeys, 1);
});
