/**
 * Issue 16 row 4: one datagram must not stall sipd. `trimWs` (`/^[ \t]+|[ \t]+$/g`) and the header-name trim
 * (`/[ \t]+$/`) backtracked quadratically over a run of spaces that is not at the end: seven `X-A: a<8,100
 * spaces>b` headers cost ~245 ms of event loop. The codec now scans with plain loops.
 *
 * No clock here: the test counts work. (1) Every regex the codec runs while it parses the adversarial shapes
 * is trapped: none may see more than a few dozen characters of the attacker's bytes. (2) The codec's own
 * character-visit counter (`scanWork`) must grow linearly: input of size 2n costs at most ~2× input n, and a
 * small constant times the bytes. (3) The stream framer fed one byte at a time does work proportional to the
 * bytes (it used to copy and re-search the whole buffer for every byte).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../src/sip/core/messages/parser.js';
import { SipParseError } from '../../src/sip/core/messages/errors.js';
import { errorResponseFor } from '../../src/sip/core/messages/error-response.js';
import { StreamFramer } from '../../src/sip/core/messages/stream-framer.js';
import * as syntax from '../../src/sip/core/messages/syntax.js';

const base = (extra: string, from = '<sip:alice@example.com>;tag=1', cseq = '1 OPTIONS') =>
  `OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc\r\n` +
  `From: ${from}\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1@192.0.2.1\r\nCSeq: ${cseq}\r\nMax-Forwards: 70\r\n` +
  `${extra}Content-Length: 0\r\n\r\n`;
const sp = (n: number) => ' '.repeat(n);

/** Adversarial shapes, each a function of the run length n (n ≤ ~8000 keeps every line under 8192 bytes). */
const shapes: Record<string, (n: number) => string> = {
  // The issue's datagram: seven unknown headers holding a long inner run of spaces.
  'seven X-A: a<spaces>b headers': (n) => base(`X-A: a${sp(n)}b\r\n`.repeat(7)),
  'spaces inside a header name before a non-space': (n) => base(`X-A${sp(n)}B: v\r\n`),
  'spaces after an addr-spec without <> in From': (n) => base('', `sip:alice@example.com${sp(n)}x;tag=1`),
  'display name of many words': (n) => base('', `${'a '.repeat(n >> 1)}<sip:alice@example.com>;tag=1`),
  'CSeq with a run of spaces then a second word': (n) => base('', undefined, `1${sp(n)}OPTIONS${sp(n >> 1)}x`),
  'folded continuation lines of spaces': (n) => base(`X-B: a\r\n${`${sp(40)}b${sp(40)}\r\n`.repeat(Math.floor(n / 100))}`),
  'Via with spaces around every separator': (n) => base(`Via: SIP ${sp(n >> 2)}/ 2.0 /${sp(n >> 2)} UDP${sp(n >> 2)}h;x${sp(n >> 2)}y\r\n`),
  'many empty parameters': (n) => base('', `<sip:alice@example.com>${';a'.repeat(n >> 1)}`),
  'Contact list of many short entries': (n) => base(`Contact: ${Array.from({ length: n >> 5 }, (_, i) => `<sip:${i}@h>`).join(', ')}\r\n`),
  'status line reason of spaces': (n) => `SIP/2.0 200${sp(n)}x\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n${sp(n)}\r\n\r\n`,
  'URI with a long run of escapes': (n) => base('', `<sip:${'%41'.repeat(n / 3)}@example.com>;tag=1`),
};

function parseAll(text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  try {
    parseMessage(bytes);
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    errorResponseFor(bytes, err);
  }
  const f = new StreamFramer();
  for (const ev of f.push(bytes)) {
    if (ev.type === 'message') {
      try {
        parseMessage(ev.bytes, {}, 'stream');
      } catch (err) {
        if (!(err instanceof SipParseError)) throw err;
      }
    }
  }
}

/** Runs `fn` with every RegExp entry point trapped; returns the longest input any regex was run on. */
function longestRegexInput(fn: () => void): { longest: number; calls: number; sample: string } {
  const proto = RegExp.prototype as unknown as Record<string | symbol, (...a: unknown[]) => unknown>;
  const names: Array<string | symbol> = ['exec', 'test', Symbol.replace, Symbol.split, Symbol.match, Symbol.matchAll, Symbol.search];
  const saved = names.map((n) => proto[n]!);
  let longest = 0;
  let calls = 0;
  let sample = '';
  names.forEach((n, k) => {
    const orig = saved[k]!;
    proto[n] = function (this: RegExp, ...args: unknown[]) {
      const input = String(args[0]);
      calls++;
      if (input.length > longest) {
        longest = input.length;
        sample = `${String(this)} on ${input.length} chars`;
      }
      return orig.apply(this, args);
    };
  });
  try {
    fn();
  } finally {
    names.forEach((n, k) => {
      proto[n] = saved[k]!;
    });
  }
  return { longest, calls, sample };
}

test('no regex runs on more than a few dozen characters of an adversarial message', () => {
  for (const [name, shape] of Object.entries(shapes)) {
    const text = shape(8000);
    const r = longestRegexInput(() => parseAll(text));
    assert.ok(r.longest <= 64, `${name}: ${r.sample}`);
  }
});

test('the codec visits each character a bounded number of times: work(2n) ≈ 2·work(n), work ≤ 12·bytes', () => {
  const counter = (syntax as { scanWork?: { chars: number } }).scanWork;
  assert.ok(counter, 'the codec exposes its character-visit counter (scanWork)');
  const work = (text: string): number => {
    const before = counter.chars;
    parseAll(text);
    return counter.chars - before;
  };
  for (const [name, shape] of Object.entries(shapes)) {
    const small = shape(4000);
    const large = shape(8000);
    const w1 = work(small);
    const w2 = work(large);
    assert.ok(w1 > 0, `${name}: the scanners saw the input`);
    assert.ok(w2 <= 12 * large.length, `${name}: ${w2} character visits for ${large.length} bytes`);
    // Linear: doubling the run at most doubles the work (plus the fixed part of the message).
    assert.ok(w2 <= 2.2 * w1 + 2000, `${name}: ${w1} visits at n=4000 but ${w2} at n=8000`);
  }
});

test('the stream framer fed one byte at a time does work proportional to the bytes', () => {
  const header = `OPTIONS sip:b@h SIP/2.0\r\n${`X-A: ${'a'.repeat(200)}\r\n`.repeat(70)}Content-Length: 4\r\n\r\nbody`;
  const bytes = Buffer.from(header);
  const f = new StreamFramer();
  const events = [];
  for (const b of bytes) events.push(...f.push(Buffer.from([b])));
  assert.deepEqual(
    events.map((e) => e.type),
    ['message'],
  );
  const work = (f as unknown as { work?: number }).work;
  assert.equal(typeof work, 'number', 'the framer exposes the bytes it copied and searched (work)');
  // Each 1-byte push re-reads at most the 3 bytes a CRLFCRLF could straddle; growth copies add ≤ 2× (doubling).
  assert.ok(work! <= 10 * bytes.length, `${work} bytes copied/searched for ${bytes.length} bytes received`);
  // And the same message of twice the size costs about twice as much.
  const f2 = new StreamFramer();
  const bytes2 = Buffer.from(header.replace('X-A', `X-B: ${'b'.repeat(bytes.length - 10)}\r\nX-A`));
  for (const b of bytes2) f2.push(Buffer.from([b]));
  const work2 = (f2 as unknown as { work: number }).work;
  assert.ok(work2 <= 2.2 * work!, `${work} for ${bytes.length} bytes, ${work2} for ${bytes2.length}`);
});
