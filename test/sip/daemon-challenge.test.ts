/**
 * The REGISTER challenge is stateless (RFC 3261 §8.2.7), everything else keeps its transaction: over real UDP to a
 * real daemon, a retransmitted REGISTER without credentials gets a fresh challenge and leaves no transaction behind;
 * a REGISTER with a wrong answer keeps its transaction, so its retransmission gets the same bytes again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { answerChallenge } from '../../src/sip/core/auth/digest.js';
import { addLineUser, makeState, startDaemon } from './interop/harness.js';

test('REGISTER: challenge sent statelessly (no transaction kept, fresh nonce on a retransmission); a failed answer is stateful', async () => {
  const made = makeState();
  addLineUser(made.state, 'alice', 'secret-1');
  const h = await startDaemon({}, made);
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  const exchange = async (bytes: string): Promise<string> => {
    const got = once(sock, 'message');
    sock.send(Buffer.from(bytes), h.ports.udp, '127.0.0.1');
    return String(((await got) as [Buffer])[0]);
  };
  const register = (cseq: number, branch: string, auth?: string) =>
    [
      `REGISTER sip:127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:alice@127.0.0.1>;tag=a1`,
      `To: <sip:alice@127.0.0.1>`,
      'Call-ID: stateless-challenge@test',
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:alice@127.0.0.1:${port}>`,
      'Expires: 600',
      ...(auth ? [`Authorization: ${auth}`] : []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  const nonceOf = (res: string) => /nonce="([^"]+)"/.exec(res)?.[1];
  try {
    const first = register(1, 'c1');
    const a = await exchange(first);
    const b = await exchange(first);
    assert.match(a, /^SIP\/2.0 401 /);
    assert.match(b, /^SIP\/2.0 401 /);
    assert.notEqual(nonceOf(a), nonceOf(b), 'the retransmission was answered afresh, not from a transaction');
    assert.equal(h.daemon.liveTransactions, 0, 'no transaction waits Timer J for a challenge');

    const challenge = /WWW-Authenticate: (.*)\r\n/.exec(b)![1]!;
    const wrong = register(
      2,
      'c2',
      answerChallenge({
        challenge,
        method: 'REGISTER',
        uri: 'sip:127.0.0.1',
        username: 'alice',
        secret: { password: 'nope' },
        cnonce: 'c0ffee',
        nc: 1,
      }),
    );
    const w1 = await exchange(wrong);
    const w2 = await exchange(wrong);
    assert.match(w1, /^SIP\/2.0 401 /);
    assert.equal(w2, w1, 'a retransmitted failed answer gets the same response bytes from its transaction');
    assert.equal(h.daemon.liveTransactions, 1);

    // The failed answer spent its nonce (one nonce, one guess): the right answer uses the other challenge's nonce.
    const fresh = /WWW-Authenticate: (.*)\r\n/.exec(a)![1]!;
    const right = register(
      3,
      'c3',
      answerChallenge({
        challenge: fresh,
        method: 'REGISTER',
        uri: 'sip:127.0.0.1',
        username: 'alice',
        secret: { password: 'secret-1' },
        cnonce: 'c0ffee',
        nc: 1,
      }),
    );
    assert.match(await exchange(right), /^SIP\/2.0 200 /);
  } finally {
    sock.close();
    await h.close();
  }
});
