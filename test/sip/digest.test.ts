import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  answerChallenge,
  computeHa1,
  computeResponse,
  DigestCode,
  DigestError,
  DigestServer,
  parseAuthHeader,
  type DigestAlgorithm,
} from '../../src/sip/core/auth/digest.js';

test('RFC 2617 §3.5 example (MD5, qop=auth)', () => {
  const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
  assert.equal(
    computeResponse({
      algorithm: 'MD5',
      ha1,
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      method: 'GET',
      uri: '/dir/index.html',
      qop: { nc: '00000001', cnonce: '0a4f113b' },
    }),
    '6629fae49393a05397450978507c4ef1',
  );
});

test('RFC 7616 §3.9.1 examples (MD5 and SHA-256)', () => {
  const common = {
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    method: 'GET',
    uri: '/dir/index.html',
    qop: { nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' },
  };
  const md5 = computeHa1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
  assert.equal(computeResponse({ algorithm: 'MD5', ha1: md5, ...common }), '8ca523f5e9506fed4657c9700eebdbec');
  const sha = computeHa1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
  assert.equal(
    computeResponse({ algorithm: 'SHA-256', ha1: sha, ...common }),
    '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
  );
});

const secret = Buffer.alloc(32, 7);
const realm = 'sbd.example';
const users = new Map([['1001', 'secret-1001']]);
const lookupHa1 = (u: string, r: string, a: DigestAlgorithm): string | undefined =>
  users.has(u) ? computeHa1(a, u, r, users.get(u)!) : undefined;
const t0 = Date.UTC(2026, 10, 25, 12, 0, 0);

function answer(challenge: string, nc = 1, password = 'secret-1001', uri = 'sip:sbd.example'): string {
  return answerChallenge({ challenge, method: 'REGISTER', uri, username: '1001', secret: { password }, cnonce: 'abcdef0123', nc });
}

test('by default one MD5 challenge (sipp 3.6 accepts nothing else); per request the caller may offer others', () => {
  const server = new DigestServer({ realm, secret });
  const chs = server.challenges(t0);
  assert.equal(chs.length, 1);
  assert.match(chs[0]!, /^Digest realm="sbd\.example", nonce="[A-Za-z0-9_-]{43}", algorithm=MD5, qop="auth"$/);
  assert.deepEqual(
    server.challenges(t0, false, ['SHA-256', 'MD5']).map((c) => /algorithm=([^,]+)/.exec(c)![1]),
    ['SHA-256', 'MD5'],
  );
  // An answer in an algorithm the request's challenge did not offer is refused (no downgrade).
  const [sha] = server.challenges(t0, false, ['SHA-256']);
  const v = (h: string, algorithms?: ('MD5' | 'SHA-256')[]) =>
    server.verify({
      header: h,
      method: 'REGISTER',
      requestUri: 'sip:sbd.example',
      lookupHa1,
      now: t0,
      ...(algorithms ? { algorithms } : {}),
    });
  assert.equal(v(answer(sha!, 1), ['MD5']).ok, false);
  assert.equal(v(answer(sha!, 2), ['SHA-256']).ok, true);
});

test('server challenge → client answer → server accepts, for SHA-256 and MD5', () => {
  const server = new DigestServer({ realm, secret, algorithms: ['SHA-256', 'MD5'] });
  const [sha, md5] = server.challenges(t0);
  assert.match(sha!, /^Digest realm="sbd\.example", nonce="[A-Za-z0-9_-]{43}", algorithm=SHA-256, qop="auth"$/);
  for (const [i, ch] of [sha!, md5!].entries()) {
    // Both challenges carry the same nonce, so the second answer counts on from the first.
    const r = server.verify({ header: answer(ch, i + 1), method: 'REGISTER', requestUri: 'sip:sbd.example', lookupHa1, now: t0 + 1000 });
    assert.equal(r.ok, true, JSON.stringify(r));
  }
});

test('wrong password, unknown user, wrong realm, tampered nonce, URI mismatch are each refused with their reason', () => {
  const server = new DigestServer({ realm, secret });
  const [ch] = server.challenges(t0);
  const [ch2] = server.challenges(t0);
  const v = (header: string, requestUri = 'sip:sbd.example') =>
    server.verify({ header, method: 'REGISTER', requestUri, lookupHa1, now: t0 });
  assert.equal((v(answer(ch!, 1, 'guess')) as { reason: string }).reason, 'bad-response');
  assert.equal((v(answer(ch2!).replace('username="1001"', 'username="9999"')) as { reason: string }).reason, 'unknown-user');
  // Each failure spent its nonce: the same nonce with a higher count, even with the right password, is refused
  // before any digest is computed (one nonce, one guess).
  assert.equal((v(answer(ch!, 2)) as { reason: string }).reason, 'replay');
  assert.equal((v(answer(ch2!, 2)) as { reason: string }).reason, 'replay');
  // A blocked credential is refused before anything is computed.
  const [ch3] = server.challenges(t0);
  let asked = 0;
  const refused = server.verify({
    header: answer(ch3!),
    method: 'REGISTER',
    requestUri: 'sip:sbd.example',
    lookupHa1: () => {
      asked++;
      return undefined;
    },
    now: t0,
    admit: (u) => u !== '1001',
  });
  assert.deepEqual([refused.ok, (refused as { reason: string }).reason, asked], [false, 'refused', 0]);
  assert.equal((v(answer(ch!).replace('realm="sbd.example"', 'realm="other"')) as { reason: string }).reason, 'wrong-realm');
  const nonce = /nonce="([^"]+)"/.exec(ch!)![1]!;
  const forged = nonce.slice(0, -2) + (nonce.endsWith('AA') ? 'BA' : 'AA');
  assert.equal((v(answer(ch!.replace(nonce, forged))) as { reason: string }).reason, 'bad-nonce');
  assert.equal((v(answer(ch!), 'sip:other.example') as { reason: string }).reason, 'uri-mismatch');
  assert.equal((v('Basic dXNlcjpwYXNz') as { reason: string }).reason, 'not-digest');
  assert.equal((v('Digest username=') as { reason: string }).reason, 'malformed');
  assert.equal((v(answer(ch!).replace('qop=auth, ', '')) as { reason: string }).reason, 'malformed');
});

