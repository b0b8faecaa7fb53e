/**
 * One 5061 listener for LSC phones and certificate-less clients (the daemon asks every TLS client for a
 * certificate, verifies it against the store's CAPF, and refuses nobody at the handshake): a phone whose security
 * profile is authenticated registers with the LSC CAPF issued to it; the same phone without it, or with another
 * phone's LSC, is refused 403; a line user with digest and no certificate registers over the same listener.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type TLSSocket } from 'node:tls';
import { answerChallenge } from '../../../src/sip/core/auth/digest.js';
import { parseMessage } from '../../../src/sip/core/messages/parser.js';
import { StreamFramer } from '../../../src/sip/core/messages/stream-framer.js';
import type { SipResponse } from '../../../src/sip/core/messages/message.js';
import { addPhoneWithLsc } from '../lsc.js';
import { addLineUser, makeState, startDaemon } from '../interop/harness.js';

/** A TLS connection that sends a request and yields each response as it arrives. */
async function tlsPeer(port: number, creds: { cert?: string; key?: string }) {
  const sock: TLSSocket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...creds });
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', () => resolve());
    sock.once('error', reject);
  });
  const framer = new StreamFramer();
  const queue: SipResponse[] = [];
  let wake: (() => void) | undefined;
  sock.on('data', (d: Buffer) => {
    for (const ev of framer.push(d)) if (ev.type === 'message') queue.push(parseMessage(ev.bytes, undefined, 'stream') as SipResponse);
    wake?.();
  });
  let cseq = 1;
  return {
    sock,
    async request(aor: string, extra: string[] = []): Promise<SipResponse> {
      const { port: lport } = sock.address() as { port: number };
      sock.write(
        [
          `REGISTER sip:127.0.0.1 SIP/2.0`,
          `Via: SIP/2.0/TLS 127.0.0.1:${lport};branch=z9hG4bK${randomBytes(6).toString('hex')}`,
          `From: <sip:${aor}@127.0.0.1>;tag=t${lport}`,
          `To: <sip:${aor}@127.0.0.1>`,
          `Call-ID: mtls-${aor}-${lport}`,
          `CSeq: ${cseq++} REGISTER`,
          'Max-Forwards: 70',
          `Contact: <sip:${aor}@127.0.0.1:${lport};transport=tls>`,
          'Expires: 600',
          ...extra,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      );
      while (queue.length === 0) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no response within 20 s')), 20_000);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      return queue.shift()!;
    },
  };
}

test('mutual TLS with a CAPF-issued LSC on the shared 5061 listener; refused without it; line users need none', {
  timeout: 120_000,
}, async () => {
  // The daemon reads devices and credentials from the store at start (and on generation changes, at most once a second).
  const made = makeState();
  const lsc1 = addPhoneWithLsc(made.state, 'SEP00AABBCCDD01', '2001');
  const lsc2 = addPhoneWithLsc(made.state, 'SEP00AABBCCDD02', '2002');
  addLineUser(made.state, 'u4000', 'pw-4000');
  const h = await startDaemon({}, made);
  try {
    const tls = h.ports.tls!;

    const phone = await tlsPeer(tls, lsc1);
    const ok = await phone.request('2001');
    assert.equal(ok.status, 200, ok.reason);
    const b = h.daemon.registrar.bindings.lookup('2001', Date.now());
    assert.equal(b.length, 1);
    assert.match(b[0]!.source.peerCertificate!.subject, /CN=SEP00AABBCCDD01/);
    phone.sock.destroy();

    const noCert = await tlsPeer(tls, {});
    const refused = await noCert.request('2001');
    assert.equal(refused.status, 403);
    assert.match(refused.reason, /requires TLS with the device LSC/);
    noCert.sock.destroy();

    // Phone 2's LSC verifies against CAPF but is not phone 1's.
    const other = await tlsPeer(tls, lsc2);
    assert.equal((await other.request('2001')).status, 403);
    assert.equal((await other.request('2002')).status, 200);
    other.sock.destroy();

    // A line user with digest and no certificate, on the same TLS listener.
    const user = await tlsPeer(tls, {});
    const ch = await user.request('u4000');
    assert.equal(ch.status, 401);
    const auth = answerChallenge({
      challenge: ch.getAll('WWW-Authenticate')[0]!,
      method: 'REGISTER',
      uri: 'sip:127.0.0.1',
      username: 'u4000',
      secret: { password: 'pw-4000' },
      cnonce: 'c1',
      nc: 1,
    });
    const reg = await user.request('u4000', [`Authorization: ${auth}`]);
    assert.equal(reg.status, 200, reg.reason);
    user.sock.destroy();
  } finally {
    await h.close();
  }
});

test('--require-client-cert: the listener itself refuses TLS clients without an LSC', { timeout: 120_000 }, async () => {
  const made = makeState();
  const lsc = addPhoneWithLsc(made.state, 'SEP00AABBCCDD03', '2003');
  const h = await startDaemon({ requireClientCertificate: true }, made);
  try {
    const phone = await tlsPeer(h.ports.tls!, lsc);
    assert.equal((await phone.request('2003')).status, 200);
    phone.sock.destroy();
    const anon = connect({ host: '127.0.0.1', port: h.ports.tls!, rejectUnauthorized: false });
    anon.on('error', () => {});
    anon.on('secureConnect', () => anon.write('OPTIONS sip:127.0.0.1 SIP/2.0\r\n\r\n'));
    await new Promise<void>((resolve) => anon.on('close', () => resolve()));
    assert.equal(h.daemon.stats.requests, 1, 'only the phone with its LSC got a request through');
  } finally {
    await h.close();
  }
});
