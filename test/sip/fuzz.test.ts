// Bounded fuzzing: mutated RFC 4475 messages into the parser, the stream framer and live UDP/TCP listeners.
// The only acceptable outcomes are a parsed message or a SipParseError; the listeners must keep answering and
// hold no more than their limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { once } from 'node:events';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import { SipParseError } from '../../src/sip/core/messages/errors.js';
import { StreamFramer } from '../../src/sip/core/messages/stream-framer.js';
import { errorResponseFor } from '../../src/sip/core/messages/error-response.js';
import { UdpTransport } from '../../src/sip/transports/udp-transport.js';
import { StreamTransport } from '../../src/sip/transports/stream-transport.js';

const dir = new URL('./rfc4475/', import.meta.url);
const corpus = readdirSync(dir)
  .filter((f) => f.endsWith('.dat'))
  .map((f) => readFileSync(new URL(f, dir)));
let seed = 0x5eed;
const rand = (n: number): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};
const interesting = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x2c, 0x22, 0x5c, 0x3c, 0x3e, 0x40, 0x25, 0x5b, 0x5d, 0x00, 0xff, 0x30, 0x39];

function mutate(b: Buffer): Buffer {
  const out = Buffer.from(b);
  const n = 1 + rand(6);
  let cur = out;
  for (let k = 0; k < n; k++) {
    const at = rand(Math.max(1, cur.length));
    switch (rand(4)) {
      case 0:
        cur[at] = interesting[rand(interesting.length)]!;
        break;
      case 1:
        cur = Buffer.concat([cur.subarray(0, at), cur.subarray(at + 1 + rand(20))]);
        break;
      case 2:
        cur = Buffer.concat([cur.subarray(0, at), Buffer.from([interesting[rand(interesting.length)]!]), cur.subarray(at)]);
        break;
      default: {
        const len = rand(40);
        cur = Buffer.concat([cur.subarray(0, at), cur.subarray(at, at + len), cur.subarray(at)]);
      }
    }
  }
  return cur;
}

test('parser: 20000 mutated messages either parse or throw SipParseError, never anything else', () => {
  let parsed = 0;
  let rejected = 0;
  for (let i = 0; i < 20000; i++) {
    const input = mutate(corpus[rand(corpus.length)]!);
    try {
      const m = parseMessage(input, {}, i % 2 === 0 ? 'datagram' : 'stream');
      m.contacts();
      parsed++;
    } catch (err) {
      if (!(err instanceof SipParseError)) throw new Error(`non-SipParseError on input ${input.toString('hex')}: ${String(err)}`);
      assert.ok([400, 413, 414, 505, 513].includes(err.status));
      errorResponseFor(input, err);
      rejected++;
    }
  }
  assert.ok(parsed > 100 && rejected > 1000, `both outcomes exercised (${parsed} parsed, ${rejected} rejected)`);
});

test('stream framer: mutated streams in random chunks never throw and never buffer past the limit', () => {
  for (let i = 0; i < 2000; i++) {
    const f = new StreamFramer({ maxHeaderBytes: 4096, maxBodyBytes: 4096 });
    const s = Buffer.concat([mutate(corpus[rand(corpus.length)]!), mutate(corpus[rand(corpus.length)]!)]);
    for (let at = 0; at < s.length; ) {
      const len = 1 + rand(64);
      f.push(s.subarray(at, at + len));
      at += len;
      assert.ok(f.buffered <= 4096 + 4096 + 64 + 4);
    }
  }
});

test('UDP and TCP listeners survive 2000 mutated messages each and still answer; an endless header is cut off', async () => {
  let udpSeen = 0;
  const udp = new UdpTransport(
    () => {
      udpSeen++;
    },
    { host: '127.0.0.1', port: 0 },
  );
  const { port: uport } = await udp.listen();
  const client = createSocket('udp4');
  for (let i = 0; i < 2000; i++) client.send(mutate(corpus[rand(corpus.length)]!), uport, '127.0.0.1');
  const probe = readFileSync(new URL('esc01.dat', dir));
  const before = udpSeen;
  // UDP may drop under load: resend the probe until it is seen.
  while (udpSeen === before) {
    client.send(probe, uport, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
  }
  client.close();
  await udp.close();

  let tcpSeen = 0;
  const tcp = new StreamTransport(
    () => {
      tcpSeen++;
    },
    { host: '127.0.0.1', port: 0, framer: { maxHeaderBytes: 4096 } },
  );
  const { port } = await tcp.listen();
  for (let round = 0; round < 20; round++) {
    const c = connect(port, '127.0.0.1');
    c.on('error', () => {});
    c.resume(); // read the 400s, or the server's answers back up behind an unread socket
    await once(c, 'connect');
    for (let i = 0; i < 100; i++) c.write(mutate(corpus[rand(corpus.length)]!));
    c.end();
    await new Promise<void>((r) => c.on('close', () => r()));
  }
  const endless = connect(port, '127.0.0.1');
  endless.on('error', () => {});
  await once(endless, 'connect');
  const closed = new Promise<void>((r) => endless.on('close', () => r()));
  for (let i = 0; i < 10 && !endless.destroyed; i++) endless.write(Buffer.alloc(1024, 'a'));
  await closed;
  const good = connect(port, '127.0.0.1');
  await once(good, 'connect');
  const seen = tcpSeen;
  good.write(probe);
  while (tcpSeen === seen) await new Promise((r) => setTimeout(r, 20));
  good.destroy();
  await tcp.close();
});