test('nonce-count replay is refused; a higher nc with the same nonce is accepted', () => {
  const server = new DigestServer({ realm, secret });
  const [ch] = server.challenges(t0);
  const v = (h: string) => server.verify({ header: h, method: 'REGISTER', requestUri: 'sip:sbd.example', lookupHa1, now: t0 });
  assert.equal(v(answer(ch!, 1)).ok, true);
  assert.deepEqual(v(answer(ch!, 1)), { ok: false, reason: 'replay', stale: false, username: '1001' });
  assert.equal(v(answer(ch!, 2)).ok, true);
  assert.deepEqual(v(answer(ch!, 2)), { ok: false, reason: 'replay', stale: false, username: '1001' });
});

test('an expired nonce with a right digest is stale (challenge again with stale=true); nonces from another secret are bad', () => {
  const server = new DigestServer({ realm, secret, nonceLifetime: 60 });
  const [ch] = server.challenges(t0);
  const late = server.verify({ header: answer(ch!), method: 'REGISTER', requestUri: 'sip:sbd.example', lookupHa1, now: t0 + 61_000 });
  assert.deepEqual(late, { ok: false, reason: 'stale', stale: true, username: '1001' });
  assert.match(server.challenges(t0 + 61_000, true)[0]!, /, stale=true$/);
  const other = new DigestServer({ realm, secret: Buffer.alloc(32, 8) });
  assert.equal(other.checkNonce(server.makeNonce(t0), t0), 'bad');
  assert.equal(server.checkNonce(server.makeNonce(t0), t0 + 30_000), 'ok');
});

