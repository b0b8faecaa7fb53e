import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { StreamFramer, type FramerEvent } from '../../src/sip/core/messages/stream-framer.js';

const load = (n: string): Buffer => readFileSync(new URL(`./rfc4475/${n}.dat`, import.meta.url));
// Three messages with bodies and compact Content-Length, plus keep-alives in between.
const stream = Buffer.concat([
  load('wsinv'),
  Buffer.from('\r\n\r\n'),
  load('esc01'),
  load('longreq'),
  Buffer.from('\r\n'),
  load('unreason'),
]);

function summary(events: FramerEvent[]): string[] {
  return events.map((e) =>
    e.type === 'message'
      ? `message:${e.bytes.length}:${e.bytes.subarray(0, 12).toString()}`
      : e.type === 'error'
        ? `error:${e.error.status}`
        : e.type,
  );
}

function feed(chunks: Buffer[]): string[] {
  const f = new StreamFramer();
  return summary(chunks.flatMap((c) => f.push(c)));
}

const whole = feed([stream]);

test('frames messages by Content-Length and reports keep-alive ping and pong', () => {
  assert.deepEqual(whole, [
    `message:${load('wsinv').length}:INVITE sip:v`,
    'ping',
    `message:${load('esc01').length}:INVITE sip:s`,
    `message:${load('longreq').length}:INVITE sip:u`,
    'pong',
    `message:${load('unreason').length}:SIP/2.0 200 `,
  ]);
});

test('split at every single byte boundary gives the same events', () => {
  for (let i = 1; i < stream.length; i++) {
    assert.deepEqual(feed([stream.subarray(0, i), stream.subarray(i)]), whole, `split at ${i}`);
  }
});

test('one byte at a time and 200 random splittings give the same events', () => {
  assert.deepEqual(feed([...stream].map((b) => Buffer.from([b]))), whole);
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < stream.length; ) {
      const len = 1 + rand(300);
      chunks.push(stream.subarray(at, at + len));
      at += len;
    }
    assert.deepEqual(feed(chunks), whole, `round ${round}`);
  }
});

test('missing, negative, duplicated or oversized Content-Length fails the stream for good', () => {
  const head = 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\n';
  assert.deepEqual(feed([Buffer.from(head + '\r\n')]), ['error:400']);
  assert.deepEqual(feed([load('ncl')]), ['error:400']);
  assert.deepEqual(feed([load('mcl01')]), ['error:400']);
  const big = new StreamFramer({ maxBodyBytes: 10 });
  assert.deepEqual(summary(big.push(Buffer.from(head + 'l: 11\r\n\r\n'))), ['error:413']);
  const f = new StreamFramer({ maxHeaderBytes: 64 });
  assert.deepEqual(summary(f.push(Buffer.alloc(65, 'a'))), ['error:513']);
  assert.deepEqual(f.push(load('esc01')), [], 'a failed framer stays failed');
  assert.deepEqual(feed([Buffer.from('\r\rxx')]), ['error:400']);
});

test('a message waits for its whole body; buffered bytes are bounded by the limits', () => {
  const f = new StreamFramer();
  const m = load('esc01');
  assert.deepEqual(f.push(m.subarray(0, m.length - 1)), []);
  assert.equal(f.buffered, m.length - 1);
  assert.equal(f.push(m.subarray(m.length - 1)).length, 1);
  assert.equal(f.buffered, 0);
});
