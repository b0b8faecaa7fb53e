/**
 * Bounded fuzz of the daemon's UDP and TCP listeners: mutated and random messages (seeded PRNG, fixed counts),
 * then the daemon must still answer a valid OPTIONS on both transports, and its caches stay within their
 * bounds. No crash, no unbounded memory: the response cache and the registrar hold only what the limits allow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { startDaemon } from '../interop/harness.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

const base = (i: number) =>
  Buffer.from(
    [
      `INVITE sip:1001@127.0.0.1 SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKfz${i};rport`,
      `From: <sip:u${i}@x>;tag=a${i}`,
      `To: <sip:1001@x>`,
      `Call-ID: fz${i}@x`,
      `CSeq: ${i + 1} INVITE`,
      'Max-Forwards: 70',
      'Route: <sip:127.0.0.1;lr>',
      'Contact: <sip:u@127.0.0.1:9>',
      'Content-Type: application/sdp',
      'Content-Length: 30',
      '',
      'v=0\r\nm=audio 1 RTP/SAVP 0\r\na=x\r\n',
    ].join('\r\n'),
  );

function mutate(rand: () => number, i: number): Buffer {
  const b = Buffer.from(base(i));
  const kind = Math.floor(rand() * 5);
  if (kind === 0) for (let k = 0; k < 1 + rand() * 20; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
  if (kind === 1) return b.subarray(0, Math.floor(rand() * b.length));
  if (kind === 2) return Buffer.from(Array.from({ length: Math.floor(rand() * 1500) }, () => Math.floor(rand() * 256)));
  if (kind === 3) return Buffer.concat([b.subarray(0, 60), Buffer.alloc(Math.floor(rand() * 9000), 0x41), b.subarray(60)]);
  const methods = ['REGISTER', 'BYE', 'ACK', 'CANCEL', 'SUBSCRIBE', 'NOTIFY', 'REFER', 'OPTIONS'];
  return Buffer.from(b.toString('latin1').replace(/INVITE/g, methods[Math.floor(rand() * methods.length)]!), 'latin1');
}

const options = (branch: string) =>
  Buffer.from(
    [
      'OPTIONS sip:127.0.0.1 SIP/2.0',
      `Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK${branch};rport`,
      'From: <sip:probe@x>;tag=p',
      'To: <sip:127.0.0.1>',
      `Call-ID: ${branch}@x`,
      'CSeq: 1 OPTIONS',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );

test('UDP and TCP listeners survive 3000 mutated and random messages and keep answering', { timeout: 120_000 }, async () => {
  // The flood guard would ban this one source after its refusals; this test is about the parser behind the listeners.
  const h = await startDaemon({ maxTransactions: 500, floodGuard: false });
  const sock = createSocket('udp4');
  try {
    const rand = prng(0x5bd);
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const answers: string[] = [];
    sock.on('message', (m) => answers.push(m.toString('latin1')));
    for (let i = 0; i < 2000; i++) {
      sock.send(mutate(rand, i), h.ports.udp, '127.0.0.1');
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    // TCP: several connections, each fed fuzz split at random points; a framing error closes it, never the daemon
    for (let c = 0; c < 20; c++) {
      await new Promise<void>((resolve) => {
        const s = connect(h.ports.tcp, '127.0.0.1', () => {
          for (let i = 0; i < 50; i++) {
            const m = mutate(rand, 10_000 + c * 100 + i);
            const cut = Math.floor(rand() * m.length);
            s.write(m.subarray(0, cut));
            s.write(m.subarray(cut));
          }
          s.end();
        });
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.resume();
      });
    }
    // still alive on UDP
    const probe = new Promise<string>((resolve) =>
      sock.on('message', (m) => {
        if (m.toString().includes('probe-udp')) resolve(m.toString());
      }),
    );
    sock.send(options('probe-udp'), h.ports.udp, '127.0.0.1');
    // Answered: 200, or 503 when the fuzz filled the 500 live UDP transactions (Timer J keeps them 32 s).
    const udpAnswer = await probe;
    assert.match(udpAnswer, /^SIP\/2\.0 (200 OK|503 Service Unavailable)/);
    if (udpAnswer.includes(' 503 '))
      assert.equal((h.daemon as unknown as { transactions: { size: number } }).transactions.size, 500, '503 only when the table is full');
    // still alive on TCP
    const tcpAnswer = await new Promise<string>((resolve, reject) => {
      const s = connect(h.ports.tcp, '127.0.0.1', () => s.write(options('probe-tcp')));
      let got = '';
      s.on('data', (d) => {
        got += d;
        if (got.includes('\r\n\r\n')) {
          s.destroy();
          resolve(got);
        }
      });
      s.on('error', reject);
    });
    assert.match(tcpAnswer, /^SIP\/2\.0 (200 OK|503 Service Unavailable)/);
    if (tcpAnswer.includes(' 503 '))
      assert.equal((h.daemon as unknown as { transactions: { size: number } }).transactions.size, 500, '503 only when the table is full');
    assert.ok(answers.length > 0, 'some fuzz was answered (400s, 404s, 407s)');
    assert.equal(h.daemon.stats.errors, 0, 'no request ended in an internal error');
    assert.ok(h.daemon.udp.stats.parseErrors > 100, 'the parser refused the broken ones');
    assert.ok((h.daemon as unknown as { transactions: { size: number } }).transactions.size <= 500, 'transaction table bounded');
  } finally {
    sock.close();
    await h.close();
  }
});