test('client answers a challenge with a stored HA1 the same as with the password; parses odd auth headers', () => {
  const ch = 'Digest realm="trunk.example", nonce="abc", qop="auth,auth-int", algorithm=MD5, opaque="xyz"';
  const withPw = answerChallenge({
    challenge: ch,
    method: 'INVITE',
    uri: 'sip:1@trunk.example',
    username: 'u',
    secret: { password: 'p' },
    cnonce: '01',
    nc: 1,
  });
  const withHa1 = answerChallenge({
    challenge: ch,
    method: 'INVITE',
    uri: 'sip:1@trunk.example',
    username: 'u',
    secret: { ha1: computeHa1('MD5', 'u', 'trunk.example', 'p') },
    cnonce: '01',
    nc: 1,
  });
  assert.equal(withPw, withHa1);
  assert.match(withPw, /qop=auth, nc=00000001, cnonce="01", opaque="xyz"$/);
  const parsed = parseAuthHeader(withPw);
  assert.equal(
    parsed.params.get('response'),
    computeResponse({
      algorithm: 'MD5',
      ha1: computeHa1('MD5', 'u', 'trunk.example', 'p'),
      nonce: 'abc',
      method: 'INVITE',
      uri: 'sip:1@trunk.example',
      qop: { nc: '00000001', cnonce: '01' },
    }),
  );
  assert.throws(
    () =>
      answerChallenge({
        challenge: 'Digest realm="r", nonce="n", algorithm=SHA-512-256',
        method: 'X',
        uri: 'sip:a',
        username: 'u',
        secret: { password: 'p' },
        cnonce: '1',
        nc: 1,
      }),
    (e: unknown) => e instanceof DigestError && e.code === DigestCode.algorithm,
  );
  assert.deepEqual([...parseAuthHeader('NoOneKnowsThisScheme opaque-data=here').params], [['opaque-data', 'here']]);
});

test('two challenges in the same second carry different nonces, and both phones authenticate (nc=1 each)', async () => {
  const { DigestServer, answerChallenge } = await import('../../src/sip/core/auth/digest.js');
  const { createHash } = await import('node:crypto');
  const server = new DigestServer({ realm: 'ccmsipline', secret: Buffer.alloc(32, 9), algorithms: ['MD5'] });
  const now = 1_800_000_000_000;
  const [c1] = server.challenges(now);
  const [c2] = server.challenges(now);
  assert.notEqual(c1, c2);
  const ha1 = (u: string) => createHash('md5').update(`${u}:ccmsipline:secret`).digest('hex');
  for (const [user, challenge] of [
    ['alice', c1!],
    ['bob', c2!],
  ] as const) {
    const header = answerChallenge({
      challenge,
      username: user,
      secret: { ha1: ha1(user) },
      method: 'REGISTER',
      uri: 'sip:sbd',
      cnonce: 'abcdef01',
      nc: 1,
    });
    const r = server.verify({ header, method: 'REGISTER', requestUri: 'sip:sbd', lookupHa1: (u) => ha1(u), now });
    assert.equal(r.ok, true, `${user}: ${JSON.stringify(r)}`);
  }
});

test('the nonce MAC is HMAC-SHA-256: RFC 4231 test cases 1, 2 and 6 (key longer than a block), and the same bytes as createHmac', async () => {
  const { createHmac, randomBytes } = await import('node:crypto');
  const { hmacSha256 } = await import('../../src/sip/core/auth/digest.js');
  const c1 = hmacSha256(Buffer.alloc(20, 0x0b))(Buffer.from('Hi There'));
  assert.equal(c1.toString('hex'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
  const c2 = hmacSha256(Buffer.from('Jefe'))(Buffer.from('what do ya want for nothing?'));
  assert.equal(c2.toString('hex'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  const c6 = hmacSha256(Buffer.alloc(131, 0xaa))(Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'));
  assert.equal(c6.toString('hex'), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  for (let i = 0; i < 50; i++) {
    const key = randomBytes(1 + (i % 90));
    const m = randomBytes(i * 3);
    assert.deepEqual(hmacSha256(key)(m), createHmac('sha256', key).update(m).digest());
  }
});
